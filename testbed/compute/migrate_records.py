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
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from testbed.compute.models import Allocation, ComputeNode, Instance, Migration
from testbed.context import current_context, current_service
from testbed.scheduler import claims
from testbed.service import Runtime
from testbed.trace import Tracer

__all__ = [
    "PROGRESS_FIELDS",
    "MigrationRecords",
    "give_back_allocations",
    "hand_over_allocations",
    "migration_payload",
    "node_of",
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


def migration_payload(m: Migration) -> dict[str, Any]:
    """A migration as the services pass it around (JSON-safe)."""
    data = {name: getattr(m, name) for name in _FIELDS}
    data["details"] = dict(m.details or {})
    return data


def _trace(tracer: Tracer | None, consumer: str, verb: str, detail: dict[str, Any]) -> None:
    if tracer is None:
        return
    ctx = current_context()
    tracer.record(
        "db",
        request_id=ctx.request_id if ctx else "req-internal",
        source=current_service(),
        name="UPDATE allocations",
        instance_uuid=consumer,
        detail={"allocation": verb, **detail},
    )


def hand_over_allocations(
    session: Session, instance_uuid: str, migration_uuid: str, *, tracer: Tracer | None = None
) -> int:
    """The instance's allocations become the migration's (usage does not change)."""
    result = session.execute(
        update(Allocation)
        .where(Allocation.consumer_uuid == instance_uuid)
        .values(consumer_uuid=migration_uuid)
        .execution_options(synchronize_session=False)
    )
    _trace(tracer, instance_uuid, "hand to migration", {"migration": migration_uuid})
    return int(getattr(result, "rowcount", 0) or 0)


def give_back_allocations(
    session: Session,
    instance_uuid: str,
    migration_uuid: str,
    *,
    dest_host: str | None,
    tracer: Tracer | None = None,
) -> None:
    """Undo a move's allocations: drop the instance's claim on ``dest_host`` (if any)
    and give the migration's source allocation back to the instance."""
    if dest_host is not None:
        claims.release(session, instance_uuid, host=dest_host, tracer=tracer)
    session.flush()
    session.execute(
        update(Allocation)
        .where(Allocation.consumer_uuid == migration_uuid)
        .values(consumer_uuid=instance_uuid)
        .execution_options(synchronize_session=False)
    )
    _trace(tracer, instance_uuid, "take back from migration", {"migration": migration_uuid})


def node_of(session: Session, host: str) -> ComputeNode | None:
    """The compute node of ``host``."""
    return session.scalars(select(ComputeNode).where(ComputeNode.host == host)).first()


class MigrationRecords:
    """Reads and writes of migration rows (each a short transaction)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def load(self, migration_uuid: str) -> dict[str, Any] | None:
        """The migration, or None."""
        with self.runtime.store.session() as s:
            m = s.scalars(select(Migration).where(Migration.uuid == migration_uuid)).first()
            return migration_payload(m) if m is not None else None

    def update(
        self,
        migration_uuid: str,
        *,
        expect_status: tuple[str, ...] | None = None,
        details: dict[str, Any] | None = None,
        release: bool = False,
        give_back: tuple[str, str | None] | None = None,
        **values: Any,
    ) -> dict[str, Any] | None:
        """Change a migration; None (nothing changed) when its status is not one of
        ``expect_status``.  ``details`` are merged into its details; ``release`` drops
        the allocations the migration holds; ``give_back`` = (instance uuid, dest host)
        undoes the move's allocations (see :func:`give_back_allocations`)."""
        tracer = self.runtime.tracer
        with self.runtime.store.session() as s:
            m = s.scalars(
                select(Migration).where(Migration.uuid == migration_uuid).with_for_update()
            ).first()
            if m is None or (expect_status is not None and m.status not in expect_status):
                return None
            for name, value in values.items():
                setattr(m, name, value)
            if details:
                m.details = {**(m.details or {}), **details}
            if release:
                claims.release(s, migration_uuid, tracer=tracer)
            if give_back is not None:
                give_back_allocations(
                    s, give_back[0], migration_uuid, dest_host=give_back[1], tracer=tracer
                )
            return migration_payload(m)

    def progress(self, migration_uuid: str, counters: dict[str, int]) -> None:
        """Record a running live migration's byte counters."""
        values = {k: int(v) for k, v in counters.items() if k in PROGRESS_FIELDS}
        if not values:
            return
        with self.runtime.store.session() as s:
            s.execute(
                update(Migration)
                .where(Migration.uuid == migration_uuid)
                .values(**values)
                .execution_options(synchronize_session=False)
            )

    def flavors(self, instance_uuid: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The instance's (old_flavor, new_flavor) during a resize (empty dicts if unset)."""
        with self.runtime.store.session() as s:
            inst = s.get(Instance, instance_uuid)
            if inst is None:
                return {}, {}
            return dict(inst.old_flavor or {}), dict(inst.new_flavor or {})

    def open_for(self, instance_uuid: str, statuses: tuple[str, ...]) -> dict[str, Any] | None:
        """The instance's latest migration in one of ``statuses``."""
        with self.runtime.store.session() as s:
            m = s.scalars(
                select(Migration)
                .where(Migration.instance_uuid == instance_uuid, Migration.status.in_(statuses))
                .order_by(Migration.id.desc())
            ).first()
            return migration_payload(m) if m is not None else None
