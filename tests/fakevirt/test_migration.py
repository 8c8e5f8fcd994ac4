"""Live migration between fake hosts: refusals, progress on the clock, abort, post-copy."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import fakevirt as lv
from fakevirt import storage
from tests.fakevirt.conftest import (
    DISK,
    Events,
    SignalledClock,
    SteppedClock,
    domain_xml,
    error_of,
)

P2P = lv.VIR_MIGRATE_LIVE | lv.VIR_MIGRATE_PEER2PEER
FULL = P2P | lv.VIR_MIGRATE_PERSIST_DEST | lv.VIR_MIGRATE_UNDEFINE_SOURCE
DST = "qemu+tcp://node2/system"


def running(conn: lv.virConnect, disk: str | None = DISK, name: str = "vm1") -> lv.virDomain:
    """Define and start vm1 whose disk exists on node1."""
    if disk:
        storage.create_image(conn, disk, 64 << 20)
    dom = conn.defineXML(domain_xml(name, disk=disk))
    dom.create()
    return dom


def test_refusals(world: lv.World, conn: lv.virConnect) -> None:
    """Same host UUID, local disk without NON_SHARED_DISK, missing pre-created disk."""
    dom = running(conn)
    world.add_host("clone", host_uuid="00000000-0000-0000-0000-000000000001")
    clone = "fake://clone/system"
    assert error_of(lambda: dom.migrateToURI3(clone, {}, P2P))[0] == lv.VIR_ERR_MIGRATE_UNSAFE
    unsafe = P2P | lv.VIR_MIGRATE_UNSAFE  # past the disk check (libvirt's order)
    code, _, msg = error_of(lambda: dom.migrateToURI3(clone, {}, unsafe))
    assert code == lv.VIR_ERR_INTERNAL_ERROR and "same host" in msg
    assert error_of(lambda: dom.migrateToURI3(DST, {}, P2P))[:2] == (
        lv.VIR_ERR_MIGRATE_UNSAFE,
        lv.VIR_FROM_QEMU,
    )
    block = P2P | lv.VIR_MIGRATE_NON_SHARED_DISK
    assert error_of(lambda: dom.migrateToURI3(DST, {}, block))[0] == lv.VIR_ERR_NO_STORAGE_POOL
    assert (
        error_of(lambda: dom.migrateToURI3(DST, {}, lv.VIR_MIGRATE_LIVE))[0]
        == lv.VIR_ERR_ARGUMENT_UNSUPPORTED
    )
    code, _, msg = error_of(lambda: dom.migrateToURI3("qemu+tcp://gone/system", {}, unsafe))
    assert (code, msg) == (
        lv.VIR_ERR_SYSTEM_ERROR,
        "unable to connect to server at 'gone:16509': Connection refused",
    )
    assert dom.state()[0] == lv.VIR_DOMAIN_RUNNING


def test_block_migration_moves_domain_with_events(world: lv.World, conn: lv.virConnect) -> None:
    """NON_SHARED_DISK with a pre-created disk: the guest runs on node2, events both sides."""
    dom = running(conn)
    dconn = lv.open(DST)
    storage.create_image(dconn, DISK, 0)
    src_ev, dst_ev = Events(conn), Events(dconn)
    dom.migrateToURI3(
        DST,
        {lv.VIR_MIGRATE_PARAM_URI: "tcp://node2", lv.VIR_MIGRATE_PARAM_BANDWIDTH: 64},
        FULL | lv.VIR_MIGRATE_NON_SHARED_DISK,
    )
    moved = dconn.lookupByName("vm1")
    assert moved.state() == [lv.VIR_DOMAIN_RUNNING, lv.VIR_DOMAIN_RUNNING_MIGRATED]
    assert moved.isPersistent() == 1
    assert error_of(lambda: conn.lookupByName("vm1"))[0] == lv.VIR_ERR_NO_DOMAIN
    assert storage.size(dconn, DISK) == 64 << 20
    stats = moved.jobStats(lv.VIR_DOMAIN_JOB_STATS_COMPLETED)
    assert stats["type"] == lv.VIR_DOMAIN_JOB_COMPLETED
    assert stats[lv.VIR_DOMAIN_JOB_DISK_TOTAL] == 64 << 20 and stats["downtime"] > 0
    assert stats["time_elapsed"] >= 1000  # 64 MiB disk at 64 MiB/s, then 512 MiB memory
    E = lv
    assert [e[1:] for e in src_ev.take()] == [
        (E.VIR_DOMAIN_EVENT_SUSPENDED, E.VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED),
        (E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_MIGRATED),
    ]  # libvirt removes the source definition (UNDEFINE_SOURCE) without an event
    assert [e[1:] for e in dst_ev.take()] == [
        (E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_MIGRATED),
        (E.VIR_DOMAIN_EVENT_DEFINED, E.VIR_DOMAIN_EVENT_DEFINED_ADDED),
        (E.VIR_DOMAIN_EVENT_RESUMED, E.VIR_DOMAIN_EVENT_RESUMED_MIGRATED),
    ]


@pytest.mark.parametrize(
    ("fs", "flags", "ok"),
    [
        ("local", P2P, False),
        ("local", P2P | lv.VIR_MIGRATE_UNSAFE, True),
        ("cluster", P2P, True),
        ("nfs", P2P, False),
    ],
)
def test_shared_storage_safety(
    world: lv.World, conn: lv.virConnect, fs: str, flags: int, ok: bool
) -> None:
    """Disks on shared storage need UNSAFE unless libvirt trusts the filesystem."""
    world.add_shared_storage("instances", "/var/lib/nova/instances", ["node1", "node2"], fs=fs)
    dom = running(conn)
    assert storage.exists("node2", DISK)
    if ok:
        dom.migrateToURI3(DST, {}, flags | lv.VIR_MIGRATE_PAUSED)
        assert lv.open(DST).lookupByName("vm1").state() == [
            lv.VIR_DOMAIN_PAUSED,
            lv.VIR_DOMAIN_PAUSED_USER,
        ]
        assert dom.isPersistent() == 1 and dom.state() == [
            lv.VIR_DOMAIN_SHUTOFF,
            lv.VIR_DOMAIN_SHUTOFF_MIGRATED,
        ]
    else:
        assert error_of(lambda: dom.migrateToURI3(DST, {}, flags))[0] == lv.VIR_ERR_MIGRATE_UNSAFE


def test_migrate_disks_param(world: lv.World, conn: lv.virConnect) -> None:
    """VIR_MIGRATE_PARAM_MIGRATE_DISKS copies only the listed disks; the others must be shared."""
    world.add_shared_storage("volumes", "/volumes", ["node1", "node2"], fs="cluster")
    storage.create_image(conn, "/volumes/v1", 1 << 20)
    vol = "<disk type='file' device='disk'><source file='/volumes/v1'/><target dev='vdb'/></disk>"
    storage.create_image(conn, DISK, 1 << 20)
    dom = conn.defineXML(domain_xml(extra_devices=vol))
    dom.create()
    storage.create_image("node2", DISK, 0)
    dom.migrateToURI3(
        DST, {lv.VIR_MIGRATE_PARAM_MIGRATE_DISKS: ["vda"]}, P2P | lv.VIR_MIGRATE_NON_SHARED_DISK
    )
    assert lv.open(DST).lookupByName("vm1").isActive() == 1


def _start_migration(
    dom: lv.virDomain, flags: int, params: dict[str, Any], clock: SteppedClock
) -> tuple[threading.Event, list[Any]]:
    """Run migrateToURI3 in a thread; the event is set (and the clock poked) when it ends."""
    result: list[Any] = []
    done = threading.Event()

    def target() -> None:
        try:
            result.append(dom.migrateToURI3(DST, params, flags))
        except lv.libvirtError as exc:
            result.append(exc)
        finally:
            done.set()
            clock.poke()

    threading.Thread(target=target, daemon=True).start()
    return done, result


def _shared_and_never_converging(world: lv.World) -> None:
    """Instances on storage both nodes share; guests dirty memory faster than it is sent."""
    world.add_shared_storage(
        "instances", "/var/lib/nova/instances", ["node1", "node2"], fs="cluster"
    )
    world.migration_dirty_rate_mib = 1000


@pytest.fixture(params=["sleep only", "with signal"])
def stepped(world: lv.World, request: pytest.FixtureRequest) -> SteppedClock:
    """The world runs on a clock the test advances: one with only ``sleep`` (a migration
    looks every ``migration_step``) and one with ``signal()`` too (it waits for its next
    boundary, woken early by whatever changes)."""
    clock = SteppedClock() if request.param == "sleep only" else SignalledClock()
    world.clock = clock
    return clock


def test_progress_and_abort_from_another_thread(
    world: lv.World, conn: lv.virConnect, stepped: SteppedClock
) -> None:
    """jobStats shows progress mid-migration; abortJob makes it fail, guest stays put."""
    world.add_shared_storage(
        "instances", "/var/lib/nova/instances", ["node1", "node2"], fs="cluster"
    )
    dom = running(conn)
    done, result = _start_migration(dom, P2P, {lv.VIR_MIGRATE_PARAM_BANDWIDTH: 128}, stepped)
    stepped.wait_for_sleeper()
    stepped.advance(world.migration_step)
    stepped.wait_for_sleeper()
    stats = dom.jobStats()
    assert stats["type"] == lv.VIR_DOMAIN_JOB_UNBOUNDED
    assert 0 < stats["memory_processed"] < stats["memory_total"] == 512 << 20
    assert stats["memory_remaining"] > 0 and stats["time_elapsed"] == 250
    assert dom.jobInfo()[0] == lv.VIR_DOMAIN_JOB_UNBOUNDED
    assert dom.abortJob() == 0
    stepped.run_until(done, world.migration_step)
    err = result[0]
    assert isinstance(err, lv.libvirtError)
    assert err.get_error_code() == lv.VIR_ERR_OPERATION_ABORTED
    assert str(err) == "operation aborted: migration out job: canceled by client"
    assert dom.state() == [lv.VIR_DOMAIN_RUNNING, lv.VIR_DOMAIN_RUNNING_BOOTED]
    assert error_of(lambda: lv.open(DST).lookupByName("vm1"))[0] == lv.VIR_ERR_NO_DOMAIN
    assert dom.jobStats()["type"] == lv.VIR_DOMAIN_JOB_NONE
    assert error_of(dom.abortJob)[0] == lv.VIR_ERR_OPERATION_INVALID


def test_post_copy_finishes_a_non_converging_migration(
    world: lv.World, conn: lv.virConnect, stepped: SteppedClock
) -> None:
    """Dirty rate above bandwidth never converges; post-copy ends it."""
    _shared_and_never_converging(world)
    dom = running(conn)
    assert error_of(dom.migrateStartPostCopy)[0] == lv.VIR_ERR_OPERATION_INVALID
    done, result = _start_migration(dom, P2P | lv.VIR_MIGRATE_POSTCOPY, {}, stepped)
    for _ in range(20):
        stepped.wait_for_sleeper()
        stepped.advance(world.migration_step)
    stepped.wait_for_sleeper()
    assert dom.jobStats()[lv.VIR_DOMAIN_JOB_MEMORY_ITERATION] > 1
    dom.migrateStartPostCopy()
    stepped.run_until(done)
    assert result == [0]
    assert lv.open(DST).lookupByName("vm1").state() == [
        lv.VIR_DOMAIN_RUNNING,
        lv.VIR_DOMAIN_RUNNING_POSTCOPY,
    ]


def test_hung_destination_is_lost_after_30_seconds(
    world: lv.World, conn: lv.virConnect, stepped: SteppedClock
) -> None:
    """The destination hangs mid-copy: 30 clock seconds later the copy fails and the guest
    keeps running on the source."""
    _shared_and_never_converging(world)
    dom = running(conn)
    done, result = _start_migration(dom, P2P, {}, stepped)
    stepped.wait_for_sleeper()
    world.inject(lv.Fault(kind="host_hang", host="node2"))
    stepped.run_until(done, world.migration_step)
    err = result[0]
    assert isinstance(err, lv.libvirtError)
    assert str(err) == "operation failed: Lost connection to destination host"
    assert stepped.now() == pytest.approx(30.0, abs=world.migration_step)
    assert dom.state()[0] == lv.VIR_DOMAIN_RUNNING


def test_a_migration_waits_for_its_boundaries_and_reads_progress_between(
    world: lv.World, conn: lv.virConnect
) -> None:
    """On a clock with ``signal()`` the copy waits once for the disks and once for memory
    to converge; jobStats in between reads the progress of that moment."""
    clock = SignalledClock()
    world.clock = clock
    dom = running(conn)
    storage.create_image("node2", DISK, 0)
    done, result = _start_migration(
        dom, FULL | lv.VIR_MIGRATE_NON_SHARED_DISK, {lv.VIR_MIGRATE_PARAM_BANDWIDTH: 64}, clock
    )
    clock.wait_for_sleeper()
    clock.advance(0.5)  # halfway through the 64 MiB disk at 64 MiB/s
    stats = dom.jobStats()
    assert stats[lv.VIR_DOMAIN_JOB_DISK_PROCESSED] == 32 << 20
    assert stats[lv.VIR_DOMAIN_JOB_MEMORY_PROCESSED] == 0
    clock.run_until(done, None)
    assert result == [0]
    # 512 MiB at 64 MiB/s while 8 MiB/s is dirtied: the first pass takes 8 s and leaves
    # 64 MiB, which shrinks at 56 MiB/s until it fits 300 ms at 64 MiB/s.
    assert clock.waits == [pytest.approx(1.0), pytest.approx(8 + (64 - 19.2) / 56)]
    completed = lv.open(DST).lookupByName("vm1").jobStats(lv.VIR_DOMAIN_JOB_STATS_COMPLETED)
    assert completed[lv.VIR_DOMAIN_JOB_TIME_ELAPSED] >= 9800


def test_whatever_changes_wakes_a_waiting_migration(world: lv.World, conn: lv.virConnect) -> None:
    """A fault injected, a new max downtime: the waiting copy looks again at once."""
    clock = SignalledClock()
    world.clock = clock
    _shared_and_never_converging(world)
    first = running(conn)
    done, result = _start_migration(first, P2P, {}, clock)
    clock.wait_for_sleeper()
    world.inject(lv.Fault(kind="migration_failure", host="node1", phase="memory_copy"))
    assert done.wait(5)
    assert isinstance(result[0], lv.libvirtError) and clock.now() == 0
    world.clear_faults()

    second = running(conn, disk=None, name="vm2")
    done, result = _start_migration(second, P2P, {}, clock)
    clock.wait_for_sleeper()
    clock.advance(2.0)  # past the first pass over its 512 MiB at 256 MiB/s
    clock.wait_for_sleeper()
    second.migrateSetMaxDowntime(60_000)  # everything left fits now
    clock.run_until(done, None)
    assert result == [0]
    assert clock.waits == [60.0, 60.0]  # one wait each, both cut short


def test_max_downtime(world: lv.World, conn: lv.virConnect) -> None:
    """migrateGetMaxDowntime defaults to QEMU's 300 ms and can be changed."""
    dom = running(conn, disk=None)
    assert dom.migrateGetMaxDowntime() == 300
    dom.migrateSetMaxDowntime(50)
    assert dom.migrateGetMaxDowntime() == 50
