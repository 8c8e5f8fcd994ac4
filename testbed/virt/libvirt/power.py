"""libvirt domain states -> Nova power states (as ``nova.virt.libvirt.guest`` maps them)."""

from __future__ import annotations

from typing import Any

from testbed.compute.states import power_state

__all__ = ["power_state_of"]

# libvirt's virDomainState names, looked up on the module in use (never retyped).
_MAP = {
    "VIR_DOMAIN_NOSTATE": power_state.NOSTATE,
    "VIR_DOMAIN_RUNNING": power_state.RUNNING,
    # the guest is blocked on a resource: still running as far as Nova is concerned
    "VIR_DOMAIN_BLOCKED": power_state.RUNNING,
    "VIR_DOMAIN_PAUSED": power_state.PAUSED,
    # "being shut down" is still reported as shutdown, like shut off
    "VIR_DOMAIN_SHUTDOWN": power_state.SHUTDOWN,
    "VIR_DOMAIN_SHUTOFF": power_state.SHUTDOWN,
    "VIR_DOMAIN_CRASHED": power_state.CRASHED,
    "VIR_DOMAIN_PMSUSPENDED": power_state.SUSPENDED,
}

_cache: dict[int, dict[int, int]] = {}


def power_state_of(libvirt: Any, domain_state: int) -> int:
    """The power state for a libvirt domain state of ``libvirt`` (the module)."""
    table = _cache.get(id(libvirt))
    if table is None:
        table = {getattr(libvirt, name): value for name, value in _MAP.items()}
        _cache[id(libvirt)] = table
    return table.get(domain_state, power_state.NOSTATE)
