"""Fault injection through the one public API (World.inject / Fault)."""

from __future__ import annotations

from typing import Any

import pytest

import fakevirt as lv
from fakevirt import storage
from tests.fakevirt.conftest import Events, domain_xml, error_of

P2P = lv.VIR_MIGRATE_LIVE | lv.VIR_MIGRATE_PEER2PEER | lv.VIR_MIGRATE_UNSAFE


def _boot(conn: lv.virConnect, name: str = "vm1", persistent: bool = True) -> lv.virDomain:
    if persistent:
        dom = conn.defineXML(domain_xml(name, disk=None))
        dom.create()
        return dom
    return conn.createXML(domain_xml(name, disk=None))


def test_kinds_are_discoverable_and_serialisable() -> None:
    """Faults round-trip through plain dicts; bad ones are refused."""
    assert {"host_crash", "host_hang", "migration_failure", "lost_events"} <= set(
        lv.supported_kinds()
    )
    fault = lv.Fault(kind="migration_failure", host="node1", phase="switchover", count=1)
    assert lv.Fault.from_dict(fault.to_dict()) == fault
    with pytest.raises(ValueError):
        lv.Fault(kind="volcano")
    with pytest.raises(ValueError):
        lv.Fault.from_dict({"kind": "host_crash", "host": "n", "colour": "red"})


def test_host_crash_and_recovery(world: lv.World, conn: lv.virConnect) -> None:
    """Crash: connections close (EOF), opening fails; after recovery: shut off, crashed."""
    closed: list[int] = []
    conn.registerCloseCallback(lambda c, reason, opaque: closed.append(reason), None)
    _boot(conn)
    _boot(conn, "t1", persistent=False)
    world.inject({"kind": "host_crash", "host": "node1"})
    assert closed == [lv.VIR_CONNECT_CLOSE_REASON_EOF]
    assert conn.isAlive() == 0
    assert error_of(conn.listAllDomains) == (
        lv.VIR_ERR_INTERNAL_ERROR,
        lv.VIR_FROM_RPC,
        "internal error: client socket is closed",
    )
    assert error_of(lambda: lv.open("fake://node1/system"))[2].endswith("No route to host")
    world.inject(lv.Fault(kind="host_recover", host="node1"))
    again = lv.open("fake://node1/system")
    assert [d.name() for d in again.listAllDomains()] == ["vm1"]
    assert again.lookupByName("vm1").state() == [
        lv.VIR_DOMAIN_SHUTOFF,
        lv.VIR_DOMAIN_SHUTOFF_CRASHED,
    ]


def test_host_hang_with_keepalive(world: lv.World, conn: lv.virConnect) -> None:
    """A hung host: with setKeepAlive(2, 3) calls fail after 8 clock seconds."""
    closed: list[int] = []
    conn.registerCloseCallback(lambda c, reason, opaque: closed.append(reason), None)
    conn.setKeepAlive(2, 3)
    start = world.clock.now()
    handle = world.inject(lv.Fault(kind="host_hang", host="node1"))
    code, domain, _ = error_of(conn.listAllDomains)
    assert (code, domain) == (lv.VIR_ERR_INTERNAL_ERROR, lv.VIR_FROM_RPC)
    assert world.clock.now() - start == 8
    assert closed == [lv.VIR_CONNECT_CLOSE_REASON_KEEPALIVE]
    assert handle.clear() is True
    assert lv.open("fake://node1/system").isAlive() == 1


def test_host_hang_timeout_without_keepalive(world: lv.World, conn: lv.virConnect) -> None:
    """Without keepalive a call blocks; with ``seconds`` it gives up after that long."""
    world.inject(lv.Fault(kind="host_hang", host="node1", seconds=30))
    start = world.clock.now()
    assert error_of(conn.getHostname)[0] == lv.VIR_ERR_SYSTEM_ERROR
    assert world.clock.now() - start == 30


def test_guest_actions_and_state_drift(world: lv.World, conn: lv.virConnect) -> None:
    """Guest shutdown/crash and state changes behind the caller's back, with events."""
    ev = Events(conn)
    dom = _boot(conn)
    ev.take()
    world.inject(lv.Fault(kind="domain_state", host="node1", domain="vm1", state="paused"))
    assert dom.state() == [lv.VIR_DOMAIN_PAUSED, lv.VIR_DOMAIN_PAUSED_USER]
    world.inject(lv.Fault(kind="domain_state", host="node1", domain="vm1", state="running"))
    world.inject(lv.Fault(kind="guest_shutdown", host="node1", domain="vm1"))
    assert dom.state() == [lv.VIR_DOMAIN_SHUTOFF, lv.VIR_DOMAIN_SHUTOFF_SHUTDOWN]
    dom.create()
    world.inject(lv.Fault(kind="guest_crash", host="node1", domain="vm1"))
    assert dom.state() == [lv.VIR_DOMAIN_SHUTOFF, lv.VIR_DOMAIN_SHUTOFF_CRASHED]
    E = lv
    assert [e[1:] for e in ev.take()] == [
        (E.VIR_DOMAIN_EVENT_SUSPENDED, E.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED),
        (E.VIR_DOMAIN_EVENT_RESUMED, E.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED),
        (E.VIR_DOMAIN_EVENT_SHUTDOWN, E.VIR_DOMAIN_EVENT_SHUTDOWN_GUEST),
        (E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN),
        (E.VIR_DOMAIN_EVENT_RESUMED, E.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED),
        (E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_BOOTED),
        (E.VIR_DOMAIN_EVENT_CRASHED, E.VIR_DOMAIN_EVENT_CRASHED_PANICKED),
        (E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_CRASHED),
    ]


def test_guest_ignores_acpi(world: lv.World, conn: lv.virConnect) -> None:
    """ignore_shutdown: shutdown() succeeds and the guest keeps running."""
    dom = _boot(conn)
    handle = world.inject(lv.Fault(kind="ignore_shutdown", domain="vm1"))
    assert dom.shutdown() == 0 and dom.isActive() == 1
    world.clock.sleep(10)
    assert dom.isActive() == 1
    handle.clear()
    dom.shutdown()
    world.clock.sleep(2)
    assert dom.isActive() == 0


def test_lost_delayed_events_and_slow_operations(world: lv.World, conn: lv.virConnect) -> None:
    """Events can be dropped or delivered late; an operation can take clock time."""
    ev = Events(conn)
    dom = conn.defineXML(domain_xml(disk=None))
    world.inject(lv.Fault(kind="lost_events", event="STARTED", count=1))
    dom.create()
    assert ev.take() == [
        ("vm1", lv.VIR_DOMAIN_EVENT_DEFINED, 0),
        ("vm1", lv.VIR_DOMAIN_EVENT_RESUMED, 0),
    ]
    world.inject(lv.Fault(kind="delayed_events", seconds=5))
    dom.suspend()
    assert ev.take() == []
    world.clock.sleep(5)
    lv.run_pending_events()
    assert ev.take() == [("vm1", lv.VIR_DOMAIN_EVENT_SUSPENDED, 0)]
    world.clear_faults()
    world.inject(lv.Fault(kind="slow_operation", op="destroy", seconds=12))
    start = world.clock.now()
    dom.destroy()
    assert world.clock.now() - start == 12
    assert [f.kind for f in world.active_faults()] == ["slow_operation"]


@pytest.mark.parametrize("phase", ["before_start", "memory_copy", "switchover"])
def test_migration_failure_rolls_back(world: lv.World, conn: lv.virConnect, phase: str) -> None:
    """A failed migration leaves the guest running on the source, none on the destination."""
    world.add_shared_storage("i", "/var/lib/nova/instances", ["node1", "node2"])
    storage.create_image(conn, "/var/lib/nova/instances/vm1/disk", 1 << 20)
    dom = conn.defineXML(domain_xml())
    dom.create()
    ev = Events(conn)
    world.inject(lv.Fault(kind="migration_failure", host="node1", phase=phase, count=1))
    code, _, msg = error_of(lambda: dom.migrateToURI3("fake://node2/system", {}, P2P))
    assert code == lv.VIR_ERR_OPERATION_FAILED and "unexpectedly failed" in msg
    assert dom.state()[0] == lv.VIR_DOMAIN_RUNNING
    assert lv.open("fake://node2/system").listAllDomains() == []
    expected: list[Any] = []
    if phase == "switchover":
        expected = [
            (lv.VIR_DOMAIN_EVENT_SUSPENDED, lv.VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED),
            (lv.VIR_DOMAIN_EVENT_RESUMED, lv.VIR_DOMAIN_EVENT_RESUMED_MIGRATED),
        ]
    assert [e[1:] for e in ev.take()] == expected
    dom.migrateToURI3("fake://node2/system", {}, P2P)
    assert dom.isActive() == 0
