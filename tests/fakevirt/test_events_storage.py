"""Event delivery through the event loop, close callbacks, shared storage, the clock."""

from __future__ import annotations

import fakevirt as lv
from fakevirt import storage
from fakevirt.clock import Clock, InstantClock
from tests.fakevirt.conftest import domain_xml, error_of


def test_events_wait_for_the_event_loop() -> None:
    """By default callbacks run only when virEventRunDefaultImpl runs, in order."""
    w = lv.reset()
    w.add_host("h1")
    lv.virEventRegisterDefaultImpl()
    conn = lv.open("fake://h1/system")
    seen: list[tuple[str, int, int, str]] = []
    dom = conn.defineXML(domain_xml(disk=None))
    cid = conn.domainEventRegisterAny(
        dom,
        lv.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
        lambda c, d, e, detail, opaque: seen.append((d.name(), e, detail, opaque)),
        "op",
    )
    reboots: list[str] = []
    conn.domainEventRegisterAny(
        None, lv.VIR_DOMAIN_EVENT_ID_REBOOT, lambda c, d, opaque: reboots.append(d.name()), None
    )
    dom.create()
    dom.reboot()
    assert seen == [] and w.pending_events() == 3
    assert lv.virEventRunDefaultImpl() == 0
    assert seen == [
        ("vm1", lv.VIR_DOMAIN_EVENT_RESUMED, 0, "op"),
        ("vm1", lv.VIR_DOMAIN_EVENT_STARTED, 0, "op"),
    ]
    assert reboots == ["vm1"]
    conn.domainEventDeregisterAny(cid)
    dom.destroy()
    lv.run_pending_events()
    assert len(seen) == 2
    assert error_of(lambda: conn.domainEventDeregisterAny(cid))[0] == lv.VIR_ERR_INVALID_ARG
    lv.reset()


def test_shared_storage_visible_on_every_mounting_host(world: lv.World) -> None:
    """A file under a shared mount is the same file on each host that mounts it."""
    world.add_host("node3")
    world.add_shared_storage("nfs", "/shared", ["node1", "node2"], fs="nfs")
    storage.create_image("node1", "/shared/a.qcow2", 10)
    storage.create_image("node1", "/local/b.qcow2", 20)
    assert storage.exists("node2", "/shared/a.qcow2")
    assert not storage.exists("node3", "/shared/a.qcow2")
    assert not storage.exists("node2", "/local/b.qcow2")
    storage.copy("node1", "/local/b.qcow2", lv.open("fake://node3/system"), "/local/b.qcow2")
    assert storage.size("node3", "/local/b.qcow2") == 20
    world.mount("nfs", "node3")
    assert storage.list_files("node3") == ["/local/b.qcow2", "/shared/a.qcow2"]
    assert storage.delete("node2", "/shared/a.qcow2") is True
    assert not storage.exists("node1", "/shared/a.qcow2")


def test_default_test_host_and_clock_injection() -> None:
    """test:///default always exists; set_clock swaps the clock of the default world."""
    w = lv.reset()
    conn = lv.open(lv.DEFAULT_TEST_URI)
    assert conn.lookupByName("test").isActive() == 1
    clock = InstantClock(100.0)
    assert isinstance(clock, Clock)
    lv.set_clock(clock)
    assert w.clock is clock
    clock.advance(5)
    assert w.clock.now() == 105.0
    lv.reset()
