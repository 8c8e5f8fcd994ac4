"""Benchmark fakevirt: lifecycle ops/s and migrations/s on one core. Prints figures only.

python bench/fakevirt.py [--seconds 2] [--repeat 3]   (one core: taskset -c 0 python ...)

"lifecycle" redefines the same domain XML (as a driver does for one guest: parsed once);
"lifecycle, new XML" defines a different domain (name and UUID) every cycle, so every
defineXML parses. Each figure is the median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fakevirt

XML = (
    "<domain type='qemu'><name>{name}</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>"
    "<os><type>hvm</type><kernel>/boot/vmlinuz</kernel></os><devices>"
    "<disk type='file' device='disk'><source file='/shared/{name}.qcow2'/>"
    "<target dev='vda' bus='virtio'/></disk>"
    "<interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/>"
    "</interface></devices></domain>"
)


def lifecycle(seconds: float) -> tuple[int, float]:
    """define + create + destroy + undefine cycles; returns (cycles, elapsed)."""
    fakevirt.reset().add_host("h1")
    fakevirt.world().add_shared_storage("s", "/shared", ["h1"], fs="cluster")
    conn = fakevirt.open("fake://h1/system")
    fakevirt.storage.create_image(conn, "/shared/vm.qcow2", 1 << 30)
    xml = XML.format(name="vm")
    cycles = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(200):
            dom = conn.defineXML(xml)
            dom.create()
            dom.destroy()
            dom.undefine()
        cycles += 200
    return cycles, time.perf_counter() - start


def lifecycle_new_xml(seconds: float) -> tuple[int, float]:
    """Like :func:`lifecycle` with a new domain name and UUID each cycle."""
    fakevirt.reset().add_host("h1")
    fakevirt.world().add_shared_storage("s", "/shared", ["h1"], fs="cluster")
    conn = fakevirt.open("fake://h1/system")
    fakevirt.storage.create_image(conn, "/shared/vm.qcow2", 1 << 30)
    template = XML.replace("{name}.qcow2", "vm.qcow2").replace(
        "<name>{name}</name>", "<name>{name}</name><uuid>{uuid}</uuid>"
    )
    # 1000 different domains: more than the world's parsed-XML cache keeps (512).
    xmls = [template.format(name=f"vm{i}", uuid=uuid.uuid4()) for i in range(1000)]
    cycles = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for xml in xmls[cycles % 1000 : cycles % 1000 + 200]:
            dom = conn.defineXML(xml)
            dom.create()
            dom.destroy()
            dom.undefine()
        cycles += 200
    return cycles, time.perf_counter() - start


def migrations(seconds: float) -> tuple[int, float]:
    """Live migrations back and forth over shared storage (instant clock)."""
    w = fakevirt.reset()
    w.add_host("a")
    w.add_host("b")
    w.add_shared_storage("s", "/shared", ["a", "b"], fs="cluster")
    conns = [fakevirt.open("fake://a/system"), fakevirt.open("fake://b/system")]
    fakevirt.storage.create_image(conns[0], "/shared/vm.qcow2", 1 << 30)
    dom = conns[0].createXML(XML.format(name="vm"))
    flags = fakevirt.VIR_MIGRATE_LIVE | fakevirt.VIR_MIGRATE_PEER2PEER
    count, side = 0, 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        dst = ("fake://b/system", "fake://a/system")[side]
        dom.migrateToURI3(dst, {}, flags)
        side ^= 1
        dom = conns[side].lookupByName("vm")
        count += 1
    return count, time.perf_counter() - start


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    def rate(fn: Callable[[float], tuple[int, float]]) -> float:
        runs = [fn(args.seconds / args.repeat) for _ in range(args.repeat)]
        return float(statistics.median(n / elapsed for n, elapsed in runs))

    same = rate(lifecycle)
    print(
        f"lifecycle: {same:,.0f} cycles/s (define+create+destroy+undefine), {4 * same:,.0f} calls/s"
    )
    new = rate(lifecycle_new_xml)
    print(f"lifecycle, new XML: {new:,.0f} cycles/s (a new domain name and UUID each cycle)")
    print(
        f"migration: {rate(migrations):,.0f} live migrations/s "
        f"(256 MiB guest, shared storage, instant clock)"
    )


if __name__ == "__main__":
    main()
