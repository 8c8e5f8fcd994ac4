"""Timings of the real backend's infrastructure on this machine (prints figures, asserts nothing).

    python bench/qemu_nodes.py [--uncached] [--repeat N]

Measures: node image build (cached lookup; ``--uncached`` forces a rebuild), guest image build
(uncached into a temporary directory, then cached), node start to libvirtd accepting, first
``getCapabilities``, define + create to the guest's first heartbeat, and live migration time
and downtime for shared-storage and block migration.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from testbed.qemu.connect import open_connection
from testbed.qemu.engine import ensure_engine
from testbed.qemu.guest import domain_xml, ensure_guest_image
from testbed.qemu.image import ensure_node_image
from testbed.qemu.nodes import INSTANCES_DIR, SERIAL_DIR, Node, NodeCluster
from testbed.qemu.serial import wait_for_heartbeat

T = TypeVar("T")


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    started = time.monotonic()
    result = fn()
    return result, time.monotonic() - started


def line(label: str, values: list[float], unit: str = "s") -> None:
    if len(values) == 1:
        print(f"  {label:<44} {values[0]:8.3f} {unit}")
    else:
        print(
            f"  {label:<44} median {statistics.median(values):8.3f} {unit}  "
            f"(min {min(values):.3f}, max {max(values):.3f}, n={len(values)})"
        )


def boot(node: Node, conn: Any) -> tuple[Any, str, str, float]:
    assert node.guest is not None
    name = f"bench-{uuid.uuid4().hex[:6]}"
    disk, log = f"{INSTANCES_DIR}/{name}/disk.qcow2", f"{SERIAL_DIR}/{name}.serial"
    node.copy_file(node.guest.root_qcow2, disk)
    started = time.monotonic()
    dom = conn.defineXML(domain_xml(name, node.guest, disk, log))
    dom.create()
    wait_for_heartbeat(node, log, timeout=120)
    return dom, disk, log, time.monotonic() - started


def migrate(
    lv: Any, dom: Any, src: Node, dst: Node, cdst: Any, log: str, extra: int
) -> tuple[float, float]:
    flags = (
        lv.VIR_MIGRATE_LIVE
        | lv.VIR_MIGRATE_PEER2PEER
        | lv.VIR_MIGRATE_PERSIST_DEST
        | lv.VIR_MIGRATE_UNDEFINE_SOURCE
        | extra
    )
    wait_for_heartbeat(src, log, above=1, timeout=60)
    _, elapsed = timed(
        lambda: dom.migrateToURI3(
            dst.libvirt_uri, {lv.VIR_MIGRATE_PARAM_URI: dst.migration_uri}, flags
        )
    )
    moved = cdst.lookupByName(dom.name())
    downtime = float(moved.jobStats(lv.VIR_DOMAIN_JOB_STATS_COMPLETED)["downtime"])
    moved.destroy()
    moved.undefine()
    return elapsed, downtime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uncached", action="store_true", help="force a node image rebuild")
    parser.add_argument("--repeat", type=int, default=3, help="boots/migrations per figure")
    args = parser.parse_args(argv)
    import libvirt as lv

    client, t_engine = timed(ensure_engine)
    print("images")
    line("engine answering (ensure_engine)", [t_engine])
    if args.uncached:
        _, t = timed(lambda: ensure_node_image(client=client, force=True))
        line("node image build, uncached (mmdebstrap+import)", [t])
    _, t = timed(lambda: ensure_node_image(client=client))
    line("node image, cached", [t])
    with tempfile.TemporaryDirectory() as tmp:
        _, t = timed(lambda: ensure_guest_image(tmp))
        line("guest image build, uncached", [t])
        _, t = timed(lambda: ensure_guest_image(tmp))
        line("guest image, cached", [t])

    cluster = NodeCluster(
        ["node1", "node2", "node3"], shared_instances=[["node1", "node2"]], client=client
    )
    _, t_cluster = timed(cluster.start)
    try:
        print("nodes")
        line("3-node cluster up (network, volumes, containers)", [t_cluster])
        line("container create to libvirtd accepting", list(cluster.ready_seconds.values()))
        caps = []
        conns = {}
        for node in cluster.nodes:
            started = time.monotonic()
            conns[node.name] = open_connection(node)
            conns[node.name].getCapabilities()
            caps.append(time.monotonic() - started)
        line("open + first getCapabilities", caps)

        n1, n2, n3 = cluster["node1"], cluster["node2"], cluster["node3"]
        boots, shared_t, shared_d, block_t, block_d = [], [], [], [], []
        for _ in range(args.repeat):
            dom, _disk, log, t = boot(n1, conns["node1"])
            boots.append(t)
            elapsed, downtime = migrate(lv, dom, n1, n2, conns["node2"], log, lv.VIR_MIGRATE_UNSAFE)
            shared_t.append(elapsed)
            shared_d.append(downtime)
            dom, disk, log, t = boot(n3, conns["node3"])
            boots.append(t)
            info = n3.exec(["qemu-img", "info", "-U", "--output=json", disk]).output
            n1.create_disk(disk, str(json.loads(info)["virtual-size"]))
            elapsed, downtime = migrate(
                lv, dom, n3, n1, conns["node1"], log, lv.VIR_MIGRATE_NON_SHARED_DISK
            )
            block_t.append(elapsed)
            block_d.append(downtime)
        print("guests (TCG, 128 MiB, 1 vCPU)")
        line("define + create to first heartbeat", boots)
        print("live migration")
        line("shared storage (UNSAFE): migrateToURI3", shared_t)
        line("shared storage: downtime", shared_d, "ms")
        line("block (NON_SHARED_DISK, 16 MiB disk): time", block_t)
        line("block: downtime", block_d, "ms")
        for conn in conns.values():
            conn.close()
    finally:
        cluster.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
