"""Cold migration and resize on the compute hosts (mixed into the compute manager).

Steps, task states and migration statuses (Nova's):

1. destination ``prep_resize``: records both flavors, asks the source to send;
2. source ``resize_instance``: ``resize_migrating`` (migration ``migrating``), the driver
   stops the guest and copies its disks, the volumes get attachments for the move,
   ``resize_migrated`` (``post-migrating``);
3. destination ``finish_resize``: ``resize_finish``, ports bound here, volumes connected,
   the guest defined with the new flavor and started unless it was stopped; vm_state
   ``resized`` (``finished``): VERIFY_RESIZE, both hosts' allocations held.

Then ``confirm_resize`` on the source (old guest removed, the migration's allocation
dropped, ``confirmed``; vm_state active, or stopped for a stopped guest) or
``revert_resize`` on the destination (``resize_reverting``: new guest removed, its
allocation dropped) followed by ``finish_revert_resize`` on the source (old flavor, guest
back, allocation given back to the instance, ``reverted``).

A failure before the guest left (the source step) is rolled back: the guest runs again
where it was, vm_state unchanged, migration ``error``, allocations as before.  A failure
on the destination after the copy leaves the instance in error there, as Nova does.
``_poll_unconfirmed_resizes`` (a periodic task) confirms resizes older than
``resize_confirm_window`` seconds.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from testbed.compute import states
from testbed.compute.actions import ERROR, SUCCESS, fault_message
from testbed.compute.migrate_base import MoveHandlerBase, quietly
from testbed.compute.migrate_rpcapi import MigrationComputeAPI
from testbed.compute.models import Migration
from testbed.compute.records import Event, fault_from
from testbed.compute.states import power_state, task_states
from testbed.context import RequestContext
from testbed.exceptions import CloudError

__all__ = ["ColdMigrationMixin"]

LOG = logging.getLogger(__name__)

Instance = dict[str, Any]


def _old_vm_state(migration: dict[str, Any]) -> str:
    return str((migration.get("details") or {}).get("old_vm_state") or states.ACTIVE)


class ColdMigrationMixin(MoveHandlerBase):
    """The compute host's RPC methods for cold migration and resize."""

    def _rpc(self) -> MigrationComputeAPI:
        return MigrationComputeAPI(self.runtime.bus)

    # -- 1. destination ----------------------------------------------------------------------
    def prep_resize(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        task_id: str,
        migration_uuid: str,
        flavor: dict[str, Any],
    ) -> None:
        """Take the move: both flavors on the instance, then ask the source to send."""
        event = "compute_prep_resize"
        current = self.records.load(instance_uuid)
        if current is None:
            return
        inst = self.records.transition(
            ctx,
            instance_uuid,
            task_id=task_id,
            values={"old_flavor": current["flavor"], "new_flavor": flavor},
            events=(Event(event), Event(event, SUCCESS)),
        )
        if inst is None:
            return
        self._rpc().resize_instance(ctx, inst["host"], instance_uuid, task_id, migration_uuid)

    # -- 2. source ---------------------------------------------------------------------------
    def resize_instance(
        self, ctx: RequestContext, instance_uuid: str, task_id: str, migration_uuid: str
    ) -> None:
        """Stop the guest and send its disks and volumes to the destination."""
        event = "compute_resize_instance"
        with self.locks.hold(instance_uuid):
            inst = self.records.transition(
                ctx,
                instance_uuid,
                task_id=task_id,
                values={"task_state": task_states.RESIZE_MIGRATING},
                events=(Event(event),),
            )
            migration = self.migrations.update(migration_uuid, status="migrating")
            if inst is None or migration is None:
                return
            _, new_flavor = self.migrations.flavors(instance_uuid)
            bdms = self.records.block_device_mappings(instance_uuid)
            try:
                disk_info = self.driver.migrate_disk_and_power_off(
                    inst, migration["dest_compute"], new_flavor, self._move_bdi(inst, bdms)
                )
            except Exception as exc:
                LOG.warning("resize of %s on %s failed: %s", instance_uuid, self.host, exc)
                self._roll_back_on_source(ctx, inst, task_id, migration, exc, event)
                return
            self.migrations.update(
                migration_uuid, status="post-migrating", details={"disk_info": disk_info}
            )
            done = self.records.transition(
                ctx,
                instance_uuid,
                task_id=task_id,
                values={
                    "task_state": task_states.RESIZE_MIGRATED,
                    "power_state": self._power(inst),
                },
                events=(Event(event, SUCCESS),),
            )
            if done is not None:
                self._rpc().finish_resize(
                    ctx, migration["dest_compute"], instance_uuid, task_id, migration_uuid
                )

    def _roll_back_on_source(
        self,
        ctx: RequestContext,
        inst: Instance,
        task_id: str,
        migration: dict[str, Any],
        exc: Exception,
        event: str,
    ) -> None:
        """The guest never left: run it again here, undo the allocations."""
        if _old_vm_state(migration) != states.STOPPED and self._power(inst) != power_state.RUNNING:
            quietly(
                "restart the guest",
                lambda: self.driver.finish_revert_migration(
                    inst, inst["network_info"], self._move_bdi(inst), True
                ),
            )
        self.migrations.update(
            migration["uuid"], status="error", give_back=(inst["uuid"], migration["dest_compute"])
        )
        self.records.transition(
            ctx,
            inst["uuid"],
            task_id=task_id,
            values={
                "task_state": None,
                "task_id": None,
                "old_flavor": None,
                "new_flavor": None,
                "power_state": self._power(inst),
            },
            events=(Event(event, ERROR, fault_message(exc)),),
            faults=(fault_from(exc),),
        )

    # -- 3. destination ----------------------------------------------------------------------
    def finish_resize(
        self, ctx: RequestContext, instance_uuid: str, task_id: str, migration_uuid: str
    ) -> None:
        """Start the guest here with the new flavor: VERIFY_RESIZE."""
        event = "compute_finish_resize"
        with self.locks.hold(instance_uuid):
            inst = self.records.transition(
                ctx,
                instance_uuid,
                task_id=task_id,
                values={"task_state": task_states.RESIZE_FINISH},
                events=(Event(event),),
                with_bdms=True,
            )
            migration = self.migrations.load(migration_uuid)
            if inst is None or migration is None:
                return
            bdms = inst.pop("block_device_mappings")
            _, new_flavor = self.migrations.flavors(instance_uuid)
            moved = {**inst, "flavor": new_flavor, "host": self.host}
            disk_info = (migration.get("details") or {}).get("disk_info") or {}
            created: dict[str, dict[str, Any]] = {}
            try:
                self.network_api.bind_ports_to_host(ctx, instance_uuid, self.host)
                created = self._new_attachments(ctx, moved, bdms)
                self.driver.finish_migration(
                    moved,
                    disk_info,
                    inst["network_info"],
                    self._bdi_with(moved, created, bdms),
                    power_on=_old_vm_state(migration) != states.STOPPED,
                )
                self._switch_attachments(ctx, created)
            except Exception as exc:
                LOG.warning("finishing the resize of %s on %s: %s", instance_uuid, self.host, exc)
                self._drop_attachments(ctx, created)
                self.migrations.update(migration_uuid, status="error", release=True)
                self.records.transition(
                    ctx,
                    instance_uuid,
                    task_id=task_id,
                    values={
                        "vm_state": states.ERROR,
                        "task_state": None,
                        "task_id": None,
                        "host": self.host,
                        "node": migration["dest_node"],
                        "flavor": new_flavor,
                        "power_state": self._power(moved),
                    },
                    events=(Event(event, ERROR, fault_message(exc)),),
                    faults=(fault_from(exc),),
                )
                return
            self.migrations.update(migration_uuid, status="finished")
            values: dict[str, Any] = {
                "vm_state": states.RESIZED,
                "task_state": None,
                "task_id": None,
                "host": self.host,
                "node": migration["dest_node"],
                "flavor": new_flavor,
                "power_state": self._power(moved),
            }
            if self.availability_zone:
                values["availability_zone"] = self.availability_zone
            self.records.transition(
                ctx,
                instance_uuid,
                task_id=task_id,
                values=values,
                events=(Event(event, SUCCESS),),
            )

    # -- confirm (source) ----------------------------------------------------------------------
    def confirm_resize(
        self, ctx: RequestContext, instance_uuid: str, task_id: str | None, migration_uuid: str
    ) -> None:
        """Remove the source's guest, drop the migration's allocation: ``confirmed``.
        ``task_id`` None: the instance is being deleted; only the source is cleaned up."""
        event = "compute_confirm_resize"
        with self.locks.hold(instance_uuid):
            inst = self.records.load(instance_uuid)
            migration = self.migrations.load(migration_uuid)
            if inst is None or migration is None or migration["status"] != "confirming":
                return
            if task_id is not None and inst["task_id"] != task_id:
                return
            if task_id is not None:
                self.records.record_event(ctx, instance_uuid, Event(event))
            disk_info = (migration.get("details") or {}).get("disk_info") or {}
            source_view = {**inst, "host": self.host}
            try:
                self.driver.confirm_migration(source_view, migration, disk_info)
            except Exception as exc:
                LOG.warning("confirming the resize of %s: %s", instance_uuid, exc)
                self.migrations.update(migration_uuid, status="error", release=True)
                if task_id is not None:
                    self.records.transition(
                        ctx,
                        instance_uuid,
                        task_id=task_id,
                        values={"vm_state": states.ERROR, "task_state": None, "task_id": None},
                        events=(Event(event, ERROR, fault_message(exc)),),
                        faults=(fault_from(exc),),
                    )
                return
            self.migrations.update(migration_uuid, status="confirmed", release=True)
            if task_id is None:
                return
            vm_state = (
                states.STOPPED if inst["power_state"] == power_state.SHUTDOWN else states.ACTIVE
            )
            self.records.transition(
                ctx,
                instance_uuid,
                task_id=task_id,
                values={
                    "vm_state": vm_state,
                    "task_state": None,
                    "task_id": None,
                    "old_flavor": None,
                    "new_flavor": None,
                },
                events=(Event(event, SUCCESS),),
            )

    # -- revert ------------------------------------------------------------------------------
    def revert_resize(
        self, ctx: RequestContext, instance_uuid: str, task_id: str, migration_uuid: str
    ) -> None:
        """Destination: remove the new guest and its allocation, then hand back."""
        event = "compute_revert_resize"
        with self.locks.hold(instance_uuid):
            inst = self.records.transition(
                ctx, instance_uuid, task_id=task_id, events=(Event(event),)
            )
            migration = self.migrations.load(migration_uuid)
            if inst is None or migration is None:
                return
            disk_info = (migration.get("details") or {}).get("disk_info") or {}
            try:
                self.driver.revert_migration_at_destination(inst, migration, disk_info)
            except Exception as exc:
                LOG.warning("reverting the resize of %s on %s: %s", instance_uuid, self.host, exc)
                self.migrations.update(migration_uuid, status="error")
                self.records.transition(
                    ctx,
                    instance_uuid,
                    task_id=task_id,
                    values={"vm_state": states.ERROR, "task_state": None, "task_id": None},
                    events=(Event(event, ERROR, fault_message(exc)),),
                    faults=(fault_from(exc),),
                )
                return
            self.records.record_event(ctx, instance_uuid, Event(event, SUCCESS))
            self._rpc().finish_revert_resize(
                ctx, migration["source_compute"], instance_uuid, task_id, migration_uuid
            )

    def finish_revert_resize(
        self, ctx: RequestContext, instance_uuid: str, task_id: str, migration_uuid: str
    ) -> None:
        """Source: the old guest runs again with the old flavor: ``reverted``."""
        event = "compute_finish_revert_resize"
        with self.locks.hold(instance_uuid):
            inst = self.records.transition(
                ctx, instance_uuid, task_id=task_id, events=(Event(event),), with_bdms=True
            )
            migration = self.migrations.load(migration_uuid)
            if inst is None or migration is None:
                return
            bdms = inst.pop("block_device_mappings")
            old_flavor, _ = self.migrations.flavors(instance_uuid)
            back = {**inst, "flavor": old_flavor or inst["flavor"], "host": self.host}
            old_vm_state = _old_vm_state(migration)
            created: dict[str, dict[str, Any]] = {}
            try:
                self.network_api.bind_ports_to_host(ctx, instance_uuid, self.host)
                created = self._new_attachments(ctx, back, bdms)
                self.driver.finish_revert_migration(
                    back,
                    inst["network_info"],
                    self._bdi_with(back, created, bdms),
                    power_on=old_vm_state != states.STOPPED,
                )
                self._switch_attachments(ctx, created)
            except Exception as exc:
                LOG.warning("finishing the revert of %s on %s: %s", instance_uuid, self.host, exc)
                self._drop_attachments(ctx, created)
                error: Exception | None = exc
            else:
                error = None
            self.migrations.update(
                migration_uuid,
                status="reverted" if error is None else "error",
                give_back=(instance_uuid, migration["dest_compute"]),
            )
            values: dict[str, Any] = {
                "vm_state": old_vm_state if error is None else states.ERROR,
                "task_state": None,
                "task_id": None,
                "host": self.host,
                "node": migration["source_node"],
                "flavor": back["flavor"],
                "old_flavor": None,
                "new_flavor": None,
                "power_state": self._power(back),
            }
            if self.availability_zone:
                values["availability_zone"] = self.availability_zone
            self.records.transition(
                ctx,
                instance_uuid,
                task_id=task_id,
                values=values,
                events=(
                    Event(event, SUCCESS)
                    if error is None
                    else Event(event, ERROR, fault_message(error)),
                ),
                faults=() if error is None else (fault_from(error),),
            )

    # -- auto-confirm ------------------------------------------------------------------------
    def _poll_unconfirmed_resizes(self) -> None:
        """Confirm the resizes finished here more than ``resize_confirm_window`` ago."""
        window = self.runtime.config.resize_confirm_window
        if window <= 0:
            return
        from testbed.compute.migrate_api import MigrationOperations

        cutoff = self.runtime.clock.now() - window
        with self.runtime.store.session() as s:
            due = [
                m.instance_uuid
                for m in s.scalars(
                    select(Migration).where(
                        Migration.status == "finished",
                        Migration.dest_compute == self.host,
                        Migration.updated_at <= cutoff,
                    )
                )
            ]
        ctx = RequestContext.admin()
        operations = MigrationOperations(self.runtime)
        for uuid in due:
            try:
                operations.confirm(ctx, uuid)
            except CloudError as exc:
                LOG.info("auto-confirm of %s skipped: %s", uuid, exc)
