"""Live migration on the compute hosts (mixed into the compute manager).

The conductor has picked the destination, whose ``check_can_live_migrate_destination``
(with the source's ``check_can_live_migrate_source``) said which kind of move it is:
block migration, shared instances path, or volume-backed.  Then the source's
``live_migration`` runs it, migration status ``queued`` -> ``preparing`` (the
destination's ``pre_live_migration``: attachments for its host, disks for a block
migration) -> ``running`` (the driver moves the guest; the progress counters of the
migration follow) -> ``post_live_migration_at_destination`` (ports, volumes, the
instance's host) -> source clean-up -> ``completed``.

Any failure rolls back: the guest stays on (or, when it already moved, is migrated back
to) the source, the destination removes what it made, the claims and attachments are
undone, vm_state is unchanged, task_state None, the migration ``error`` (``cancelled``
when aborted).  ``live_migration_abort`` and ``live_migration_force_complete`` act on the
running migration from another thread (they do not take the instance's lock).
"""

from __future__ import annotations

import logging
from typing import Any

from testbed.compute.actions import ERROR, SUCCESS, fault_message
from testbed.compute.migrate_base import MoveHandlerBase, quietly
from testbed.compute.migrate_rpcapi import MigrationComputeAPI
from testbed.compute.records import (
    Event,
    fault_from,
    instance_bdms,
    read_instance,
    record_events,
)
from testbed.context import RequestContext
from testbed.virt.libvirt.migration import LiveMigrationAborted

__all__ = ["LiveMigrationMixin"]

LOG = logging.getLogger(__name__)

EVENT = "compute_live_migration"


class _Rollback(Exception):
    """Stop the migration and roll back (``cancelled`` when ``aborted``)."""

    def __init__(self, cause: Exception, *, aborted: bool = False, moved: bool = False) -> None:
        super().__init__(fault_message(cause))
        self.cause = cause
        self.aborted = aborted
        self.moved = moved


class LiveMigrationMixin(MoveHandlerBase):
    """The compute host's RPC methods for live migration."""

    # -- pre-checks (calls) ------------------------------------------------------------------
    def check_can_live_migrate_destination(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        block_migration: bool | None,
        source: str,
        src_cpu_info: dict[str, Any],
    ) -> dict[str, Any]:
        """Destination pre-check, then the source's; returns the migrate data."""
        event = "compute_check_can_live_migrate_destination"
        inst = self._start(ctx, instance_uuid, event)
        dest_check: dict[str, Any] = {}
        try:
            dest_check = self.driver.check_can_live_migrate_destination(
                inst, src_cpu_info, block_migration
            )
            migrate_data = MigrationComputeAPI(self.runtime.bus).check_can_live_migrate_source(
                ctx, source, instance_uuid, dest_check
            )
        except Exception as exc:
            self.records.record_event(ctx, instance_uuid, Event(event, ERROR, fault_message(exc)))
            raise
        finally:
            if dest_check:
                quietly(
                    "remove the probe file",
                    lambda: self.driver.cleanup_live_migration_destination_check(dest_check),
                )
        self.records.record_event(ctx, instance_uuid, Event(event, SUCCESS))
        return migrate_data

    def check_can_live_migrate_source(
        self, ctx: RequestContext, instance_uuid: str, dest_check_data: dict[str, Any]
    ) -> dict[str, Any]:
        """Source pre-check: which kind of migration, and whether it can work."""
        event = "compute_check_can_live_migrate_source"
        inst = self._start(ctx, instance_uuid, event, with_bdms=True)
        try:
            data = self.driver.check_can_live_migrate_source(
                inst, dest_check_data, self._move_bdi(inst, inst.pop("block_device_mappings"))
            )
        except Exception as exc:
            self.records.record_event(ctx, instance_uuid, Event(event, ERROR, fault_message(exc)))
            raise
        self.records.record_event(ctx, instance_uuid, Event(event, SUCCESS))
        return data

    def _start(
        self, ctx: RequestContext, instance_uuid: str, event: str, *, with_bdms: bool = False
    ) -> dict[str, Any]:
        """The instance, read in the transaction that opens ``event`` (with its block
        device mappings as ``block_device_mappings`` when ``with_bdms``)."""
        with self.runtime.store.transaction() as connection:
            inst = read_instance(connection, instance_uuid)
            if inst is None:
                raise LiveMigrationAborted(reason=f"instance {instance_uuid} is gone")
            now = self.runtime.clock.now()
            record_events(connection, ctx, instance_uuid, (Event(event),), now=now, host=self.host)
            if with_bdms:
                inst["block_device_mappings"] = instance_bdms(connection, instance_uuid)
        return inst

    # -- the move (source) -------------------------------------------------------------------
    def live_migration(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        task_id: str,
        migration_uuid: str,
        dest: str,
        migrate_data: dict[str, Any],
    ) -> None:
        """Prepare the destination, move the guest, finish or roll back."""
        rpc = MigrationComputeAPI(self.runtime.bus)
        with self.locks.hold(instance_uuid):
            inst = self.records.transition(
                ctx, instance_uuid, task_id=task_id, events=(Event(EVENT),)
            )
            if inst is None:
                return
            if not self.migrations.set_status(
                migration_uuid, "queued", instance_uuid=instance_uuid
            ):
                return
            try:
                migration = self._move(ctx, rpc, inst, migration_uuid, dest, migrate_data)
            except _Rollback as exc:
                LOG.info("live migration of %s to %s rolled back: %s", instance_uuid, dest, exc)
                self._roll_back(ctx, rpc, inst, task_id, migration_uuid, dest, migrate_data, exc)
                return
            self._finish(
                ctx, rpc, inst, task_id, migration_uuid, dest, migration["dest_node"], migrate_data
            )

    def _move(
        self,
        ctx: RequestContext,
        rpc: MigrationComputeAPI,
        inst: dict[str, Any],
        migration_uuid: str,
        dest: str,
        migrate_data: dict[str, Any],
    ) -> dict[str, Any]:
        """Prepare the destination and move the guest; ``migrate_data`` becomes what the
        destination prepared (kept on the migration, and what a rollback undoes).
        Returns the migration."""
        uuid = inst["uuid"]
        if not self.migrations.set_status(
            migration_uuid, "preparing", instance_uuid=uuid, expect_status=("queued",)
        ):
            raise _Rollback(LiveMigrationAborted(reason="aborted by request"), aborted=True)
        try:
            prepared = rpc.pre_live_migration(ctx, dest, uuid, migrate_data)
        except Exception as exc:
            raise _Rollback(exc) from exc
        migrate_data.clear()
        migrate_data.update(prepared)
        running = self.migrations.update(
            migration_uuid,
            status="running",
            expect_status=("preparing",),
            details={"migrate_data": prepared},
        )
        if running is None:
            raise _Rollback(LiveMigrationAborted(reason="aborted by request"), aborted=True)
        try:
            self.driver.live_migration(
                inst,
                dest,
                migrate_data,
                on_progress=lambda counters: self.migrations.progress(migration_uuid, counters),
            )
        except LiveMigrationAborted as exc:
            raise _Rollback(exc, aborted=True) from exc
        except Exception as exc:
            raise _Rollback(exc) from exc
        return running

    def _finish(
        self,
        ctx: RequestContext,
        rpc: MigrationComputeAPI,
        inst: dict[str, Any],
        task_id: str,
        migration_uuid: str,
        dest: str,
        dest_node: str | None,
        migrate_data: dict[str, Any],
    ) -> None:
        uuid = inst["uuid"]
        try:
            done = rpc.post_live_migration_at_destination(
                ctx, dest, uuid, task_id, migration_uuid, dest_node, migrate_data
            )
        except Exception as exc:
            LOG.warning("post live migration of %s at %s failed: %s", uuid, dest, exc)
            rollback = _Rollback(exc, moved=True)
            self._roll_back(ctx, rpc, inst, task_id, migration_uuid, dest, migrate_data, rollback)
            return
        quietly(
            "clean up the source",
            lambda: self.driver.cleanup_live_migration_source(inst, migrate_data),
        )
        self.migrations.update(
            migration_uuid,
            status="completed",
            release=True,
            details=done or None,
            ctx=ctx,
            events=(Event(EVENT, SUCCESS),),
        )

    def _roll_back(
        self,
        ctx: RequestContext,
        rpc: MigrationComputeAPI,
        inst: dict[str, Any],
        task_id: str,
        migration_uuid: str,
        dest: str,
        migrate_data: dict[str, Any],
        why: _Rollback,
    ) -> None:
        """The guest stays on (or comes back to) this host; nothing is left half-moved.
        ``migrate_data``: what the destination prepared (disks, attachments), if it did."""
        uuid = inst["uuid"]
        if why.moved:
            quietly(
                "migrate the guest back", lambda: self.driver.migrate_back(inst, dest, migrate_data)
            )
        quietly(
            "roll back at the destination",
            lambda: rpc.rollback_live_migration_at_destination(ctx, dest, uuid, migrate_data),
        )
        status = "cancelled" if why.aborted else "error"
        self.migrations.update(migration_uuid, status=status, give_back=(uuid, dest))
        message = fault_message(why.cause)
        self.records.transition(
            ctx,
            uuid,
            task_id=task_id,
            values={"task_state": None, "task_id": None, "power_state": self._power(inst)},
            events=(Event(EVENT, ERROR, message),),
            faults=() if why.aborted else (fault_from(why.cause),),
        )

    # -- destination ---------------------------------------------------------------------------
    def pre_live_migration(
        self, ctx: RequestContext, instance_uuid: str, migrate_data: dict[str, Any]
    ) -> dict[str, Any]:
        """Attachments for this host, disks for a block migration; returns the data the
        rest of the move (and its rollback) needs."""
        event = "compute_pre_live_migration"
        inst = self._start(ctx, instance_uuid, event, with_bdms=True)
        bdms = inst.pop("block_device_mappings")
        created: dict[str, dict[str, Any]] = {}
        try:
            created = self._new_attachments(ctx, inst, bdms)
            data = {**migrate_data, "new_attachments": created}
            data = self.driver.pre_live_migration(
                inst, self._bdi_with(inst, created, bdms), inst["network_info"], data
            )
        except Exception as exc:
            self._drop_attachments(ctx, created)
            self.records.record_event(ctx, instance_uuid, Event(event, ERROR, fault_message(exc)))
            raise
        self.records.record_event(ctx, instance_uuid, Event(event, SUCCESS))
        return data

    def post_live_migration_at_destination(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        task_id: str,
        migration_uuid: str,
        dest_node: str | None,
        migrate_data: dict[str, Any],
    ) -> dict[str, Any]:
        """The guest runs here now: ports, volumes, and the instance's host (and node,
        ``dest_node``).  Returns what the source records on the migration when it
        completes it: the downtime (``downtime_ms``) the hypervisor reports here, if it
        does."""
        event = "compute_post_live_migration_at_destination"
        inst = self.records.transition(ctx, instance_uuid, task_id=task_id, events=(Event(event),))
        if inst is None:
            raise LiveMigrationAborted(reason=f"instance {instance_uuid} changed meanwhile")
        here = {**inst, "host": self.host}
        completed = self.driver.post_live_migration_at_destination(here, migrate_data)
        self.network_api.bind_ports_to_host(ctx, instance_uuid, self.host)
        self._switch_attachments(ctx, migrate_data.get("new_attachments") or {})
        values: dict[str, Any] = {
            "host": self.host,
            "node": dest_node,
            "task_state": None,
            "task_id": None,
            "power_state": self._power(here),
        }
        if self.availability_zone:
            values["availability_zone"] = self.availability_zone
        self.records.transition(
            ctx, instance_uuid, task_id=task_id, values=values, events=(Event(event, SUCCESS),)
        )
        return {"downtime_ms": int(completed["downtime"])} if "downtime" in completed else {}

    def rollback_live_migration_at_destination(
        self, ctx: RequestContext, instance_uuid: str, migrate_data: dict[str, Any]
    ) -> None:
        """Remove the guest, the created disks and the new attachments."""
        event = "compute_rollback_live_migration_at_destination"
        inst = self.records.load(instance_uuid)
        if inst is None:
            return
        self.records.record_event(ctx, instance_uuid, Event(event))
        quietly(
            "remove the guest and disks",
            lambda: self.driver.rollback_live_migration_at_destination(
                {**inst, "host": self.host}, migrate_data
            ),
        )
        self._drop_attachments(ctx, migrate_data.get("new_attachments") or {})
        self.records.record_event(ctx, instance_uuid, Event(event, SUCCESS))

    # -- operator actions on a running migration (source) -----------------------------------
    def live_migration_abort(
        self, ctx: RequestContext, instance_uuid: str, migration_uuid: str
    ) -> None:
        """Abort: the migration fails and rolls back (``cancelled``)."""
        inst = self.records.load(instance_uuid)
        if inst is None:
            return
        try:
            self.driver.live_migration_abort(inst)
        except Exception as exc:
            LOG.info("abort of the live migration of %s: %s", instance_uuid, exc)
            self.records.record_event(
                ctx, instance_uuid, Event("compute_live_migration_abort", ERROR, fault_message(exc))
            )
            return
        self.records.record_event(
            ctx, instance_uuid, Event("compute_live_migration_abort", SUCCESS)
        )

    def live_migration_force_complete(
        self, ctx: RequestContext, instance_uuid: str, migration_uuid: str
    ) -> None:
        """Post-copy (or pause the guest) so the migration completes."""
        event = "compute_live_migration_force_complete"
        inst = self.records.load(instance_uuid)
        if inst is None:
            return
        try:
            self.driver.live_migration_force_complete(inst)
        except Exception as exc:
            LOG.info("force-complete of the live migration of %s: %s", instance_uuid, exc)
            self.records.record_event(ctx, instance_uuid, Event(event, ERROR, fault_message(exc)))
            return
        self.records.record_event(ctx, instance_uuid, Event(event, SUCCESS))
