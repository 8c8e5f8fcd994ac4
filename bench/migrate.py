"""Cold and live migrations through the REST API, in-process, on fake hosts.

    python bench/migrate.py                # N = 100 and 500 servers, 20 hosts
    python bench/migrate.py --n 200 --hosts 10

Boots N servers, then prints cold migrations/s (POST migrate for each server until every
one is in VERIFY_RESIZE, then confirmResize for each until every one is ACTIVE: one cold
migration = both) and live migrations/s (POST os-migrateLive for each until every one is
ACTIVE on its new host, block migration between hosts without shared storage).  The
simulated durations (boot, memory and disk copy on fakevirt's migration model) run on the
cloud's clock, which jumps ahead instantly.  Each rate comes with the SQL statements,
commits, CPU time and thread switches per migration.  Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from boot import post_servers, session_for, topology, work_done

from testbed.cloud import Cloud


def _statuses(http: Any, compute: str, n: int) -> dict[str, dict[str, Any]]:
    servers = http.get(f"{compute}/servers/detail", params={"limit": n + 10}).json()["servers"]
    return {s["id"]: s for s in servers}


def _post_all(http: Any, compute: str, ids: list[str], body: dict[str, Any], ok: int) -> None:
    for sid in ids:
        response = http.post(f"{compute}/servers/{sid}/action", json=body)
        if response.status_code != ok:
            raise SystemExit(f"{body}: {response.status_code} {response.text}")


def run(n: int, hosts: int) -> None:
    """Boot n servers, migrate them cold then live, printing the rates."""
    cloud = Cloud.start(topology(hosts))
    cloud.runtime.tracer.enabled = False
    try:
        http, compute = session_for(cloud)
        http.headers["OpenStack-API-Version"] = "compute 2.68"
        ids = post_servers(http, compute, n, "m")
        cloud.settle(timeout=600)
        before = {sid: s["OS-EXT-SRV-ATTR:host"] for sid, s in _statuses(http, compute, n).items()}

        started = time.perf_counter()
        with work_done(cloud) as cold_work:
            _post_all(http, compute, ids, {"migrate": None}, 202)
            cloud.settle(timeout=600)
            _post_all(http, compute, ids, {"confirmResize": None}, 204)
            cloud.settle(timeout=600)
        cold = time.perf_counter() - started
        servers = _statuses(http, compute, n)
        cold_ok = sum(
            1
            for sid, s in servers.items()
            if s["status"] == "ACTIVE" and s["OS-EXT-SRV-ATTR:host"] != before[sid]
        )

        before = {sid: s["OS-EXT-SRV-ATTR:host"] for sid, s in servers.items()}
        started = time.perf_counter()
        with work_done(cloud) as live_work:
            _post_all(
                http,
                compute,
                ids,
                {"os-migrateLive": {"host": None, "block_migration": "auto"}},
                202,
            )
            cloud.settle(timeout=600)
        live = time.perf_counter() - started
        servers = _statuses(http, compute, n)
        live_ok = sum(
            1
            for sid, s in servers.items()
            if s["status"] == "ACTIVE" and s["OS-EXT-SRV-ATTR:host"] != before[sid]
        )
        print(
            f"N={n:5d} hosts={hosts}: cold {n / cold:7.1f} migrations/s ({cold:.2f} s, "
            f"{cold_ok}/{n} moved; {cold_work.per(n)} per migration); "
            f"live {n / live:7.1f} migrations/s ({live:.2f} s, {live_ok}/{n} moved; "
            f"{live_work.per(n)} per migration)",
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
    parser.add_argument("--hosts", type=int, default=20)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for n in args.n or [100, 500]:
        run(n, args.hosts)


if __name__ == "__main__":
    main()
