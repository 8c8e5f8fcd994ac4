"""Migration rows and the allocations a move holds, for every service that moves instances.

A move (resize, migration, live-migration) has one :class:`~testbed.compute.models.Migration`
row, whose ``status`` walks the sequence operators see in Nova:

- cold: ``pre-migrating`` -> ``migrating`` -> ``post-migrating`` -> ``finished`` (the
  instance waits in VERIFY_RESIZE) -> ``confirming`` -> ``confirmed``, or ``reverting`` ->
  ``reverted``; ``error`` when it fails;
- live: ``accepted`` -> ``queued`` -> ``preparing`` -> ``running`` -> ``completed``, or
  ``error`` / ``cancelled`` (aborted) after a rollback.

Allocations follow Nova: when a move starts, the instance's allocation on the source is
handed to the migration (the migration uuid becomes its consumer) and the scheduler
claims the destination for the instance.  Confirm (or a completed live migration) drops
the migration's; revert (or a rollback) drops the instance's on the destination and gives
the source's back to the instance.

Every step of every move reads or writes its migration row (a live migration also writes
its progress counters while it runs), so the row is read and written with Core statements
built once (an ORM load and flush, or a statement built per call, cost several times
more); the writes are traced as the flush would trace them.  A step's action events can
be recorded in the same transaction (``events``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, select, update

from testbed.compute.models import Allocation, ComputeNode, Instance, Migration
from testbed.compute.records import Event, record_events
from testbed.context import RequestContext
from testbed.scheduler import claims
from testbed.service import Runtime
from testbed.store.base import new_uuid
from testbed.store.db import Store, Transaction, core
from testbed.store.rows import update_columns, write_changes
from testbed.trace import Tracer

__all__ = [
    "PROGRESS_FIELDS",
    "MigrationRecords",
    "give_back_allocations",
    "hand_over_allocations",
    "insert_migration",
    "migration_payload",
]

#: The progress counters of a live migration (bytes), as servers/{id}/migrations shows.
PROGRESS_FIELDS = (
    "memory_total",
    "memory_processed",
    "memory_remaining",
    "disk_total",
    "disk_processed",
    "disk_remaining",
)

_FIELDS = (
    "id",
    "uuid",
    "instance_uuid",
    "migration_type",
    "status",
    "source_compute",
    "dest_compute",
    "source_node",
    "dest_node",
    "dest_host",
    "old_flavor_id",
    "new_flavor_id",
)

_MIGRATIONS = cast(Table, Migration.__table__)
_M = _MIGRATIONS.c
_ALLOC = cast(Table, Allocation.__table__).c
_NODE = cast(Table, ComputeNode.__table__).c

# Built once: SQLAlchemy then reuses the compiled statements.
_ROW = select(_MIGRATIONS).where(_M.uuid == bindparam("uuid"))
_ROW_FOR_UPDATE = _ROW.with_for_update()
_SET_STATUS = (
    update(_MIGRATIONS)
    .where(_M.uuid == bindparam("row_uuid"))
    .values(status=bindparam("new_status"), updated_at=bindparam("now"))
)
_ADVANCE = _SET_STATUS.where(_M.status.in_(bindparam("expect_status", expanding=True)))
_INSERT = insert(_MIGRATIONS)
_INSTANCE = cast(Table, Instance.__table__).c
_FLAVORS = select(_INSTANCE.old_flavor, _INSTANCE.new_flavor).where(
    _INSTANCE.uuid == bindparam("uuid")
)
_HOST_IP = select(_NODE.host_ip).where(_NODE.host == bindparam("host")).limit(1)
_MOVE_ALLOCATIONS = (
    update(cast(Table, Allocation.__table__))
    .where(_ALLOC.consumer_uuid == bindparam("from_consumer"))
    .values(consumer_uuid=bindparam("to_consumer"))
)


def migration_payload(row: Mapping[str, Any]) -> dict[str, Any]:
    """A migration as the services pass it around (JSON-safe), from its column values."""
    data = {name: row[name] for name in _FIELDS}
    data["details"] = dict(row["details"] or {})
    return data


def _trace(tracer: Tracer | None, consumer: str, verb: str, detail: dict[str, Any]) -> None:
    if tracer is None:
        return
    tracer.record_here(
        "db",
        name="UPDATE allocations",
        instance_uuid=consumer,
        detail={"allocation": verb, **detail},
    )


def _move_allocations(tx: Transaction, from_consumer: str, to_consumer: str) -> int:
    result = core(tx).execute(
        _MOVE_ALLOCATIONS, {"from_consumer": from_consumer, "to_consumer": to_consumer}
    )
    return result.rowcount


def hand_over_allocations(
    tx: Transaction, instance_uuid: str, migration_uuid: str, *, tracer: Tracer | None = None
) -> int:
    """The instance's allocations become the migration's (usage does not change)."""
    moved = _move_allocations(tx, instance_uuid, migration_uuid)
    _trace(tracer, instance_uuid, "hand to migration", {"migration": migration_uuid})
    return moved


def give_back_allocations(
    tx: Transaction,
    instance_uuid: str,
    migration_uuid: str,
    *,
    dest_host: str | None,
    tracer: Tracer | None = None,
) -> None:
    """Undo a move's allocations: drop the instance's claim on ``dest_host`` (if any)
    and give the migration's source allocation back to the instance."""
    if dest_host is not None:
        claims.release(tx, instance_uuid, host=dest_host, tracer=tracer)
    _move_allocations(tx, migration_uuid, instance_uuid)
    _trace(tracer, instance_uuid, "take back from migration", {"migration": migration_uuid})


def insert_migration(tx: Transaction, now: float, **values: Any) -> tuple[int, str]:
    """Add a migration row (``values`` by column name); returns its (id, uuid)."""
    row = {"uuid": new_uuid(), "details": {}, "created_at": now, **values}
    result = core(tx).execute(_INSERT, row)
    Store.of(tx).trace_write("INSERT", "migrations", instance_uuid=row.get("instance_uuid"))
    key = result.inserted_primary_key
    return int(key[0]) if key is not None else 0, str(row["uuid"])


def _write(
    connection: Connection, row: dict[str, Any], changes: dict[str, Any], now: float
) -> None:
    """Write what ``changes`` really changes and bring ``row`` up to date; traced like a
    flush."""
    if write_changes(connection, _MIGRATIONS, row, changes, now):
        Store.of(connection).trace_write("UPDATE", "migrations", instance_uuid=row["instance_uuid"])


class MigrationRecords:
    """Reads and writes of migration rows (each a short transaction).  ``host``: the
    service on whose behalf action events are recorded."""

    def __init__(self, runtime: Runtime, host: str | None = None) -> None:
        self.runtime = runtime
        self.host = host

    def load(self, migration_uuid: str) -> dict[str, Any] | None:
        """The migration, or None."""
        with self.runtime.store.transaction() as connection:
            found = connection.execute(_ROW, {"uuid": migration_uuid}).mappings().first()
            return migration_payload(dict(found)) if found is not None else None

    def update(
        self,
        migration_uuid: str,
        *,
        expect_status: tuple[str, ...] | None = None,
        details: dict[str, Any] | None = None,
        release: bool = False,
        give_back: tuple[str, str | None] | None = None,
        ctx: RequestContext | None = None,
        events: tuple[Event, ...] = (),
        **values: Any,
    ) -> dict[str, Any] | None:
        """Change a migration; None (nothing changed) when its status is not one of
        ``expect_status``.  ``details`` are merged into its details; ``release`` drops
        the allocations the migration holds; ``give_back`` = (instance uuid, dest host)
        undoes the move's allocations (see :func:`give_back_allocations`); ``events``
        are recorded on its instance's action of ``ctx``'s request, in the same
        transaction."""
        tracer = self.runtime.tracer
        now = self.runtime.clock.now()
        with self.runtime.store.transaction() as connection:
            found = connection.execute(_ROW_FOR_UPDATE, {"uuid": migration_uuid}).mappings().first()
            if found is None or (
                expect_status is not None and found["status"] not in expect_status
            ):
                return None
            row = dict(found)
            if details:
                values["details"] = {**(row["details"] or {}), **details}
            _write(connection, row, values, now)
            if release:
                claims.release(connection, migration_uuid, tracer=tracer)
            if give_back is not None:
                give_back_allocations(
                    connection, give_back[0], migration_uuid, dest_host=give_back[1], tracer=tracer
                )
            self._record(connection, ctx, row["instance_uuid"], events, now)
            return migration_payload(row)

    def set_status(
        self,
        migration_uuid: str,
        status: str,
        *,
        instance_uuid: str,
        expect_status: tuple[str, ...] | None = None,
    ) -> bool:
        """Move a migration of ``instance_uuid`` to ``status`` (if its status is one of
        ``expect_status``) with one conditional UPDATE; whether it moved.  For the steps
        that change nothing but the status (:meth:`update` reads the row first)."""
        params: dict[str, Any] = {
            "row_uuid": migration_uuid,
            "new_status": status,
            "now": self.runtime.clock.now(),
        }
        statement = _SET_STATUS
        if expect_status is not None:
            statement, params["expect_status"] = _ADVANCE, list(expect_status)
        with self.runtime.store.transaction() as connection:
            moved = connection.execute(statement, params).rowcount > 0
            if moved:
                Store.of(connection).trace_write(
                    "UPDATE", "migrations", instance_uuid=instance_uuid
                )
            return moved

    def set_destination(
        self,
        migration_uuid: str,
        host: str,
        node: str,
        *,
        ctx: RequestContext | None = None,
        events: tuple[Event, ...] = (),
    ) -> dict[str, Any] | None:
        """The destination the scheduler picked: ``dest_compute``, ``dest_node`` and
        ``dest_host`` (the node's ``host_ip``, else the host name); ``events`` as in
        :meth:`update`."""
        now = self.runtime.clock.now()
        with self.runtime.store.transaction() as connection:
            found = connection.execute(_ROW_FOR_UPDATE, {"uuid": migration_uuid}).mappings().first()
            if found is None:
                return None
            row = dict(found)
            host_ip = connection.execute(_HOST_IP, {"host": host}).scalar()
            _write(
                connection,
                row,
                {"dest_compute": host, "dest_node": node, "dest_host": host_ip or host},
                now,
            )
            self._record(connection, ctx, row["instance_uuid"], events, now)
            return migration_payload(row)

    def _record(
        self,
        tx: Transaction,
        ctx: RequestContext | None,
        instance_uuid: str,
        events: tuple[Event, ...],
        now: float,
    ) -> None:
        if not events:
            return
        if ctx is None:
            raise ValueError("action events need the request's context")
        record_events(tx, ctx, instance_uuid, events, now=now, host=self.host)

    def progress(self, migration_uuid: str, counters: dict[str, int]) -> None:
        """Record a running live migration's byte counters."""
        values = {k: int(v) for k, v in counters.items() if k in PROGRESS_FIELDS}
        if not values:
            return
        with self.runtime.store.transaction() as connection:
            update_columns(connection, _MIGRATIONS, migration_uuid, values)

    def flavors(self, instance_uuid: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The instance's (old_flavor, new_flavor) during a resize (empty dicts if unset)."""
        with self.runtime.store.transaction() as connection:
            found = connection.execute(_FLAVORS, {"uuid": instance_uuid}).first()
            if found is None:
                return {}, {}
            return dict(found.old_flavor or {}), dict(found.new_flavor or {})
