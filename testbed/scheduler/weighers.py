"""Host weighers: order the hosts that passed the filters, best first.

As in Nova, each weigher's raw values are normalised to [0, 1] over the candidate hosts,
multiplied by the weigher's multiplier and summed; a positive multiplier spreads (the most
free RAM / CPU / disk wins), a negative one stacks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from testbed.config import Config, ConfigError
from testbed.scheduler.filters import FilterRequest
from testbed.scheduler.host_state import HostState

__all__ = ["WEIGHERS", "Weigher", "build_weighers", "weigh"]


class Weigher:
    """Base of the weighers.  ``name`` is what ``Config.weighers`` lists."""

    name: ClassVar[str] = ""
    multiplier_option: ClassVar[str | None] = None

    def __init__(self, config: Config) -> None:
        option = self.multiplier_option
        self.multiplier: float = float(getattr(config, option)) if option else 1.0

    def applies(self, request: FilterRequest) -> bool:
        """Whether this weigher can tell hosts apart for ``request`` (one that gives
        every host the same weight is skipped)."""
        return True

    def raw(self, host: HostState, request: FilterRequest) -> float:
        """The unnormalised weight of ``host``."""
        raise NotImplementedError

    def raw_all(self, hosts: list[HostState], request: FilterRequest) -> list[float]:
        """The unnormalised weights of ``hosts`` (Nova's ``weigh_objects``); the weighers
        every request runs override it with one comprehension."""
        return [self.raw(host, request) for host in hosts]


class RAMWeigher(Weigher):
    """Free physical RAM."""

    name = "RAMWeigher"
    multiplier_option = "ram_weight_multiplier"

    def raw(self, host: HostState, request: FilterRequest) -> float:
        return float(host.free_ram_mb)

    def raw_all(self, hosts: list[HostState], request: FilterRequest) -> list[float]:
        return [float(h.memory_mb - h.memory_mb_used) for h in hosts]


class CPUWeigher(Weigher):
    """vCPUs left under the allocation ratio."""

    name = "CPUWeigher"
    multiplier_option = "cpu_weight_multiplier"

    def raw(self, host: HostState, request: FilterRequest) -> float:
        return host.vcpus_free

    def raw_all(self, hosts: list[HostState], request: FilterRequest) -> list[float]:
        return [h.vcpus * h.cpu_allocation_ratio - h.vcpus_used for h in hosts]


class DiskWeigher(Weigher):
    """Free local disk."""

    name = "DiskWeigher"
    multiplier_option = "disk_weight_multiplier"

    def raw(self, host: HostState, request: FilterRequest) -> float:
        return float(host.free_disk_mb)

    def raw_all(self, hosts: list[HostState], request: FilterRequest) -> list[float]:
        return [float((h.local_gb - h.local_gb_used) * 1024) for h in hosts]


class ServerGroupSoftAffinityWeigher(Weigher):
    """soft-affinity: hosts already running members of the group first."""

    name = "ServerGroupSoftAffinityWeigher"

    def applies(self, request: FilterRequest) -> bool:
        return request.group_policy == "soft-affinity"

    def raw(self, host: HostState, request: FilterRequest) -> float:
        if request.group_policy != "soft-affinity":
            return 0.0
        return float(request.group_hosts[host.host])


class ServerGroupSoftAntiAffinityWeigher(Weigher):
    """soft-anti-affinity: hosts running fewer members of the group first."""

    name = "ServerGroupSoftAntiAffinityWeigher"

    def applies(self, request: FilterRequest) -> bool:
        return request.group_policy == "soft-anti-affinity"

    def raw(self, host: HostState, request: FilterRequest) -> float:
        if request.group_policy != "soft-anti-affinity":
            return 0.0
        return -float(request.group_hosts[host.host])


WEIGHERS: dict[str, type[Weigher]] = {
    cls.name: cls
    for cls in (
        RAMWeigher,
        CPUWeigher,
        DiskWeigher,
        ServerGroupSoftAffinityWeigher,
        ServerGroupSoftAntiAffinityWeigher,
    )
}


def build_weighers(config: Config) -> list[Weigher]:
    """The weighers ``Config.weighers`` names; unknown names are refused."""
    unknown = [n for n in config.weighers if n not in WEIGHERS]
    if unknown:
        raise ConfigError(
            f"unknown scheduler weigher(s) {', '.join(unknown)}; known: {', '.join(WEIGHERS)}"
        )
    return [WEIGHERS[n](config) for n in config.weighers]


def _normalize(values: Sequence[float]) -> list[float]:
    low, high = min(values), max(values)
    if high == low:
        return [0.0] * len(values)
    span = high - low
    return [(v - low) / span for v in values]


def weigh(
    hosts: list[HostState], request: FilterRequest, weighers: list[Weigher]
) -> list[HostState]:
    """``hosts`` sorted best first (stable: equal weights keep their order)."""
    if len(hosts) < 2:
        return list(hosts)
    totals = [0.0] * len(hosts)
    for weigher in weighers:
        if not weigher.multiplier or not weigher.applies(request):
            continue
        normalized = _normalize(weigher.raw_all(hosts, request))
        for i, value in enumerate(normalized):
            totals[i] += weigher.multiplier * value
    order = sorted(range(len(hosts)), key=lambda i: -totals[i])
    return [hosts[i] for i in order]
