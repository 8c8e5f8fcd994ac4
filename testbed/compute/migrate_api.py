"""The compute API's logic for moves: resize, migrate, confirm, revert, live migration,
and abort / force-complete of a running live migration.

Each action checks the instance's state as Nova's ``check_instance_state`` does, starts
its task (task_state and a fresh task id) and records the instance action in one short
transaction, then casts: to the conductor (which picks the destination) for a new move,
to the compute host concerned for the rest.  Refusals are Nova's: 409 for the wrong
state, 400 for a resize to the same flavor, a smaller disk, an unknown flavor or host,
or a confirm/revert without a resize to act on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, select, update
from sqlalchemy.orm import Session

from testbed.compute import states
from testbed.compute.api import instance_not_found, record_action
from testbed.compute.api_create import flavor_row, flavor_snapshot
from testbed.compute.api_hosts import compute_host_exists
from testbed.compute.api_states import check_state
from testbed.compute.migrate_rpcapi import MigrationComputeAPI
from testbed.compute.models import BlockDeviceMapping, Instance, Migration
from testbed.compute.states import task_states
from testbed.conductor.migrate_rpcapi import MigrationConductorAPI
from testbed.context import RequestContext
from testbed.exceptions import BadRequest, Conflict, NotFound
from testbed.service import Runtime
from testbed.store.base import new_uuid
from testbed.store.db import Store, Transaction

__all__ = ["LIVE_IN_PROGRESS", "MigrationOperations", "confirm_before_delete"]

#: Live migration statuses an operator can still act on (abort from queued/preparing).
LIVE_IN_PROGRESS = ("queued", "preparing", "running")
_MOVABLE = frozenset({states.ACTIVE, states.STOPPED})
_LIVE_MOVABLE = frozenset({states.ACTIVE, states.PAUSED})
_NO_TASK: frozenset[str | None] = frozenset({None})

_INSTANCES = cast(Table, Instance.__table__)
_I = _INSTANCES.c
# os-migrateLive reads and writes only these columns (Core statements built once: an ORM
# load of the whole row and its flush cost several times more).
_LIVE_STATE = (
    select(_I.uuid, _I.deleted, _I.project_id, _I.locked, _I.host)
    .add_columns(*(_I[name] for name in Instance.__trace_state__))
    .where(_I.uuid == bindparam("uuid"))
    .with_for_update()
)
_START_TASK = (
    update(_INSTANCES)
    .where(_I.uuid == bindparam("row_uuid"))
    .values(
        task_state=bindparam("new_task_state"),
        task_id=bindparam("new_task_id"),
        updated_at=bindparam("now"),
    )
)


def confirm_before_delete(session: Session, instance: Instance) -> tuple[str, str] | None:
    """Deleting a server in VERIFY_RESIZE confirms the resize first (Nova's
    ``_confirm_resize_on_deleting``): the migration goes ``confirming``; returns (source
    host, migration uuid) to cast ``confirm_resize`` to, with no task id."""
    if instance.vm_state != states.RESIZED:
        return None
    migration = session.scalars(
        select(Migration)
        .where(Migration.instance_uuid == instance.uuid, Migration.status == "finished")
        .order_by(Migration.id.desc())
    ).first()
    if migration is None or migration.source_compute is None:
        return None
    migration.status = "confirming"
    return migration.source_compute, migration.uuid


def _is_volume_backed(session: Session, uuid: str) -> bool:
    return (
        session.scalars(
            select(BlockDeviceMapping.id).where(
                BlockDeviceMapping.instance_uuid == uuid,
                BlockDeviceMapping.boot_index == 0,
                BlockDeviceMapping.destination_type == "volume",
            )
        ).first()
        is not None
    )


def _check_visible(
    ctx: RequestContext, uuid: str, deleted: bool, project_id: str, locked: bool
) -> None:
    """404 for an instance the caller may not see, 409 for one locked against it."""
    if deleted or (not ctx.is_admin and project_id != ctx.project_id):
        raise instance_not_found(uuid)
    if locked and not ctx.is_admin:
        raise Conflict(f"Instance {uuid} is locked")


def _start_task_row(
    connection: Connection, row: Mapping[str, Any], task: str, task_id: str, now: float
) -> None:
    """Start a task on an instance read as ``row`` (:data:`_LIVE_STATE`), traced as a flush
    would trace it."""
    connection.execute(
        _START_TASK,
        {"row_uuid": row["uuid"], "new_task_state": task, "new_task_id": task_id, "now": now},
    )
    state = {column: row[column] for column in Instance.__trace_state__}
    Store.of(connection).trace_write(
        "UPDATE", "instances", instance_uuid=row["uuid"], state={**state, "task_state": task}
    )


class MigrationOperations:
    """Moves of existing servers: checks, records, then casts."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.conductor = MigrationConductorAPI(runtime.bus)
        self.compute = MigrationComputeAPI(runtime.bus)

    def _lock_row(self, session: Session, ctx: RequestContext, uuid: str) -> Instance:
        instance = session.scalars(
            select(Instance).where(Instance.uuid == uuid).with_for_update()
        ).first()
        if instance is None:
            raise instance_not_found(uuid)
        _check_visible(ctx, uuid, instance.deleted, instance.project_id, instance.locked)
        return instance

    def _start_task(
        self,
        session: Session,
        ctx: RequestContext,
        instance: Instance,
        action: str,
        task: str | None,
    ) -> str:
        task_id = new_uuid()
        instance.task_state = task
        instance.task_id = task_id
        record_action(session, ctx, instance.uuid, action, self.runtime.clock.now())
        return task_id

    @staticmethod
    def _check_host(tx: Transaction, host: str) -> None:
        if not compute_host_exists(tx, host):
            raise BadRequest(f"Compute host {host} could not be found.")

    # -- cold ------------------------------------------------------------------------------
    def resize(
        self, ctx: RequestContext, uuid: str, flavor_ref: str | None, host: str | None = None
    ) -> None:
        """resize (``flavor_ref``) or migrate (None, optionally to ``host``)."""
        action = "resize" if flavor_ref is not None else "migrate"
        with self.runtime.store.session() as session:
            instance = self._lock_row(session, ctx, uuid)
            check_state(
                action,
                uuid,
                instance.vm_state,
                instance.task_state,
                vm_states=_MOVABLE,
                task_states_allowed=_NO_TASK,
            )
            if instance.host is None:
                raise Conflict(f"Instance {uuid} is not ready")
            current = dict(instance.flavor or {})
            if flavor_ref is None:
                flavor = current
            else:
                flavor = self._new_flavor(session, ctx, flavor_ref, current)
                if not _is_volume_backed(session, uuid):
                    self._check_disk(current, flavor)
            if host is not None:
                self._check_host(session, host)
                if host == instance.host:
                    raise BadRequest("Cannot migrate to the host where the server exists.")
            task_id = self._start_task(session, ctx, instance, action, task_states.RESIZE_PREP)
        self.conductor.migrate_server(
            ctx,
            uuid,
            task_id,
            flavor,
            host,
            "resize" if flavor_ref is not None else "migration",
        )

    @staticmethod
    def _new_flavor(
        session: Session, ctx: RequestContext, ref: str, current: dict[str, Any]
    ) -> dict[str, Any]:
        flavor_id = ref.rstrip("/").rsplit("/", 1)[-1]
        row = flavor_row(session, flavor_id)
        if row is None or row.disabled or (not row.is_public and not ctx.is_admin):
            raise BadRequest("Unable to locate requested flavor.")
        if row.flavorid == str(current.get("id")):
            raise BadRequest("When resizing, instances must change flavor!")
        return flavor_snapshot(row)

    @staticmethod
    def _check_disk(current: dict[str, Any], new: dict[str, Any]) -> None:
        old_root, new_root = int(current.get("root_gb") or 0), int(new.get("root_gb") or 0)
        if new_root == 0 and old_root != 0:
            reason = "Resize to zero disk flavor is not allowed."
        elif new_root < old_root or int(new.get("ephemeral_gb") or 0) < int(
            current.get("ephemeral_gb") or 0
        ):
            reason = "Unable to resize disk down."
        else:
            return
        raise BadRequest(f"Server disk was unable to be resized because: {reason}")

    def _finished_migration(self, session: Session, uuid: str) -> Migration:
        migration = session.scalars(
            select(Migration)
            .where(Migration.instance_uuid == uuid, Migration.status == "finished")
            .order_by(Migration.id.desc())
            .with_for_update()
        ).first()
        if migration is None:
            raise BadRequest("Instance has not been resized.")
        return migration

    def confirm(self, ctx: RequestContext, uuid: str) -> None:
        """confirmResize: the source copy and allocation go (``confirming``)."""
        source, migration_uuid, task_id = self._close_resize(
            ctx, uuid, "confirmResize", "confirming", None, side="source_compute"
        )
        self.compute.confirm_resize(ctx, source, uuid, task_id, migration_uuid)

    def revert(self, ctx: RequestContext, uuid: str) -> None:
        """revertResize: back on the source with the old flavor (``reverting``)."""
        dest, migration_uuid, task_id = self._close_resize(
            ctx,
            uuid,
            "revertResize",
            "reverting",
            task_states.RESIZE_REVERTING,
            side="dest_compute",
        )
        self.compute.revert_resize(ctx, dest, uuid, task_id, migration_uuid)

    def _close_resize(
        self,
        ctx: RequestContext,
        uuid: str,
        action: str,
        status: str,
        task_state: str | None,
        *,
        side: str,
    ) -> tuple[str, str, str]:
        """Start confirming or reverting a resized server: the host on ``side`` of its
        finished migration (``source_compute`` or ``dest_compute``), which does the work,
        the migration's uuid and the new task id."""
        with self.runtime.store.session() as session:
            instance = self._lock_row(session, ctx, uuid)
            check_state(
                action,
                uuid,
                instance.vm_state,
                instance.task_state,
                vm_states=frozenset({states.RESIZED}),
                task_states_allowed=_NO_TASK,
            )
            migration = self._finished_migration(session, uuid)
            migration.status = status
            host, migration_uuid = getattr(migration, side), migration.uuid
            task_id = self._start_task(session, ctx, instance, action, task_state)
        if host is None:  # pragma: no cover - a finished migration has both hosts
            which = "source" if side == "source_compute" else "destination"
            raise Conflict(f"Migration of {uuid} has no {which} host")
        return host, migration_uuid, task_id

    # -- live ------------------------------------------------------------------------------
    def live_migrate(
        self, ctx: RequestContext, uuid: str, host: str | None, block_migration: bool | None
    ) -> None:
        """os-migrateLive (``block_migration`` None is "auto")."""
        now = self.runtime.clock.now()
        with self.runtime.store.transaction() as connection:
            found = connection.execute(_LIVE_STATE, {"uuid": uuid}).mappings().first()
            if found is None:
                raise instance_not_found(uuid)
            row = dict(found)
            _check_visible(ctx, uuid, row["deleted"], row["project_id"], row["locked"])
            check_state(
                "os-migrateLive",
                uuid,
                row["vm_state"],
                row["task_state"],
                vm_states=_LIVE_MOVABLE,
                task_states_allowed=_NO_TASK,
            )
            if row["host"] is None:
                raise Conflict(f"Instance {uuid} is not ready")
            if host is not None:
                self._check_host(connection, host)
            record_action(connection, ctx, uuid, "live-migration", now)
            task_id = new_uuid()
            _start_task_row(connection, row, task_states.MIGRATING, task_id, now)
        self.conductor.live_migrate_instance(ctx, uuid, task_id, host, block_migration)

    def _live_migration(
        self, session: Session, ctx: RequestContext, uuid: str, migration_id: str, verb: str
    ) -> tuple[Instance, Migration]:
        instance = self._lock_row(session, ctx, uuid)
        migration = None
        if migration_id.isdigit():
            migration = session.get(Migration, int(migration_id))
        if migration is None or migration.instance_uuid != uuid:
            raise NotFound(f"Instance {uuid} is not migrating: migration {migration_id} not found")
        if migration.migration_type != "live-migration":
            raise BadRequest(f"Migration {migration_id} is not a live migration.")
        allowed = LIVE_IN_PROGRESS if verb == "abort" else ("running",)
        if migration.status not in allowed:
            raise BadRequest(
                f"Migration {migration_id} state of instance {uuid} is {migration.status}. "
                f"Cannot {verb} while the migration is in this state."
            )
        return instance, migration

    def abort(self, ctx: RequestContext, uuid: str, migration_id: str) -> None:
        """DELETE servers/{id}/migrations/{mid}: abort the live migration (queued or
        preparing ones are cancelled before they start)."""
        with self.runtime.store.session() as session:
            instance, migration = self._live_migration(session, ctx, uuid, migration_id, "abort")
            record_action(session, ctx, uuid, "live_migration_cancel", self.runtime.clock.now())
            source, migration_uuid = instance.host, migration.uuid
            if migration.status in ("queued", "preparing"):
                migration.status = "cancelled"
                return
        if source is not None:
            self.compute.live_migration_abort(ctx, source, uuid, migration_uuid)

    def force_complete(self, ctx: RequestContext, uuid: str, migration_id: str) -> None:
        """force_complete of servers/{id}/migrations/{mid}: post-copy or pause."""
        with self.runtime.store.session() as session:
            instance, migration = self._live_migration(
                session, ctx, uuid, migration_id, "force_complete"
            )
            if instance.task_state != task_states.MIGRATING:
                raise Conflict(
                    f"Cannot 'force_complete' instance {uuid} while it is in task_state "
                    f"{instance.task_state}"
                )
            record_action(
                session, ctx, uuid, "live_migration_force_complete", self.runtime.clock.now()
            )
            source, migration_uuid = instance.host, migration.uuid
        if source is not None:
            self.compute.live_migration_force_complete(ctx, source, uuid, migration_uuid)
