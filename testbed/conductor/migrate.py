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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Table, bindparam, select

from testbed.compute import servicegroup
from testbed.compute.actions import ERROR, SUCCESS, fault_message
from testbed.compute.api_hosts import COMPUTE_BINARY
from testbed.compute.migrate_records import (
    MigrationRecords,
    hand_over_allocations,
    insert_migration,
)
from testbed.compute.migrate_rpcapi import MigrationComputeAPI
from testbed.compute.models import BlockDeviceMapping, ComputeNode, Service
from testbed.compute.records import Event, Fault, InstanceRecords, read_instance, record_events
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


@dataclass(frozen=True)
class _Move:
    """A move just recorded, and what the conductor read about it in the same transaction."""

    #: the instance (as :meth:`InstanceRecords.load` gives it)
    inst: dict[str, Any]
    migration_uuid: str
    is_bfv: bool
    #: why the source or the requested destination cannot take part (None: both can)
    refusal: str | None
    #: the source's CPU (live migration)
    src_cpu_info: dict[str, Any]


_BDM = cast(Table, BlockDeviceMapping.__table__).c
_NODE = cast(Table, ComputeNode.__table__).c
_BOOTS_FROM_VOLUME = (
    select(_BDM.id)
    .where(
        _BDM.instance_uuid == bindparam("uuid"),
        _BDM.boot_index == 0,
        _BDM.destination_type == "volume",
    )
    .limit(1)
)
_SERVICES = cast(Table, Service.__table__).c
_SERVICE_ROW = (
    select(_SERVICES.forced_down, _SERVICES.last_seen_up)
    .where(_SERVICES.host == bindparam("host"), _SERVICES.binary == COMPUTE_BINARY)
    .limit(1)
)
_CPU_INFO = select(_NODE.cpu_info).where(_NODE.host == bindparam("host")).limit(1)


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
        move = self._start_move(
            ctx,
            instance_uuid,
            task_id,
            event=COLD_EVENT,
            migration_type=migration_type,
            status="pre-migrating",
            new_flavor_id=str(flavor.get("id") or ""),
            host=host,
        )
        if move is None:
            return
        inst = move.inst
        same_host_ok = self.runtime.config.allow_resize_to_same_host and migration_type == "resize"
        try:
            if move.refusal is not None:
                raise _MoveFailed(move.refusal)
            chosen, _ = self._schedule(
                ctx, inst, flavor, host, is_bfv=move.is_bfv, same_host_ok=same_host_ok
            )
        except _MoveFailed as exc:
            self._fail_move(ctx, inst, task_id, move.migration_uuid, None, str(exc), COLD_EVENT)
            return
        self._migrations().set_destination(
            move.migration_uuid,
            chosen["host"],
            chosen["node"],
            ctx=ctx,
            events=(Event(COLD_EVENT, SUCCESS),),
        )
        MigrationComputeAPI(self.runtime.bus).prep_resize(
            ctx, chosen["host"], instance_uuid, task_id, move.migration_uuid, flavor
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
        move = self._start_move(
            ctx,
            instance_uuid,
            task_id,
            event=LIVE_EVENT,
            migration_type="live-migration",
            status="accepted",
            new_flavor_id=None,
            host=host,
            check_source=True,
        )
        if move is None:
            return
        inst = move.inst
        compute = MigrationComputeAPI(self.runtime.bus)
        dest: dict[str, Any] | None = None
        try:
            if host is not None and host == inst["host"]:
                raise _MoveFailed(
                    f"Unable to migrate instance ({instance_uuid}) to current host ({host})."
                )
            if move.refusal is not None:
                raise _MoveFailed(move.refusal)
            chosen, alternates = self._schedule(ctx, inst, inst["flavor"], host, is_bfv=move.is_bfv)
            src_cpu = move.src_cpu_info
            last_error = ""
            for index, candidate in enumerate([chosen, *alternates]):
                if index and not self._claim(candidate, inst, is_bfv=move.is_bfv):
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
            self._fail_move(ctx, inst, task_id, move.migration_uuid, None, str(exc), LIVE_EVENT)
            return
        self._migrations().set_destination(
            move.migration_uuid,
            dest["host"],
            dest["node"],
            ctx=ctx,
            events=(Event(LIVE_EVENT, SUCCESS),),
        )
        compute.live_migration(
            ctx,
            inst["host"],
            instance_uuid,
            task_id,
            move.migration_uuid,
            dest["host"],
            dest["migrate_data"],
        )

    # -- steps -----------------------------------------------------------------------------
    def _migrations(self) -> MigrationRecords:
        return MigrationRecords(self.runtime, self.records.host)

    def _start_move(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        task_id: str,
        *,
        event: str,
        migration_type: str,
        status: str,
        new_flavor_id: str | None,
        host: str | None,
        check_source: bool = False,
    ) -> _Move | None:
        """The migration row, holding the instance's source allocation from now on, and
        ``event`` opened, in one transaction that also reads what the move needs to know:
        whether the instance boots from a volume, whether the source (``check_source``)
        and the requested destination ``host`` are up, and the source's CPU.  None (and
        nothing written) when the instance is gone or no longer in task ``task_id``."""
        runtime = self.runtime
        now = runtime.clock.now()
        with runtime.store.transaction() as connection:
            inst = read_instance(connection, instance_uuid)
            if inst is None or inst["deleted"] or inst["task_id"] != task_id:
                return None
            flavor = inst["flavor"]
            record_events(
                connection, ctx, inst["uuid"], (Event(event),), now=now, host=self.records.host
            )
            _, migration_uuid = insert_migration(
                connection,
                now,
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
            hand_over_allocations(connection, inst["uuid"], migration_uuid, tracer=runtime.tracer)
            is_bfv = (
                connection.execute(_BOOTS_FROM_VOLUME, {"uuid": inst["uuid"]}).first() is not None
            )
            refusal = None
            if check_source:
                refusal = self._service_refusal(connection, inst["host"], now)
            if refusal is None and host is not None:
                refusal = self._service_refusal(connection, host, now)
            cpu_info = None
            if check_source:
                cpu_info = connection.execute(_CPU_INFO, {"host": inst["host"]}).scalar()
        return _Move(inst, migration_uuid, is_bfv, refusal, dict(cpu_info or {}))

    def _service_refusal(self, connection: Connection, host: str, now: float) -> str | None:
        """Why ``host``'s compute service cannot take part in a move (None: it can)."""
        service = connection.execute(_SERVICE_ROW, {"host": host}).first()
        if service is None:
            return f"Compute host {host} could not be found."
        forced_down, last_seen_up = service
        if not servicegroup.service_is_up(
            forced_down, last_seen_up, now, self.runtime.config.service_down_time
        ):
            return f"Compute service of {host} is unavailable at this time."
        return None

    def _schedule(
        self,
        ctx: RequestContext,
        inst: dict[str, Any],
        flavor: dict[str, Any],
        host: str | None,
        *,
        is_bfv: bool,
        same_host_ok: bool = False,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """A claimed destination and the alternates (not claimed)."""
        spec: dict[str, Any] = {
            "flavor": flavor,
            "image": {"id": inst.get("image_ref"), "properties": {}},
            "project_id": inst["project_id"],
            "user_id": inst["user_id"],
            "num_instances": 1,
            "is_bfv": is_bfv,
            "ignore_hosts": [] if same_host_ok else [inst["host"]],
        }
        if host is not None:
            spec["requested_destination"] = [host]
        try:
            hosts = self.scheduler_api.select_destinations(
                ctx, spec, [inst["uuid"]], return_alternates=host is None
            )[0]
        except NoValidHost as exc:
            raise _MoveFailed(fault_message(exc)) from exc
        except CloudError as exc:
            raise _MoveFailed(fault_message(exc)) from exc
        return hosts[0], hosts[1:]

    def _claim(self, selection: dict[str, Any], inst: dict[str, Any], *, is_bfv: bool) -> bool:
        want = claims.resources_from_spec({"flavor": inst["flavor"], "is_bfv": is_bfv})
        with self.runtime.store.transaction() as connection:
            return claims.claim(
                connection,
                node_uuid=selection["node_uuid"],
                host=selection["host"],
                consumer_uuid=inst["uuid"],
                want=want,
                project_id=inst["project_id"],
                tracer=self.runtime.tracer,
            )

    def _unclaim(self, instance_uuid: str, host: str) -> None:
        with self.runtime.store.transaction() as connection:
            claims.release(connection, instance_uuid, host=host, tracer=self.runtime.tracer)

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
        self._migrations().update(
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
