"""Resource claims: allocations written in the transaction that re-checks capacity.

A claim is one conditional ``UPDATE compute_nodes SET *_used = *_used + want WHERE
capacity still allows it`` plus an ``allocations`` row, in one transaction.  The
condition is evaluated by the database on the row it updates, so concurrent claims can
never push a node past its allocation ratios, whatever the scheduler read before.
``compute_nodes.*_used`` is thereby always the sum of the node's allocations (the compute
host's periodic resource update recomputes it from them, healing any drift).

These functions take an open transaction (a session or a Core connection) so callers can
put a claim in the same transaction as their own writes; they are the one place that
writes allocations (the scheduler, the conductor when it moves a build to an alternate,
the compute host when it frees them).
"""

from __future__ import annotations

import math
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, update

from testbed.compute.models import Allocation, ComputeNode
from testbed.scheduler.host_state import Resources
from testbed.store.db import Store, Transaction, core
from testbed.trace import Tracer

__all__ = [
    "claim",
    "recompute_usage",
    "release",
    "resources_from_spec",
]


def resources_from_spec(request_spec: dict[str, Any]) -> Resources:
    """What one instance of a request consumes (Nova's resources_from_flavor).

    Disk is root + ephemeral + swap (MB rounded up to GB); a server booted from a volume
    does not use local disk for its root.
    """
    flavor = request_spec.get("flavor") or {}
    vcpus = int(flavor.get("vcpus", 0))
    memory_mb = int(flavor.get("memory_mb", flavor.get("ram", 0)))
    root_gb = int(flavor.get("root_gb", flavor.get("disk", 0)))
    ephemeral_gb = int(flavor.get("ephemeral_gb", flavor.get("ephemeral", 0)) or 0)
    swap_gb = math.ceil(int(flavor.get("swap", 0) or 0) / 1024)
    if request_spec.get("is_bfv"):
        root_gb = 0
    return Resources(vcpus=vcpus, memory_mb=memory_mb, disk_gb=root_gb + ephemeral_gb + swap_gb)


_NODES = cast(Table, ComputeNode.__table__)
_NODE = _NODES.c
_ALLOCATIONS = cast(Table, Allocation.__table__)
_ALLOC = _ALLOCATIONS.c

# Built once: SQLAlchemy then reuses the compiled statement for every claim.
_EXISTING = select(_ALLOC.id).where(
    _ALLOC.consumer_uuid == bindparam("consumer"), _ALLOC.node_uuid == bindparam("node")
)
_CLAIM = (
    update(_NODES)
    .where(
        _NODE.uuid == bindparam("node"),
        _NODE.vcpus >= bindparam("want_vcpus"),
        _NODE.memory_mb >= bindparam("want_memory_mb"),
        _NODE.local_gb >= bindparam("want_disk_gb"),
        _NODE.vcpus_used + bindparam("want_vcpus") <= _NODE.vcpus * _NODE.cpu_allocation_ratio,
        _NODE.memory_mb_used + bindparam("want_memory_mb")
        <= _NODE.memory_mb * _NODE.ram_allocation_ratio,
        _NODE.local_gb_used + bindparam("want_disk_gb")
        <= _NODE.local_gb * _NODE.disk_allocation_ratio,
    )
    .values(
        vcpus_used=_NODE.vcpus_used + bindparam("want_vcpus"),
        memory_mb_used=_NODE.memory_mb_used + bindparam("want_memory_mb"),
        local_gb_used=_NODE.local_gb_used + bindparam("want_disk_gb"),
    )
)
_INSERT_ALLOCATION = insert(_ALLOCATIONS)
_CONSUMER = select(
    _ALLOC.id, _ALLOC.node_uuid, _ALLOC.host, _ALLOC.vcpus, _ALLOC.memory_mb, _ALLOC.disk_gb
).where(_ALLOC.consumer_uuid == bindparam("consumer"))
_CONSUMER_ON_HOST = _CONSUMER.where(_ALLOC.host == bindparam("host"))
_DELETE_ALLOCATION = delete(_ALLOCATIONS).where(_ALLOC.id == bindparam("alloc_id"))
_UNCLAIM = (
    update(_NODES)
    .where(_NODE.uuid == bindparam("node"))
    .values(
        vcpus_used=_NODE.vcpus_used - bindparam("want_vcpus"),
        memory_mb_used=_NODE.memory_mb_used - bindparam("want_memory_mb"),
        local_gb_used=_NODE.local_gb_used - bindparam("want_disk_gb"),
    )
)


def claim(
    tx: Transaction,
    *,
    node_uuid: str,
    host: str,
    consumer_uuid: str,
    want: Resources,
    project_id: str | None,
    tracer: Tracer | None = None,
) -> bool:
    """Allocate ``want`` on the node for the consumer; False if it no longer fits.

    A consumer already holding an allocation on this node is not charged twice.
    """
    connection = core(tx)
    if connection.execute(_EXISTING, {"consumer": consumer_uuid, "node": node_uuid}).first():
        return True
    params = {
        "node": node_uuid,
        "want_vcpus": want.vcpus,
        "want_memory_mb": want.memory_mb,
        "want_disk_gb": want.disk_gb,
    }
    if connection.execute(_CLAIM, params).rowcount != 1:
        return False
    connection.execute(
        _INSERT_ALLOCATION,
        {
            "consumer_uuid": consumer_uuid,
            "node_uuid": node_uuid,
            "host": host,
            "vcpus": want.vcpus,
            "memory_mb": want.memory_mb,
            "disk_gb": want.disk_gb,
            "project_id": project_id,
        },
    )
    Store.of(tx).trace_write("INSERT", "allocations")
    _trace_usage(tracer, consumer_uuid, host, "claim")
    return True


def release(
    tx: Transaction,
    consumer_uuid: str,
    *,
    host: str | None = None,
    tracer: Tracer | None = None,
) -> int:
    """Drop the consumer's allocations (only on ``host`` when given); returns how many."""
    connection = core(tx)  # a session's pending allocations count too
    query = _CONSUMER_ON_HOST if host is not None else _CONSUMER
    allocations = connection.execute(query, {"consumer": consumer_uuid, "host": host}).all()
    store = Store.of(tx)
    for alloc_id, node_uuid, alloc_host, vcpus, memory_mb, disk_gb in allocations:
        connection.execute(
            _UNCLAIM,
            {
                "node": node_uuid,
                "want_vcpus": vcpus,
                "want_memory_mb": memory_mb,
                "want_disk_gb": disk_gb,
            },
        )
        connection.execute(_DELETE_ALLOCATION, {"alloc_id": alloc_id})
        store.trace_write("DELETE", "allocations")
        _trace_usage(tracer, consumer_uuid, alloc_host, "release")
    return len(allocations)


def recompute_usage(tx: Transaction, node_uuid: str) -> tuple[int, int, int]:
    """Set the node's usage to the sum of its allocations; returns (vcpus, ram, disk)."""
    connection = core(tx)
    vcpus, memory_mb, disk_gb = connection.execute(
        select(
            func.coalesce(func.sum(Allocation.vcpus), 0),
            func.coalesce(func.sum(Allocation.memory_mb), 0),
            func.coalesce(func.sum(Allocation.disk_gb), 0),
        ).where(Allocation.node_uuid == node_uuid)
    ).one()
    connection.execute(
        update(_NODES)
        .where(_NODE.uuid == node_uuid)
        .values(vcpus_used=vcpus, memory_mb_used=memory_mb, local_gb_used=disk_gb)
    )
    return int(vcpus), int(memory_mb), int(disk_gb)


def _trace_usage(tracer: Tracer | None, consumer_uuid: str, host: str, verb: str) -> None:
    """The conditional usage UPDATE bypasses the ORM, so it is traced here."""
    if tracer is None:
        return
    tracer.record_here(
        "db",
        name="UPDATE compute_nodes",
        instance_uuid=consumer_uuid,
        detail={"host": host, "allocation": verb},
    )
