"""What the scheduler knows about each compute host, read from the store per request.

One query joins each compute node with its ``nova-compute`` service row: capacity,
usage (kept equal to the sum of the node's allocations by the claims), allocation ratios,
availability zone and whether the service is up and enabled.  As in Nova's HostManager,
the state is read fresh for every ``select_destinations``; the claim re-checks capacity
in its own transaction, so a stale read can cost a retry but never an overcommit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, bindparam, select

from testbed.compute.models import ComputeNode, Service
from testbed.compute.servicegroup import COMPUTE_BINARY, service_is_up
from testbed.config import Config
from testbed.store.db import Store

__all__ = ["HostState", "HostStateLoader", "Resources", "load_host_states"]


@dataclass(frozen=True)
class Resources:
    """An amount of the three classes of resource a server consumes."""

    vcpus: int
    memory_mb: int
    disk_gb: int

    def to_dict(self) -> dict[str, int]:
        """A JSON-safe form."""
        return {"vcpus": self.vcpus, "memory_mb": self.memory_mb, "disk_gb": self.disk_gb}


@dataclass(slots=True)
class HostState:
    """One compute node, as the filters and weighers see it."""

    host: str
    node: str
    node_uuid: str
    availability_zone: str
    vcpus: int
    memory_mb: int
    local_gb: int
    vcpus_used: int
    memory_mb_used: int
    local_gb_used: int
    cpu_allocation_ratio: float
    ram_allocation_ratio: float
    disk_allocation_ratio: float
    hypervisor_type: str
    cpu_info: dict[str, Any]
    service_up: bool
    service_disabled: bool
    instances_in_request: int = field(default=0)

    # -- capacity, as placement computes it ------------------------------------------------
    @property
    def vcpus_limit(self) -> float:
        """vCPUs that may be allocated: total x cpu_allocation_ratio."""
        return self.vcpus * self.cpu_allocation_ratio

    @property
    def memory_mb_limit(self) -> float:
        """Memory that may be allocated: total x ram_allocation_ratio."""
        return self.memory_mb * self.ram_allocation_ratio

    @property
    def disk_gb_limit(self) -> float:
        """Disk that may be allocated: total x disk_allocation_ratio."""
        return self.local_gb * self.disk_allocation_ratio

    @property
    def free_ram_mb(self) -> int:
        """Physical memory not allocated (what the RAM weigher weighs)."""
        return self.memory_mb - self.memory_mb_used

    @property
    def free_disk_mb(self) -> int:
        """Disk not allocated, in MB (what the disk weigher weighs)."""
        return (self.local_gb - self.local_gb_used) * 1024

    @property
    def vcpus_free(self) -> float:
        """vCPUs left under the allocation ratio (what the CPU weigher weighs)."""
        return self.vcpus_limit - self.vcpus_used

    def fits(self, want: Resources) -> bool:
        """Whether ``want`` fits under the ratios, and no single request exceeds the
        physical total (placement's max_unit)."""
        return (
            want.vcpus <= self.vcpus
            and want.memory_mb <= self.memory_mb
            and want.disk_gb <= self.local_gb
            and self.vcpus_used + want.vcpus <= self.vcpus_limit
            and self.memory_mb_used + want.memory_mb <= self.memory_mb_limit
            and self.local_gb_used + want.disk_gb <= self.disk_gb_limit
        )

    def consume(self, want: Resources) -> None:
        """Account for a server placed here earlier in the same request."""
        self.vcpus_used += want.vcpus
        self.memory_mb_used += want.memory_mb
        self.local_gb_used += want.disk_gb
        self.instances_in_request += 1


_N = ComputeNode.__table__.c
_S = Service.__table__.c

# Built once (compiled once).  cpu_info, a JSON column, is read only when a node is new or
# was updated since it was last read: decoding it for 100 nodes per request would cost
# more than the rest of the read.
_STATE = (
    select(
        _N.uuid,
        _N.updated_at,
        _N.host,
        _N.hypervisor_hostname,
        _N.vcpus,
        _N.memory_mb,
        _N.local_gb,
        _N.vcpus_used,
        _N.memory_mb_used,
        _N.local_gb_used,
        _N.cpu_allocation_ratio,
        _N.ram_allocation_ratio,
        _N.disk_allocation_ratio,
        _N.hypervisor_type,
        _S.availability_zone,
        _S.disabled,
        _S.forced_down,
        _S.last_seen_up,
    )
    .select_from(
        ComputeNode.__table__.outerjoin(
            Service.__table__, and_(_S.host == _N.host, _S.binary == COMPUTE_BINARY)
        )
    )
    .order_by(_N.id)
)
_CPU_INFO = select(_N.uuid, _N.cpu_info).where(_N.uuid.in_(bindparam("uuids", expanding=True)))


class HostStateLoader:
    """Reads every compute node with its service; caches what rarely changes."""

    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.config = config
        self._cpu_info: dict[str, tuple[float | None, dict[str, Any]]] = {}

    def load(self, now: float) -> list[HostState]:
        """Every compute node with its service, in a stable order (by node id)."""
        down_time = self.config.service_down_time
        with self.store.transaction() as connection:
            rows = connection.execute(_STATE).all()
            known = self._cpu_info
            stale = [r[0] for r in rows if r[0] not in known or known[r[0]][0] != r[1]]
            if stale:
                versions = {r[0]: r[1] for r in rows}
                for uuid, cpu_info in connection.execute(_CPU_INFO, {"uuids": stale}):
                    self._cpu_info[uuid] = (versions[uuid], dict(cpu_info or {}))
        cpu_info = self._cpu_info
        return [
            HostState(
                host,
                node,
                uuid,
                az or "nova",
                vcpus,
                mem,
                disk,
                vu,
                mu,
                du,
                cr,
                rr,
                dr,
                htype,
                cpu_info[uuid][1] if uuid in cpu_info else {},
                az is not None and service_is_up(forced_down, last_seen_up, now, down_time),
                bool(disabled),
            )
            for (
                uuid,
                _updated,
                host,
                node,
                vcpus,
                mem,
                disk,
                vu,
                mu,
                du,
                cr,
                rr,
                dr,
                htype,
                az,
                disabled,
                forced_down,
                last_seen_up,
            ) in rows
        ]


def load_host_states(store: Store, config: Config, now: float) -> list[HostState]:
    """Every compute node with its service, in a stable order (by node id), uncached."""
    return HostStateLoader(store, config).load(now)
