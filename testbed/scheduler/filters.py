"""Host filters: each says whether one host can take one instance of a request.

Names and behaviour follow Nova's filter scheduler (``nova/scheduler/filters``);
``ResourceFilter`` stands for what placement checks in Nova (vCPU, RAM and disk under the
allocation ratios).  ``Config.enabled_filters`` picks which run, in order.
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from testbed.config import ConfigError
from testbed.scheduler.host_state import HostState, Resources

__all__ = ["FILTERS", "FilterRequest", "HostFilter", "build_filters"]


@dataclass
class FilterRequest:
    """What the filters look at for one instance of a request."""

    spec: dict[str, Any]
    want: Resources
    #: hosts of the server group's members (placed earlier or earlier in this request),
    #: with how many members each runs.
    group_hosts: Counter[str] = field(default_factory=Counter)

    @property
    def group_policy(self) -> str | None:
        """The server group's policy (affinity, anti-affinity, soft-...), if any."""
        group = self.spec.get("server_group") or {}
        policy = group.get("policy") or (group.get("policies") or [None])[0]
        return str(policy) if policy else None


class HostFilter:
    """Base of the filters.  ``name`` is what ``enabled_filters`` lists."""

    name: ClassVar[str] = ""

    def applies(self, request: FilterRequest) -> bool:
        """False when the filter would pass every host for this request (it is skipped)."""
        return True

    def host_passes(self, host: HostState, request: FilterRequest) -> bool:
        """True if ``host`` may take the instance."""
        raise NotImplementedError

    def filter_all(self, hosts: list[HostState], request: FilterRequest) -> list[HostState]:
        """The hosts that pass, in order (Nova's ``filter_all``).  Filters every request
        runs override it with one comprehension: a call per host and filter is most of
        the scheduler's time over a hundred hosts."""
        return [host for host in hosts if self.host_passes(host, request)]


class AvailabilityZoneFilter(HostFilter):
    """The host is in the requested availability zone (if one was requested)."""

    name = "AvailabilityZoneFilter"

    def applies(self, request: FilterRequest) -> bool:
        return bool(request.spec.get("availability_zone"))

    def host_passes(self, host: HostState, request: FilterRequest) -> bool:
        zone = request.spec.get("availability_zone")
        if not zone:
            return True
        return host.availability_zone == str(zone).split(":", 1)[0]


class ComputeFilter(HostFilter):
    """The host's compute service is up and enabled."""

    name = "ComputeFilter"

    def host_passes(self, host: HostState, request: FilterRequest) -> bool:
        return host.service_up and not host.service_disabled

    def filter_all(self, hosts: list[HostState], request: FilterRequest) -> list[HostState]:
        return [host for host in hosts if host.service_up and not host.service_disabled]


class ResourceFilter(HostFilter):
    """vCPU, RAM and disk fit under the host's allocation ratios (placement's check)."""

    name = "ResourceFilter"

    def host_passes(self, host: HostState, request: FilterRequest) -> bool:
        return host.fits(request.want)

    def filter_all(self, hosts: list[HostState], request: FilterRequest) -> list[HostState]:
        vcpus, memory_mb, disk_gb = request.want.vcpus, request.want.memory_mb, request.want.disk_gb
        return [  # HostState.fits, inlined
            h
            for h in hosts
            if vcpus <= h.vcpus
            and memory_mb <= h.memory_mb
            and disk_gb <= h.local_gb
            and h.vcpus_used + vcpus <= h.vcpus * h.cpu_allocation_ratio
            and h.memory_mb_used + memory_mb <= h.memory_mb * h.ram_allocation_ratio
            and h.local_gb_used + disk_gb <= h.local_gb * h.disk_allocation_ratio
        ]


class ServerGroupAntiAffinityFilter(HostFilter):
    """No more members of an anti-affinity group on the host than the group's
    ``max_server_per_host`` rule allows (1 by default)."""

    name = "ServerGroupAntiAffinityFilter"

    def applies(self, request: FilterRequest) -> bool:
        return request.group_policy == "anti-affinity"

    def host_passes(self, host: HostState, request: FilterRequest) -> bool:
        if request.group_policy != "anti-affinity":
            return True
        rules = (request.spec.get("server_group") or {}).get("rules") or {}
        limit = int(rules.get("max_server_per_host", 1))
        return request.group_hosts[host.host] < limit


class ServerGroupAffinityFilter(HostFilter):
    """Members of an affinity group all land on the host the first one landed on."""

    name = "ServerGroupAffinityFilter"

    def applies(self, request: FilterRequest) -> bool:
        return request.group_policy == "affinity" and bool(request.group_hosts)

    def host_passes(self, host: HostState, request: FilterRequest) -> bool:
        if request.group_policy != "affinity" or not request.group_hosts:
            return True
        return host.host in request.group_hosts


class ComputeCapabilitiesFilter(HostFilter):
    """Flavor extra specs in the ``capabilities:`` scope match the host's attributes
    (``capabilities:hypervisor_type``, ``capabilities:cpu_info:arch``...)."""

    name = "ComputeCapabilitiesFilter"

    def applies(self, request: FilterRequest) -> bool:
        return bool((request.spec.get("flavor") or {}).get("extra_specs"))

    def host_passes(self, host: HostState, request: FilterRequest) -> bool:
        specs = (request.spec.get("flavor") or {}).get("extra_specs") or {}
        for key, wanted in specs.items():
            scope = str(key).split(":")
            if len(scope) == 1:
                if not hasattr(host, scope[0]):
                    continue
            elif scope[0] != "capabilities":
                continue
            else:
                scope = scope[1:]
            value: Any = host
            for part in scope:
                value = value.get(part) if isinstance(value, dict) else getattr(value, part, None)
                if value is None:
                    return False
            if not match_extra_spec(value, str(wanted)):
                return False
        return True


_ARCH_ALIASES = {"amd64": "x86_64", "x64": "x86_64", "i386": "i686", "arm64": "aarch64"}


class ImagePropertiesFilter(HostFilter):
    """The image's architecture, hypervisor type and VM mode are ones the host runs."""

    name = "ImagePropertiesFilter"

    def applies(self, request: FilterRequest) -> bool:
        return bool((request.spec.get("image") or {}).get("properties"))

    def host_passes(self, host: HostState, request: FilterRequest) -> bool:
        image = request.spec.get("image") or {}
        props = dict(image.get("properties") or {})
        arch = props.get("hw_architecture") or props.get("architecture")
        hv_type = props.get("img_hv_type") or props.get("hypervisor_type")
        vm_mode = props.get("hw_vm_mode") or props.get("vm_mode")
        if arch:
            host_arch = str(host.cpu_info.get("arch", "x86_64"))
            if _ARCH_ALIASES.get(str(arch).lower(), str(arch).lower()) != host_arch:
                return False
        if hv_type and str(hv_type).lower() not in ("qemu", host.hypervisor_type.lower()):
            return False
        return not (vm_mode and str(vm_mode).lower() != "hvm")


FILTERS: dict[str, type[HostFilter]] = {
    cls.name: cls
    for cls in (
        AvailabilityZoneFilter,
        ComputeFilter,
        ResourceFilter,
        ServerGroupAntiAffinityFilter,
        ServerGroupAffinityFilter,
        ComputeCapabilitiesFilter,
        ImagePropertiesFilter,
    )
}


def build_filters(names: tuple[str, ...]) -> list[HostFilter]:
    """The filters ``enabled_filters`` names, in order; unknown names are refused."""
    unknown = [n for n in names if n not in FILTERS]
    if unknown:
        raise ConfigError(
            f"unknown scheduler filter(s) {', '.join(unknown)}; known: {', '.join(FILTERS)}"
        )
    return [FILTERS[n]() for n in names]


# -- extra spec matching (Nova's extra_specs_ops) -----------------------------------------
def _num(op: Callable[[float, float], bool]) -> Callable[[Any, str], bool]:
    def compare(value: Any, operand: str) -> bool:
        try:
            return op(float(value), float(operand))
        except (TypeError, ValueError):
            return False

    return compare


def _str(op: Callable[[str, str], bool]) -> Callable[[Any, str], bool]:
    return lambda value, operand: op(str(value), operand)


_OPS: dict[str, Callable[[Any, str], bool]] = {
    "=": _num(operator.ge),
    "==": _num(operator.eq),
    "!=": _num(operator.ne),
    ">=": _num(operator.ge),
    "<=": _num(operator.le),
    "s==": _str(operator.eq),
    "s!=": _str(operator.ne),
    "s<": _str(operator.lt),
    "s<=": _str(operator.le),
    "s>": _str(operator.gt),
    "s>=": _str(operator.ge),
    "<in>": lambda value, operand: operand in str(value),
}


def match_extra_spec(value: Any, wanted: str) -> bool:
    """Whether a host attribute satisfies an extra spec (``">= 4"``, ``"<or> a <or> b"``,
    ``"s== x"``, ``"<in> sse"`` or a plain value compared as a string)."""
    words = wanted.split()
    if not words:
        return False
    if words[0] == "<or>":
        return str(value) in words[1::2]
    if words[0] == "<all-in>":
        return all(w in value for w in words[1:]) if isinstance(value, list | str) else False
    op = _OPS.get(words[0])
    if op is None:
        return str(value) == wanted
    return op(value, " ".join(words[1:]))
