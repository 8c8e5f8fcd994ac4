"""Automatic recovery of a failed host: crash one host holding N servers, with the HA
engine on, and time until every one of them is ACTIVE on another host.

    python bench/evacuate.py                 # N = 100 and 1000
    python bench/evacuate.py --n 500 --hosts 20 --method auto

Prints, per N, the time from "host crash injected" to "all its N instances ACTIVE
elsewhere" in clock seconds (the cloud's virtual time: failure detection takes
``service_down_time`` plus up to ``ha_check_interval``, then the evacuations, each with
its simulated boot) and in wall seconds (what the run cost).  Figures only.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

# Running a script puts its folder first on sys.path, where bench/fakevirt.py would shadow
# the fakevirt package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

from sqlalchemy import select  # noqa: E402

from testbed.cloud import Cloud  # noqa: E402
from testbed.compute.models import Instance  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from boot import post_servers, session_for  # noqa: E402


def topology(hosts: int, method: str) -> dict[str, Any]:
    """``hosts`` big compute hosts in one zone, the HA engine on."""
    from testbed.topology import load_topology

    default = load_topology("default")
    return {
        "name": f"bench-ha-{hosts}",
        "config": {
            "quota_instances": -1,
            "quota_cores": -1,
            "quota_ram": -1,
            "ha_enabled": True,
            "ha_recovery_method": method,
        },
        "hosts": [
            {
                "name": f"cmp{i:03d}",
                "availability_zone": "az1",
                "vcpus": 128,
                "memory_mb": 1048576,
                "disk_gb": 4000,
            }
            for i in range(hosts)
        ],
        "flavors": list(default.flavors),
        "images": list(default.images),
        "networks": list(default.networks),
    }


def run(n: int, hosts: int, method: str) -> None:
    """Boot n servers on one host, crash it, and time the recovery."""
    cloud = Cloud.start(topology(hosts, method))
    cloud.runtime.tracer.enabled = False
    failed = "cmp000"
    try:
        http, compute = session_for(cloud)
        post_servers(http, compute, n, "ha", availability_zone=f"az1:{failed}")
        cloud.settle(timeout=600)
        clock = cloud.runtime.clock
        config = cloud.runtime.config
        started_clock, started_wall = clock.now(), time.perf_counter()
        cloud.crash_host(failed)
        clock.advance(config.service_down_time + config.ha_check_interval, timeout=600)
        cloud.settle(timeout=1800)
        wall = time.perf_counter() - started_wall
        with cloud.runtime.store.session() as session:
            rows = list(session.scalars(select(Instance).where(Instance.deleted.is_(False))))
            moved = [r for r in rows if r.host != failed and r.vm_state == "active"]
            last_active = max((r.launched_at or 0.0) for r in moved) if moved else clock.now()
        print(
            f"N={n:5d} hosts={hosts} method={method}: crash -> all ACTIVE elsewhere "
            f"{last_active - started_clock:8.1f} clock s, {wall:7.2f} wall s "
            f"({len(moved)}/{n} recovered)",
            flush=True,
        )
    finally:
        cloud.stop()


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, action="append", help="servers (repeatable)")
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--method", default="auto")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    for n in args.n or [100, 1000]:
        run(n, args.hosts, args.method)


if __name__ == "__main__":
    main()
