"""Figures of the real backend through the control plane (prints figures, asserts nothing).

    python bench/qemu.py [--repeat N]

On a qemu cloud (fixtures/qemu.yaml: 3 node containers), in one run:

- node start: container created to libvirtd accepting (per node), cloud start;
- boot to first heartbeat, raw: qemu-img overlay + ``defineXML`` + ``create`` + the guest's
  first serial heartbeat, straight through libvirt on a node, with the domain XML the
  driver writes;
- boot through the API: ``POST /servers`` to ACTIVE (which the driver only reports once the
  heartbeat is seen), and the API's overhead over the raw boot (target: <= 10 %);
- live migration per kind through the API (``os-migrateLive``): block (host-local storage),
  shared instances storage, volume-backed; wall time and the downtime QEMU measured (the
  destination's ``jobStats(COMPLETED)``).

Raw and API boots alternate so that load drift hits both alike.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

# Running a script puts its folder first on sys.path, where bench/fakevirt.py would shadow
# the fakevirt package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

from testbed.cloud import Cloud  # noqa: E402
from testbed.qemu.serial import wait_for_heartbeat  # noqa: E402
from testbed.virt.libvirt.guest_xml import GuestConfig, GuestDisk, guest_xml  # noqa: E402

SETTLE = 600.0


def line(label: str, values: list[float], unit: str = "s") -> None:
    """One figure: the value, or the median with min/max."""
    if not values:
        print(f"  {label:<46} (none)")
    elif len(values) == 1:
        print(f"  {label:<46} {values[0]:8.3f} {unit}")
    else:
        print(
            f"  {label:<46} median {statistics.median(values):8.3f} {unit}  "
            f"(min {min(values):.3f}, max {max(values):.3f}, n={len(values)})"
        )


def raw_boot(cloud: Cloud, host: str) -> float:
    """What the driver does for a boot, straight through libvirt; returns the seconds."""
    virt = cloud.runtime.virt
    node = virt.node(host)
    uid = str(uuid.uuid4())
    base = f"{virt.instances_path}/{uid}"
    config = GuestConfig(
        name=f"bench-{uid[:8]}",
        uuid=uid,
        memory_mb=128,
        vcpus=1,
        boot=virt.guest_boot(),
        serial_log=f"{virt.serial_dir}/{uid}.log",
        disks=[GuestDisk(f"{base}/disk", "vda")],
    )
    conn = virt.libvirt.open(virt.uri(host))
    started = time.perf_counter()
    virt.create_disk(host, f"{base}/disk", 1)
    dom = conn.defineXML(guest_xml(config))
    dom.create()
    wait_for_heartbeat(node, config.serial_log, timeout=SETTLE)
    elapsed = time.perf_counter() - started
    dom.destroy()
    dom.undefine()
    virt.delete_disk(host, f"{base}/disk")
    conn.close()
    return elapsed


def api_boot(cloud: Cloud, conn: Any, host: str, *, from_volume: bool = False) -> tuple[Any, float]:
    """``POST /servers`` (forced onto ``host``) to ACTIVE; returns (server, seconds)."""
    zone = cloud.runtime.virt.host_spec(host).availability_zone
    image = conn.image.find_image("tiny-linux").id
    attrs: dict[str, Any] = {"image_id": image}
    if from_volume:
        attrs = {
            "block_device_mapping": [
                {
                    "boot_index": 0,
                    "uuid": image,
                    "source_type": "image",
                    "destination_type": "volume",
                    "volume_size": 1,
                    "delete_on_termination": True,
                }
            ]
        }
    started = time.perf_counter()
    server = conn.compute.create_server(
        name="bench",
        flavor_id=conn.compute.find_flavor("m1.tiny").id,
        networks="none",
        availability_zone=f"{zone}:{host}",
        **attrs,
    )
    cloud.settle(SETTLE)
    elapsed = time.perf_counter() - started
    server = conn.compute.get_server(server.id)
    if server.status != "ACTIVE":
        raise RuntimeError(f"boot failed: {server.status} {server.fault}")
    return server, elapsed


def spawn_seconds(cloud: Cloud, server_id: str) -> float:
    """Wall seconds the driver's ``spawn`` took (disk, define, create, first heartbeat)."""
    for event in cloud.runtime.tracer.for_instance(server_id):
        if event["kind"] == "driver" and event["name"] == "spawn":
            return float(event["duration"] or 0.0)
    return 0.0


def delete(cloud: Cloud, conn: Any, server: Any) -> None:
    """Delete and wait."""
    conn.compute.delete_server(server.id)
    cloud.settle(SETTLE)


def live_migrate(cloud: Cloud, conn: Any, server: Any, dest: str) -> tuple[float, float | None]:
    """``os-migrateLive`` to ``dest``; returns (seconds, downtime ms or None)."""
    started = time.perf_counter()
    conn.compute.live_migrate_server(server, host=dest, block_migration="auto")
    cloud.settle(SETTLE)
    elapsed = time.perf_counter() - started
    moved = conn.compute.get_server(server.id)
    if moved.compute_host != dest or moved.status != "ACTIVE":
        raise RuntimeError(f"live migration failed: {moved.status} on {moved.compute_host}")
    virt = cloud.runtime.virt
    lv = virt.libvirt
    dconn = lv.open(virt.uri(dest))
    try:
        stats = dconn.lookupByUUIDString(server.id).jobStats(lv.VIR_DOMAIN_JOB_STATS_COMPLETED)
        downtime = stats.get("downtime")
    except lv.libvirtError:
        downtime = None
    finally:
        dconn.close()
    return elapsed, (float(downtime) if downtime is not None else None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="boots/migrations per figure")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    started = time.perf_counter()
    cloud = Cloud.start(backend="qemu")
    cloud_start = time.perf_counter() - started
    try:
        virt = cloud.runtime.virt
        conn = cloud.connect()
        print(f"qemu cloud: hosts {', '.join(virt.hosts())}")
        print("node start")
        line("container create -> libvirtd accepting", list(virt.cluster.ready_seconds.values()))
        line("cloud start (nodes, services, seed)", [cloud_start])

        raw: list[float] = []
        api: list[float] = []
        control_plane: list[float] = []
        for _ in range(args.repeat):
            raw.append(raw_boot(cloud, "cmp-b1"))
            server, seconds = api_boot(cloud, conn, "cmp-b1")
            api.append(seconds)
            control_plane.append(seconds - spawn_seconds(cloud, server.id))
            delete(cloud, conn, server)
        print("boot to first heartbeat (TCG, 128 MiB, 1 vCPU)")
        line("raw libvirt: overlay + define + create", raw)
        line("API: POST /servers -> ACTIVE", api)
        line("API: time outside the driver's spawn", control_plane)
        pairs = [a - r for a, r in zip(api, raw, strict=True)]
        line("API - raw, per alternating pair", pairs)
        median = (statistics.median(api) / statistics.median(raw) - 1.0) * 100
        share = statistics.median(control_plane) / statistics.median(raw) * 100
        print(f"  {'API overhead over raw (medians)':<46} {median:8.1f} %  (target <= 10 %)")
        print(f"  {'control plane time / raw boot (medians)':<46} {share:8.1f} %")

        print("live migration through the API (wall time, downtime from jobStats)")
        for kind, source, dest, from_volume in (
            ("block (host-local disk)", "cmp-b1", "cmp-a1", False),
            ("shared instances storage", "cmp-a1", "cmp-a2", False),
            ("volume-backed", "cmp-b1", "cmp-a1", True),
        ):
            times: list[float] = []
            downtimes: list[float] = []
            for _ in range(args.repeat):
                server, _ = api_boot(cloud, conn, source, from_volume=from_volume)
                try:
                    seconds, downtime = live_migrate(cloud, conn, server, dest)
                except RuntimeError as exc:
                    print(f"  {kind}: {exc}")
                    delete(cloud, conn, server)
                    break
                times.append(seconds)
                if downtime is not None:
                    downtimes.append(downtime)
                delete(cloud, conn, server)
            line(f"{kind}: time", times)
            line(f"{kind}: downtime", downtimes, "ms")
    finally:
        cloud.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
