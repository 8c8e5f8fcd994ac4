"""One libvirt module per world (World.libvirt_module) and guests that take time to power off."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

import pytest

import fakevirt
import fakevirt as lv
from tests.fakevirt.conftest import Events, domain_xml, error_of


def _world_with(host: str, **knobs: Any) -> fakevirt.World:
    w = fakevirt.World(**knobs)
    w.add_host(host)
    return w


def test_two_worlds_in_one_process_are_isolated() -> None:
    """Each bound module opens hosts of its own world only; the default world is untouched."""
    default = lv.reset()
    default.add_host("node1")
    a, b = _world_with("node1"), _world_with("node1")
    la, lb = a.libvirt_module(), b.libvirt_module()
    assert la is a.libvirt_module() and la is not lb and la.world() is a
    ca, cb = la.open("fake://node1/system"), lb.open("qemu+tcp://node1/system")
    assert ca.world is a and cb.world is b
    la.storage.create_image("node1", "/var/lib/nova/instances/vm1/disk", 1 << 20)
    ca.defineXML(domain_xml()).create()
    assert [d.name() for d in ca.listAllDomains()] == ["vm1"]
    assert cb.listAllDomains() == [] and lv.open("fake://node1/system").listAllDomains() == []
    assert lb.storage.exists("node1", "/var/lib/nova/instances/vm1/disk") is False
    code, _, _ = error_of(lambda: cb.defineXML(domain_xml()).create())  # no disk in b
    assert code == lv.VIR_ERR_SYSTEM_ERROR
    assert error_of(lambda: la.open("fake://other/system"))[0] == lv.VIR_ERR_SYSTEM_ERROR
    lv.reset()


def test_bound_module_has_libvirt_surface() -> None:
    """Constants, errors, classes and the event loop, bound to the world."""
    w = _world_with("h1")
    mod = w.libvirt_module()
    assert mod.VIR_DOMAIN_RUNNING == lv.VIR_DOMAIN_RUNNING
    assert mod.libvirtError is lv.libvirtError and mod.virDomain is lv.virDomain
    assert mod.getVersion() == 9000000
    assert mod.virEventRegisterDefaultImpl() == 0
    conn = mod.openAuth("fake://h1/system", [], lv.VIR_CONNECT_RO)
    assert error_of(lambda: conn.defineXML(domain_xml()))[0] == lv.VIR_ERR_OPERATION_DENIED
    seen: list[int] = []
    rw = mod.open("fake://h1/system")
    rw.domainEventRegisterAny(
        None, lv.VIR_DOMAIN_EVENT_ID_LIFECYCLE, lambda c, d, e, x, o: seen.append(e), None
    )
    rw.defineXML(domain_xml(disk=None))
    assert seen == [] and mod.run_pending_events() == 1 and seen == [lv.VIR_DOMAIN_EVENT_DEFINED]
    assert mod.openReadOnly("fake://h1/system").getHostname() == "h1"


class TimerClock:
    """A virtual clock with call_later (the shape of the control plane's clock)."""

    def __init__(self) -> None:
        self._now = 0.0
        self._timers: list[tuple[float, int, Callable[[], None], list[bool]]] = []
        self._seq = 0

    def now(self) -> float:
        """Current time."""
        return self._now

    def sleep(self, seconds: float) -> None:
        """Advance time, firing timers on the way."""
        self.advance(seconds)

    def call_later(self, delay: float, fn: Callable[[], None]) -> Any:
        """Schedule fn; the returned object has cancel()."""
        flag = [False]
        self._seq += 1
        heapq.heappush(self._timers, (self._now + delay, self._seq, fn, flag))

        class _Handle:
            def cancel(self) -> None:
                flag[0] = True

        return _Handle()

    def advance(self, seconds: float) -> None:
        """Move time forward, running due timers in order."""
        target = self._now + seconds
        while self._timers and self._timers[0][0] <= target:
            due, _, fn, flag = heapq.heappop(self._timers)
            self._now = due
            if not flag[0]:
                fn()
        self._now = target


def test_clean_shutdown_takes_clock_time_and_fires_on_the_clock() -> None:
    """With a clock that has call_later the guest powers off on time, events included."""
    clock = TimerClock()
    w = fakevirt.World(clock=clock, immediate_events=True)
    w.add_host("h1")
    w.add_host("h2", shutdown_seconds=30)
    mod = w.libvirt_module()
    conn = mod.open("fake://h1/system")
    ev = Events(conn)
    dom = conn.defineXML(domain_xml(disk=None))
    dom.create()
    ev.take()
    assert dom.shutdown() == 0
    assert dom.state() == [lv.VIR_DOMAIN_RUNNING, lv.VIR_DOMAIN_RUNNING_BOOTED]
    assert dom.shutdown() == 0  # a second ACPI request changes nothing
    clock.advance(1.9)
    assert ev.take() == [] and dom.isActive() == 1
    clock.advance(0.1)  # on the clock, no call needed
    assert ev.take() == [
        ("vm1", lv.VIR_DOMAIN_EVENT_SHUTDOWN, lv.VIR_DOMAIN_EVENT_SHUTDOWN_GUEST),
        ("vm1", lv.VIR_DOMAIN_EVENT_STOPPED, lv.VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN),
    ]
    dom.create()
    dom.shutdown()
    dom.destroy()  # cancels the pending power-off
    dom.create()
    clock.advance(5)
    assert dom.state() == [lv.VIR_DOMAIN_RUNNING, lv.VIR_DOMAIN_RUNNING_BOOTED]
    slow = mod.open("fake://h2/system").createXML(domain_xml("vm2", disk=None))
    slow.shutdown()
    clock.advance(29)
    assert slow.isActive() == 1
    clock.advance(1)
    assert error_of(slow.isActive)[0] == lv.VIR_ERR_NO_DOMAIN  # transient: gone


def test_shutdown_time_is_a_world_knob_and_paused_guests_wait() -> None:
    """shutdown_seconds=0 is immediate; a paused guest powers off once resumed."""
    w = _world_with("h1")
    conn = w.libvirt_module().open("fake://h1/system")
    dom = conn.defineXML(domain_xml(disk=None))
    dom.create()
    dom.shutdown()
    dom.suspend()
    w.clock.sleep(5)
    assert dom.state()[0] == lv.VIR_DOMAIN_PAUSED
    dom.resume()
    assert dom.state() == [lv.VIR_DOMAIN_SHUTOFF, lv.VIR_DOMAIN_SHUTOFF_SHUTDOWN]
    w.shutdown_seconds = 0
    dom.create()
    dom.shutdown()
    assert dom.isActive() == 0
    test_conn = w.libvirt_module().open("test:///default")
    test_conn.lookupByName("test").shutdown()  # the test driver: at once
    assert test_conn.lookupByName("test").isActive() == 0


@pytest.mark.parametrize(
    ("op", "call", "expected"),
    [
        (
            "createWithFlags",
            lambda d: d.createWithFlags(0),
            (lv.VIR_ERR_INTERNAL_ERROR, lv.VIR_FROM_QEMU, "internal error: process exited while"),
        ),
        (
            "virDomainDestroyFlags",
            lambda d: d.destroyFlags(0),
            (lv.VIR_ERR_SYSTEM_ERROR, lv.VIR_FROM_NONE, "Failed to terminate process 4001"),
        ),
        (
            "shutdown",
            lambda d: d.shutdownFlags(0),
            (lv.VIR_ERR_OPERATION_TIMEOUT, lv.VIR_FROM_QEMU, "Timed out during operation: "),
        ),
        (
            "migrateToURI3",
            lambda d: d.migrateToURI3("fake://node2/system", {}, lv.VIR_MIGRATE_PEER2PEER),
            (lv.VIR_ERR_OPERATION_FAILED, lv.VIR_FROM_QEMU, "operation failed: migration out"),
        ),
        (
            "attachDeviceFlags",
            lambda d: d.attachDeviceFlags("<disk/>", 0),
            (lv.VIR_ERR_INTERNAL_ERROR, lv.VIR_FROM_QEMU, "internal error: unable to execute"),
        ),
    ],
)
def test_operation_failure_defaults(
    world: lv.World, conn: lv.virConnect, op: str, call: Any, expected: tuple[int, int, str]
) -> None:
    """One call fails with the QEMU driver's error for it; nothing changes; count limits it."""
    dom = conn.defineXML(domain_xml(disk=None))
    if op != "createWithFlags":
        dom.create()
    state = dom.state()
    world.inject({"kind": "operation_failure", "host": "node1", "operation": op, "count": 1})
    with pytest.raises(lv.libvirtError) as info:
        call(dom)
    err = info.value
    assert (err.get_error_code(), err.get_error_domain()) == expected[:2]
    assert str(err).startswith(expected[2]) and lv.virGetLastErrorCode() == expected[0]
    assert dom.state() == state and world.active_faults() == []


def test_operation_failure_matching_and_explicit_error(
    world: lv.World, conn: lv.virConnect
) -> None:
    """Names: family, method, C name; domain and host narrow it; code/message by name."""
    vm1 = conn.defineXML(domain_xml(disk=None))
    vm2 = conn.defineXML(domain_xml("vm2", disk=None, uuid=None))
    fault = lv.Fault(
        kind="operation_failure",
        host="node1",
        domain="vm1",
        op="create",
        code="VIR_ERR_OPERATION_FAILED",
        error_domain="QEMU",
        message="guest refused to boot",
    )
    assert lv.Fault.from_dict(fault.to_dict()) == fault
    handle = world.inject(fault.to_dict())
    vm2.create()  # another domain
    assert error_of(vm1.create) == (
        lv.VIR_ERR_OPERATION_FAILED,
        lv.VIR_FROM_QEMU,
        "operation failed: guest refused to boot",
    )
    assert error_of(lambda: vm1.createWithFlags(0))[0] == lv.VIR_ERR_OPERATION_FAILED
    handle.clear()
    world.inject(lv.Fault(kind="operation_failure", op="createWithFlags"))
    vm1.create()  # create() is virDomainCreate, not virDomainCreateWithFlags
    world.clear_faults()
    world.inject(lv.Fault(kind="operation_failure", op="defineXML", domain="vm3"))
    conn.defineXML(domain_xml("vm4", disk=None, uuid="00000000-0000-0000-0000-0000000000a4"))
    msg = error_of(
        lambda: conn.defineXMLFlags(
            domain_xml("vm3", disk=None, uuid="00000000-0000-0000-0000-0000000000a3"), 0
        )
    )[2]
    assert msg == (
        "cannot write data to file '/etc/libvirt/qemu/vm3.xml.new': No space left on device"
    )
    assert lv.open("fake://node2/system").listAllDomains() == []
    with pytest.raises(ValueError):
        lv.Fault(kind="operation_failure")
    with pytest.raises(ValueError):
        lv.Fault(kind="operation_failure", op="create", code="VIR_ERR_NO_SUCH_THING")
    with pytest.raises(ValueError):
        lv.Fault(kind="slow_operation", op="create", message="x")


def test_fake_backend_uses_its_world_and_takes_failure_faults_as_dicts() -> None:
    """The control plane's backend: its own world's module; operation_failure over JSON."""
    from testbed.exceptions import BadRequest
    from testbed.virt.fake import FakeBackend

    backend = FakeBackend()
    backend.add_host({"name": "cmp-1"})
    assert backend.libvirt is backend.world.libvirt_module()
    conn = backend.libvirt.open(backend.uri("cmp-1"))
    dom = conn.defineXML(domain_xml(disk=None))
    spec: dict[str, Any] = {"kind": "operation_failure", "host": "cmp-1", "count": 1}
    spec |= {"operation": "createWithFlags", "code": "VIR_ERR_INTERNAL_ERROR"}
    assert backend.inject_fault(spec)["op"] == "createWithFlags"
    assert error_of(lambda: dom.createWithFlags(0))[0] == lv.VIR_ERR_INTERNAL_ERROR
    assert backend.list_faults() == []
    with pytest.raises(BadRequest):
        backend.inject_fault({"kind": "operation_failure", "op": "create", "code": "NOPE"})
    with pytest.raises(lv.libvirtError):
        lv.open(backend.uri("cmp-1"))  # not a host of the default world
