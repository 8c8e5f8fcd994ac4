"""Hypervisor faults on real nodes, in fakevirt's vocabulary (``fakevirt.faults.Fault``).

The control API injects the same fault dicts on both backends; here each kind is done to the
real thing:

| kind | on a node container |
|---|---|
| ``host_crash`` | ``docker kill``: libvirtd and every QEMU die at once |
| ``host_recover`` | ``docker unpause`` / ``docker start``; waits until libvirtd accepts |
| ``host_hang`` | ``docker pause`` until cleared (calls fail through keepalive, ~8 s) |
| ``guest_shutdown`` | the guest powers itself off: SysRq-O sent to its keyboard |
| ``domain_state`` | ``virDomainSuspend`` / ``Resume`` / ``Destroy`` through a separate connection |
| ``ignore_shutdown`` | accepted: the tiny guest never honours ACPI shutdown requests anyway |

``guest_crash``, ``migration_failure``, ``lost_events``, ``delayed_events`` and
``slow_operation`` need an interposer between the driver and libvirt; real libvirt has
none, so they are refused (400) with the reason.
"""

from __future__ import annotations

import itertools
import threading
from typing import TYPE_CHECKING, Any

from fakevirt.faults import KINDS, ONE_SHOT, Fault
from testbed.exceptions import BadRequest

if TYPE_CHECKING:
    from testbed.virt.qemu import QemuBackend

__all__ = ["SUPPORTED", "QemuFaults"]

SUPPORTED = (
    "host_crash",
    "host_recover",
    "host_hang",
    "guest_shutdown",
    "domain_state",
    "ignore_shutdown",
)
# linux input keycodes (VIR_KEYCODE_SET_LINUX): Alt + SysRq + O = power off.
_SYSRQ_POWER_OFF = (56, 99, 24)
#: Real seconds a guest may take to power off after SysRq-O.
GUEST_POWER_OFF_TIMEOUT = 30.0


class QemuFaults:
    """The fault board of one :class:`~testbed.virt.qemu.QemuBackend`."""

    def __init__(self, backend: QemuBackend) -> None:
        self._backend = backend
        self._lock = threading.Lock()
        self._active: dict[int, Fault] = {}
        self._ids = itertools.count(1)

    def kinds(self) -> dict[str, str]:
        """The supported kinds with fakevirt's descriptions of their parameters."""
        return {kind: KINDS[kind] for kind in SUPPORTED}

    def active(self) -> list[dict[str, Any]]:
        """The faults in force (host hangs, ignored shutdowns)."""
        with self._lock:
            return [f.to_dict() for f in self._active.values()]

    def inject(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Validate ``spec`` as a fakevirt fault, carry it out; returns it with its id."""
        try:
            fault = Fault.from_dict({k: v for k, v in spec.items() if k != "id"})
        except (TypeError, ValueError) as exc:
            raise BadRequest(f"bad hypervisor fault: {exc}") from exc
        if fault.kind not in SUPPORTED:
            raise BadRequest(
                f"hypervisor fault {fault.kind!r} is not supported by the qemu backend "
                f"(real libvirt has no hook for it); supported: {', '.join(SUPPORTED)}"
            )
        if fault.host is not None and fault.host not in self._backend.hosts():
            raise BadRequest(f"bad hypervisor fault: unknown host {fault.host!r}")
        fault.id = next(self._ids)
        if fault.kind == "host_crash":
            self._crash(fault.host or "")
        elif fault.kind == "host_recover":
            self._recover(fault.host or "")
        elif fault.kind == "host_hang":
            self._backend.node(fault.host or "").pause()
        elif fault.kind in ("guest_shutdown", "domain_state"):
            self._guest(fault)
        if fault.kind not in ONE_SHOT:
            with self._lock:
                self._active[fault.id] = fault
        return fault.to_dict()

    def clear(self, fault_id: str | int | None = None) -> None:
        """Clear one fault by id (a hung host resumes) or all of them."""
        with self._lock:
            if fault_id is None:
                cleared = list(self._active.values())
                self._active.clear()
            else:
                found = self._active.pop(int(fault_id), None)
                cleared = [found] if found is not None else []
        for fault in cleared:
            if fault.kind == "host_hang":
                self._unpause(fault.host or "")

    # -- hosts ----------------------------------------------------------------------------
    def _crash(self, host: str) -> None:
        node = self._backend.node(host)
        status = node.status()
        if status == "paused":
            node.unpause()
        if status in ("running", "paused", "restarting"):
            node.kill()
        self._forget_hangs(host)

    def _recover(self, host: str) -> None:
        node = self._backend.node(host)
        self._forget_hangs(host)
        status = node.status()
        if status == "paused":
            node.unpause()
        elif status != "running":
            node.start()

    def _unpause(self, host: str) -> None:
        node = self._backend.node(host)
        if node.status() == "paused":
            node.unpause()

    def _forget_hangs(self, host: str) -> None:
        with self._lock:
            for fid, fault in list(self._active.items()):
                if fault.kind == "host_hang" and fault.host == host:
                    del self._active[fid]

    # -- guests ---------------------------------------------------------------------------
    def _guest(self, fault: Fault) -> None:
        libvirt = self._backend.libvirt
        host, name = fault.host or "", fault.domain or ""
        try:
            conn = libvirt.open(self._backend.uri(host))
        except libvirt.libvirtError as exc:
            raise BadRequest(f"bad hypervisor fault: host {host!r} is down: {exc}") from exc
        try:
            dom = self._lookup(conn, name)
            if dom is None or not dom.isActive():
                raise BadRequest(
                    f"bad hypervisor fault: domain {name!r} is not running on {host!r}"
                )
            state = dom.state(0)[0]
            if fault.kind == "guest_shutdown":
                self._power_off_from_inside(conn, dom)
            elif fault.state == "paused" and state == libvirt.VIR_DOMAIN_RUNNING:
                dom.suspend()
            elif fault.state == "running" and state == libvirt.VIR_DOMAIN_PAUSED:
                dom.resume()
            elif fault.state == "destroyed":
                dom.destroy()
        except libvirt.libvirtError as exc:
            raise BadRequest(f"bad hypervisor fault: {exc}") from exc
        finally:
            conn.close()

    def _power_off_from_inside(self, conn: Any, dom: Any) -> None:
        """SysRq-O on the guest's keyboard; returns once libvirt reports it stopped."""
        libvirt = self._backend.libvirt
        stopped = threading.Event()

        def on_lifecycle(_c: Any, _d: Any, event: int, _detail: int, _o: Any) -> None:
            if event == libvirt.VIR_DOMAIN_EVENT_STOPPED:
                stopped.set()

        callback = conn.domainEventRegisterAny(
            dom, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_lifecycle, None
        )
        try:
            dom.sendKey(libvirt.VIR_KEYCODE_SET_LINUX, 0, list(_SYSRQ_POWER_OFF), 3, 0)
            if not stopped.wait(GUEST_POWER_OFF_TIMEOUT) and dom.isActive():
                raise BadRequest(
                    f"the guest {dom.name()} did not power off within "
                    f"{GUEST_POWER_OFF_TIMEOUT:.0f} s of SysRq-O"
                )
        finally:
            conn.domainEventDeregisterAny(callback)

    def _lookup(self, conn: Any, name: str) -> Any:
        libvirt = self._backend.libvirt
        for lookup in (conn.lookupByName, conn.lookupByUUIDString):
            try:
                return lookup(name)
            except libvirt.libvirtError:
                continue
        return None
