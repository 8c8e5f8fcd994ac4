"""The conductor's move tasks: ``migrate_server`` (cold migration, resize) and
``live_migrate_instance`` (Nova's MigrationTask and LiveMigrationTask).

Both record the migration, hand the instance's source allocation to it, and ask the
scheduler for a destination (the requested host, still filtered, or any host but the
source), which claims the destination for the instance.  A cold move then casts
``prep_resize`` to the destination; a live one pre-checks the destination (which asks
the source) and, on a scheduler-picked host, moves on to the next alternate when the
pre-check refuses, then casts ``live_migration`` to the source.

When no destination can be used the move is undone: the claim dropped, the allocation
given back, the migration ``error``, the instance's vm_state unchanged with task_state
None and a fault, and the ``conductor_*`` event of the action failed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from testbed.compute.actions import ERROR, SUCCESS, fault_message
from testbed.compute.api_hosts import COMPUTE_BINARY, service_is_up
from testbed.compute.migrate_records import (
    MigrationRecords,
    hand_over_allocations,
    node_of,
)
from testbed.compute.migrate_rpcapi import MigrationComputeAPI
from testbed.compute.models import BlockDeviceMapping, Migration, Service
from testbed.compute.records import Event, Fault, InstanceRecords
from testbed.context import RequestContext
from testbed.exceptions import BadRequest, CloudError, NoValidHost
from testbed.scheduler import claims
from testbed.scheduler.rpcapi import SchedulerAPI

if TYPE_CHECKING:
    from testbed.service import Runtime

__all__ = ["COLD_EVENT", "LIVE_EVENT", "ConductorMigrationMixin"]

LOG = logging.getLogger(__name__)

COLD_EVENT = "conductor_migrate_server"
LIVE_EVENT = "conductor_live_migrate_instance"


class _MoveFailed(Exception):
    """The move cannot go on: the message is the instance fault's."""


class ConductorMigrationMixin:
    """The conductor's RPC methods for moves (mixed into its endpoint)."""

    runtime: Runtime
    records: InstanceRecords
    scheduler_api: SchedulerAPI

    # -- cold ------------------------------------------------------------------------------
    def migrate_server(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        task_id: str,
        flavor: dict[str, Any],
        host: str | None,
        migration_type: str,
    ) -> None:
        """Record the migration, schedule, then cast ``prep_resize`` to the destination."""
        inst = self.records.load(instance_uuid)
        if inst is None or inst["deleted"] or inst["task_id"] != task_id:
            return
        self.records.record_event(ctx, instance_uuid, Event(COLD_EVENT))
        migration = self._start_move(
            ctx,
            inst,
            migration_type=migration_type,
            status="pre-migrating",
            new_flavor_id=str(flavor.get("id") or ""),
        )
        same_host_ok = self.runtime.config.allow_resize_to_same_host and migration_type == "resize"
        try:
            chosen, _ = self._schedule(ctx, inst, flavor, host, same_host_ok=same_host_ok)
        except _MoveFailed as exc:
            self._fail_move(ctx, inst, task_id, migration["uuid"], None, str(exc), COLD_EVENT)
            return
        MigrationRecords(self.runtime).update(
            migration["uuid"],
            dest_compute=chosen["host"],
            dest_node=chosen["node"],
            dest_host=chosen.get("host_ip") or chosen["host"],
        )
        self.records.record_event(ctx, instance_uuid, Event(COLD_EVENT, SUCCESS))
        MigrationComputeAPI(self.runtime.bus).prep_resize(
            ctx, chosen["host"], instance_uuid, task_id, migration["uuid"], flavor
        )

    # -- live ------------------------------------------------------------------------------
    def live_migrate_instance(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        task_id: str,
        host: str | None,
        block_migration: bool | None,
    ) -> None:
        """Record the migration, pick and pre-check a destination, then cast
        ``live_migration`` to the source."""
        inst = self.records.load(instance_uuid)
        if inst is None or inst["deleted"] or inst["task_id"] != task_id:
            return
        self.records.record_event(ctx, instance_uuid, Event(LIVE_EVENT))
        migration = self._start_move(
            ctx, inst, migration_type="live-migration", status="accepted", new_flavor_id=None
        )
        compute = MigrationComputeAPI(self.runtime.bus)
        dest: dict[str, Any] | None = None
        try:
            if host is not None and host == inst["host"]:
                raise _MoveFailed(
                    f"Unable to migrate instance ({instance_uuid}) to current host ({host})."
                )
            self._check_up(inst["host"])
            chosen, alternates = self._schedule(ctx, inst, inst["flavor"], host)
            src_cpu = self._cpu_info(inst["host"])
            last_error = ""
            for index, candidate in enumerate([chosen, *alternates]):
                if index and not self._claim(candidate, inst):
                    continue
                try:
                    migrate_data = compute.check_can_live_migrate_destination(
                        ctx,
                        candidate["host"],
                        instance_uuid,
                        block_migration,
                        inst["host"],
                        src_cpu,
                    )
                except CloudError as exc:
                    last_error = fault_message(exc)
                    LOG.info("live migration pre-check on %s: %s", candidate["host"], exc)
                    self._unclaim(instance_uuid, candidate["host"])
                    if host is not None:
                        break
                    continue
                dest = {**candidate, "migrate_data": migrate_data}
                break
            if dest is None:
                message = last_error or "No valid host was found."
                if not message.startswith("Migration pre-check error"):
                    message = f"Migration pre-check error: {message}"
                raise _MoveFailed(message)
        except _MoveFailed as exc:
            self._fail_move(ctx, inst, task_id, migration["uuid"], None, str(exc), LIVE_EVENT)
            return
        MigrationRecords(self.runtime).update(
            migration["uuid"],
            dest_compute=dest["host"],
            dest_node=dest["node"],
            dest_host=dest.get("host_ip") or dest["host"],
        )
        self.records.record_event(ctx, instance_uuid, Event(LIVE_EVENT, SUCCESS))
        compute.live_migration(
            ctx,
            inst["host"],
            instance_uuid,
            task_id,
            migration["uuid"],
            dest["host"],
            dest["migrate_data"],
        )

    # -- steps -----------------------------------------------------------------------------
    def _start_move(
        self,
        ctx: RequestContext,
        inst: dict[str, Any],
        *,
        migration_type: str,
        status: str,
        new_flavor_id: str | None,
    ) -> dict[str, Any]:
        """The migration row, holding the instance's source allocation from now on."""
        flavor = inst["flavor"]
        with self.runtime.store.session() as s:
            m = Migration(
                instance_uuid=inst["uuid"],
                migration_type=migration_type,
                status=status,
                source_compute=inst["host"],
                source_node=inst["node"],
                old_flavor_id=str(flavor.get("id") or "") or None,
                new_flavor_id=new_flavor_id or str(flavor.get("id") or "") or None,
                user_id=ctx.user_id,
                project_id=inst["project_id"],
                details={"old_vm_state": inst["vm_state"]},
            )
            s.add(m)
            s.flush()
            hand_over_allocations(s, inst["uuid"], m.uuid, tracer=self.runtime.tracer)
            return {"uuid": m.uuid, "id": m.id}

    def _schedule(
        self,
        ctx: RequestContext,
        inst: dict[str, Any],
        flavor: dict[str, Any],
        host: str | None,
        *,
        same_host_ok: bool = False,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """A claimed destination and the alternates (not claimed)."""
        spec: dict[str, Any] = {
            "flavor": flavor,
            "image": {"id": inst.get("image_ref"), "properties": {}},
            "project_id": inst["project_id"],
            "user_id": inst["user_id"],
            "num_instances": 1,
            "is_bfv": self._is_volume_backed(inst["uuid"]),
            "ignore_hosts": [] if same_host_ok else [inst["host"]],
        }
        if host is not None:
            self._check_up(host)
            spec["requested_destination"] = [host]
        try:
            hosts = self.scheduler_api.select_destinations(
                ctx, spec, [inst["uuid"]], return_alternates=host is None
            )[0]
        except NoValidHost as exc:
            raise _MoveFailed(fault_message(exc)) from exc
        except CloudError as exc:
            raise _MoveFailed(fault_message(exc)) from exc
        with self.runtime.store.session() as s:
            for selection in hosts:
                node = node_of(s, selection["host"])
                selection["host_ip"] = node.host_ip if node is not None else None
        return hosts[0], hosts[1:]

    def _check_up(self, host: str) -> None:
        now = self.runtime.clock.now()
        with self.runtime.store.session() as s:
            service = s.scalars(
                select(Service).where(Service.host == host, Service.binary == COMPUTE_BINARY)
            ).first()
            if service is None:
                raise _MoveFailed(f"Compute host {host} could not be found.")
            if not service_is_up(service, now, self.runtime.config.service_down_time):
                raise _MoveFailed(f"Compute service of {host} is unavailable at this time.")

    def _cpu_info(self, host: str) -> dict[str, Any]:
        with self.runtime.store.session() as s:
            node = node_of(s, host)
            return dict(node.cpu_info or {}) if node is not None else {}

    def _is_volume_backed(self, instance_uuid: str) -> bool:
        with self.runtime.store.session() as s:
            return (
                s.scalars(
                    select(BlockDeviceMapping.id).where(
                        BlockDeviceMapping.instance_uuid == instance_uuid,
                        BlockDeviceMapping.boot_index == 0,
                        BlockDeviceMapping.destination_type == "volume",
                    )
                ).first()
                is not None
            )

    def _claim(self, selection: dict[str, Any], inst: dict[str, Any]) -> bool:
        want = claims.resources_from_spec(
            {"flavor": inst["flavor"], "is_bfv": self._is_volume_backed(inst["uuid"])}
        )
        with self.runtime.store.session() as s:
            return claims.claim(
                s,
                node_uuid=selection["node_uuid"],
                host=selection["host"],
                consumer_uuid=inst["uuid"],
                want=want,
                project_id=inst["project_id"],
                tracer=self.runtime.tracer,
            )

    def _unclaim(self, instance_uuid: str, host: str) -> None:
        with self.runtime.store.session() as s:
            claims.release(s, instance_uuid, host=host, tracer=self.runtime.tracer)

    def _fail_move(
        self,
        ctx: RequestContext,
        inst: dict[str, Any],
        task_id: str,
        migration_uuid: str,
        dest_host: str | None,
        message: str,
        event: str,
    ) -> None:
        """Undo the move: allocations back, migration error, instance as it was."""
        LOG.info("move of %s refused: %s", inst["uuid"], message)
        MigrationRecords(self.runtime).update(
            migration_uuid, status="error", give_back=(inst["uuid"], dest_host)
        )
        self.records.transition(
            ctx,
            inst["uuid"],
            task_id=task_id,
            values={"task_state": None, "task_id": None},
            events=(Event(event, ERROR, message),),
            faults=(Fault(message[:255], code=BadRequest.code),),
        )
