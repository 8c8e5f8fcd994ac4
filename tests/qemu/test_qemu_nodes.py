"""The real backend's infrastructure on this machine: node containers running libvirt + QEMU,
the tiny heartbeat guest, live migration (shared storage, block), host failure.

One module-scoped cluster of three nodes (node1 + node2 share instance storage, node3 is
host-local); each test boots its own guest. Waits are bounded: serial-log waits follow the
file, libvirt events and close callbacks are awaited with threading.Event timeouts.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest

from testbed.qemu.guest import domain_xml
from testbed.qemu.nodes import INSTANCES_DIR, SERIAL_DIR, Node, NodeCluster
from testbed.qemu.serial import (
    DISK_COUNTER,
    SerialTimeout,
    heartbeats,
    wait_for_heartbeat,
    wait_for_line,
)

pytestmark = pytest.mark.qemu

BOOT_TIMEOUT = 90.0  # first heartbeat: ~3.5-4.5 s under TCG on 2 idle cores


def _libvirt() -> Any:
    import libvirt

    return libvirt


def _open(node: Node) -> Any:
    from testbed.qemu.connect import open_connection

    return open_connection(node)


def _paths(name: str) -> tuple[str, str]:
    return f"{INSTANCES_DIR}/{name}/disk.qcow2", f"{SERIAL_DIR}/{name}.serial"


def _boot(node: Node, conn: Any, name: str | None = None) -> tuple[Any, str, str]:
    """Define + start the tiny guest on ``node``; return (domain, disk path, serial log)."""
    assert node.guest is not None
    name = name or f"g-{uuid.uuid4().hex[:6]}"
    disk, log = _paths(name)
    node.copy_file(node.guest.root_qcow2, disk)
    dom = conn.defineXML(domain_xml(name, node.guest, disk, log))
    dom.create()
    return dom, disk, log


def _migration_flags(*extra: int) -> int:
    lv = _libvirt()
    flags: int = (
        lv.VIR_MIGRATE_LIVE
        | lv.VIR_MIGRATE_PEER2PEER
        | lv.VIR_MIGRATE_PERSIST_DEST
        | lv.VIR_MIGRATE_UNDEFINE_SOURCE
    )
    for flag in extra:
        flags |= flag
    return flags


def test_nodes_answer_with_distinct_host_uuids(qemu_cluster: NodeCluster) -> None:
    seen = set()
    for node in qemu_cluster.nodes:
        conn = _open(node)
        try:
            assert conn.getHostname() == node.name
            caps = conn.getCapabilities()
            assert f"<uuid>{node.host_uuid}</uuid>" in caps
            assert (
                "<domain type='qemu'" in conn.getDomainCapabilities(None, "x86_64", None, "qemu")
                or "qemu" in caps
            )
            seen.add(node.host_uuid)
        finally:
            conn.close()
    assert len(seen) == len(qemu_cluster.nodes)
    assert all(n.libvirt_uri == f"qemu+tcp://{n.ip}/system" for n in qemu_cluster.nodes)


def test_guest_boots_prints_heartbeat_and_counts_boots(qemu_cluster: NodeCluster) -> None:
    lv = _libvirt()
    node = qemu_cluster["node1"]
    conn = _open(node)
    started = threading.Event()

    def on_lifecycle(_conn: Any, dom: Any, event: int, _detail: int, _opaque: Any) -> None:
        if event == lv.VIR_DOMAIN_EVENT_STARTED:
            started.set()

    callback = conn.domainEventRegisterAny(
        None, lv.VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_lifecycle, None
    )
    try:
        dom, _disk, log = _boot(node, conn)
        assert started.wait(30), "no STARTED lifecycle event"
        assert wait_for_line(node, log, DISK_COUNTER, timeout=BOOT_TIMEOUT).group(1) == "1"
        first = wait_for_heartbeat(node, log, timeout=BOOT_TIMEOUT)
        later = wait_for_heartbeat(node, log, above=first + 1, timeout=30)
        assert later > first
        # The disk counter lives on the guest's disk: a new boot reads and increments it.
        dom.destroy()
        node.exec(["truncate", "-s", "0", log])
        dom.create()
        assert wait_for_line(node, log, DISK_COUNTER, timeout=BOOT_TIMEOUT).group(1) == "2"
        dom.destroy()
        dom.undefine()
    finally:
        conn.domainEventDeregisterAny(callback)
        conn.close()


def test_serial_wait_times_out_with_the_last_lines(qemu_cluster: NodeCluster) -> None:
    node = qemu_cluster["node3"]
    node.exec(["sh", "-c", "echo hello > /tmp/serial-test"])
    started = time.monotonic()
    with pytest.raises(SerialTimeout, match="hello"):
        wait_for_line(node, "/tmp/serial-test", r"^never$", timeout=2)
    assert time.monotonic() - started < 10


def test_live_migration_over_shared_storage_keeps_the_guest_running(
    qemu_cluster: NodeCluster,
) -> None:
    lv = _libvirt()
    src, dst = qemu_cluster["node1"], qemu_cluster["node2"]
    csrc, cdst = _open(src), _open(dst)
    try:
        dom, _disk, log = _boot(src, csrc)
        before = wait_for_heartbeat(src, log, above=2, timeout=BOOT_TIMEOUT)
        started = time.monotonic()
        dom.migrateToURI3(
            dst.libvirt_uri,
            {lv.VIR_MIGRATE_PARAM_URI: dst.migration_uri},
            _migration_flags(lv.VIR_MIGRATE_UNSAFE),
        )
        elapsed = time.monotonic() - started
        moved = cdst.lookupByName(dom.name())
        assert moved.state()[0] == lv.VIR_DOMAIN_RUNNING
        assert moved.isPersistent()
        assert dom.name() not in csrc.listDefinedDomains()
        stats = moved.jobStats(lv.VIR_DOMAIN_JOB_STATS_COMPLETED)
        assert 0 < stats["downtime"] < 10_000, stats
        # The counter continues on the destination instead of restarting at 1.
        first_on_dst = wait_for_heartbeat(dst, log, timeout=30)
        last_on_src = max(heartbeats(src.read_file(log)))
        assert first_on_dst > before
        assert last_on_src <= first_on_dst <= last_on_src + 5, (last_on_src, first_on_dst)
        print(f"shared-storage live migration {elapsed:.2f} s, downtime {stats['downtime']} ms")
        moved.destroy()
        moved.undefine()
    finally:
        csrc.close()
        cdst.close()


def test_block_migration_copies_the_disk(qemu_cluster: NodeCluster) -> None:
    lv = _libvirt()
    src, dst = qemu_cluster["node3"], qemu_cluster["node1"]  # no shared instance storage
    csrc, cdst = _open(src), _open(dst)
    try:
        dom, disk, log = _boot(src, csrc)
        before = wait_for_heartbeat(src, log, above=1, timeout=BOOT_TIMEOUT)
        size = src.exec(["qemu-img", "info", "-U", "--output=json", disk]).output
        import json

        dst.create_disk(disk, str(json.loads(size)["virtual-size"]))
        started = time.monotonic()
        dom.migrateToURI3(
            dst.libvirt_uri,
            {lv.VIR_MIGRATE_PARAM_URI: dst.migration_uri},
            _migration_flags(lv.VIR_MIGRATE_NON_SHARED_DISK),
        )
        elapsed = time.monotonic() - started
        moved = cdst.lookupByName(dom.name())
        stats = moved.jobStats(lv.VIR_DOMAIN_JOB_STATS_COMPLETED)
        assert stats["downtime"] > 0, stats
        assert wait_for_heartbeat(dst, log, timeout=30) > before
        # The disk came along: a reboot on the destination reads boot counter 1 and writes 2.
        moved.destroy()
        dst.exec(["truncate", "-s", "0", log])
        moved.create()
        assert wait_for_line(dst, log, DISK_COUNTER, timeout=BOOT_TIMEOUT).group(1) == "2"
        print(f"block migration {elapsed:.2f} s, downtime {stats['downtime']} ms")
        moved.destroy()
        moved.undefine()
    finally:
        csrc.close()
        cdst.close()


def test_paused_host_fails_calls_through_keepalive(qemu_cluster: NodeCluster) -> None:
    lv = _libvirt()
    node = qemu_cluster["node2"]
    conn = _open(node)
    closed = threading.Event()
    conn.registerCloseCallback(lambda *_args: closed.set(), None)
    node.pause()
    try:
        started = time.monotonic()
        with pytest.raises(lv.libvirtError):
            conn.getHostname()
        assert time.monotonic() - started < 30
        assert closed.wait(10)
    finally:
        node.unpause()
    conn2 = _open(node)
    assert conn2.getHostname() == node.name
    conn2.close()


def test_killed_host_fires_close_callback_and_comes_back_shut_off(
    qemu_cluster: NodeCluster,
) -> None:
    from testbed.qemu.connect import NodeUnreachable

    lv = _libvirt()
    node = qemu_cluster["node3"]
    conn = _open(node)
    dom, _disk, log = _boot(node, conn)
    wait_for_heartbeat(node, log, timeout=BOOT_TIMEOUT)
    name = dom.name()
    closed = threading.Event()
    reasons: list[int] = []

    def on_close(_conn: Any, reason: int, _opaque: Any) -> None:
        reasons.append(reason)
        closed.set()

    conn.registerCloseCallback(on_close, None)
    node.kill()
    assert closed.wait(10), "close callback did not fire"
    assert reasons[0] in (
        lv.VIR_CONNECT_CLOSE_REASON_EOF,
        lv.VIR_CONNECT_CLOSE_REASON_ERROR,
        lv.VIR_CONNECT_CLOSE_REASON_KEEPALIVE,
    )
    started = time.monotonic()
    with pytest.raises(NodeUnreachable):
        _open(node)
    assert time.monotonic() - started < 5  # not the ~39 s of libvirt.open on a dead address
    with pytest.raises(lv.libvirtError):
        conn.getHostname()
    node.start()
    conn2 = _open(node)
    try:
        state, reason = conn2.lookupByName(name).state()
        assert state == lv.VIR_DOMAIN_SHUTOFF
        print(f"after restart: state {state} reason {reason}")
        conn2.lookupByName(name).undefine()
    finally:
        conn2.close()


def test_remove_stale_removes_what_a_dead_run_left(qemu_cluster: NodeCluster) -> None:
    from testbed.qemu.engine import ensure_engine
    from testbed.qemu.nodes import CLUSTER_LABEL, PID_LABEL, remove_stale

    client = ensure_engine()
    dead_pid = "999999999"
    vol = client.volumes.create(
        f"tb-stale-{uuid.uuid4().hex[:6]}", labels={CLUSTER_LABEL: "stale", PID_LABEL: dead_pid}
    )
    removed = remove_stale(client, alive=lambda pid: pid != int(dead_pid))
    assert removed == 1
    assert vol.name not in [v.name for v in client.volumes.list()]
    assert all(node.status() == "running" for node in qemu_cluster.nodes)
