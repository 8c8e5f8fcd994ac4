"""Boot and delete N servers through the REST API, in-process, on 100 fake hosts.

    python bench/boot.py                 # N = 100 and 1000
    python bench/boot.py --n 500 --hosts 50

Prints servers/s from the first POST /servers to every server ACTIVE, and deletes/s
from the first DELETE to every server gone, each with the SQL statements and commits per
server (figures that do not depend on how busy the machine is), and the CPU time and
thread switches per server.  Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Running a script puts its folder first on sys.path, where bench/fakevirt.py would shadow
# the fakevirt package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import requests  # noqa: E402
from sqlalchemy import event  # noqa: E402

from testbed.clients import IN_PROCESS_URL  # noqa: E402
from testbed.cloud import Cloud  # noqa: E402
from testbed.web.transport import mount_wsgi  # noqa: E402


def topology(hosts: int) -> dict[str, Any]:
    """``hosts`` compute hosts in 2 zones, the default flavors and image."""
    from testbed.topology import load_topology

    default = load_topology("default")
    return {
        "name": f"bench-{hosts}",
        "config": {"quota_instances": -1, "quota_cores": -1, "quota_ram": -1},
        "hosts": [
            {
                "name": f"cmp{i:03d}",
                "availability_zone": f"az{i % 2 + 1}",
                "vcpus": 32,
                "memory_mb": 131072,
                "disk_gb": 2000,
            }
            for i in range(hosts)
        ],
        "flavors": list(default.flavors),
        "images": list(default.images),
        "networks": list(default.networks),
    }


def session_for(cloud: Cloud) -> tuple[requests.Session, str]:
    """A requests session with an admin token, talking to the cloud in-process."""
    http = requests.Session()
    http.trust_env = False  # no proxy look-ups in the environment on every request: a client cost
    mount_wsgi(http, IN_PROCESS_URL, cloud.app)
    auth = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": "admin", "domain": {"id": "default"}, "password": "admin"}
                },
            },
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
        }
    }
    response = http.post(f"{IN_PROCESS_URL}/identity/v3/auth/tokens", json=auth)
    response.raise_for_status()
    http.headers["X-Auth-Token"] = response.headers["X-Subject-Token"]
    http.headers["OpenStack-API-Version"] = "compute 2.37"  # "networks": "none" needs 2.37
    return http, f"{IN_PROCESS_URL}/compute/v2.1"


class Work:
    """What the cloud did during a block: its store's SQL statements and commits, and
    the process's CPU time and voluntary thread switches (every thread, the client's
    too).  The counts do not depend on how busy the machine is; CPU time depends less on
    it than the rates do."""

    def __init__(self) -> None:
        self.statements = 0
        self.commits = 0
        self.cpu_seconds = 0.0
        self.switches = 0

    def per(self, n: int) -> str:
        """The figures per one of ``n`` operations, as text."""
        return (
            f"{self.statements / n:.1f} statements, {self.commits / n:.1f} commits, "
            f"{self.cpu_seconds / n * 1000:.1f} ms CPU, {self.switches / n:.0f} thread switches"
        )


def _cpu_and_switches() -> tuple[float, int]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, usage.ru_nvcsw


@contextlib.contextmanager
def work_done(cloud: Cloud) -> Iterator[Work]:
    """Count the work of the block (see :class:`Work`)."""
    work = Work()
    engine = cloud.runtime.store.engine

    def statement(*_args: Any) -> None:
        work.statements += 1

    def commit(*_args: Any) -> None:
        work.commits += 1

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    cpu, switches = _cpu_and_switches()
    try:
        yield work
    finally:
        cpu_after, switches_after = _cpu_and_switches()
        work.cpu_seconds, work.switches = cpu_after - cpu, switches_after - switches
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)


IMAGE = "6a1c7d4e-0c5e-4a53-9f0a-2b1f6c8e9d01"  # the default topology's image


def post_servers(
    http: requests.Session, compute: str, n: int, prefix: str, **server: Any
) -> list[str]:
    """POST n servers (flavor 1, the default image, no network; ``server`` adds to or
    overrides the body); their ids.  Any answer but 202 stops the benchmark."""
    ids = []
    for i in range(n):
        body = {
            "server": {
                "name": f"{prefix}{i}",
                "flavorRef": "1",
                "imageRef": IMAGE,
                "networks": "none",
                **server,
            }
        }
        response = http.post(f"{compute}/servers", json=body)
        if response.status_code != 202:
            raise SystemExit(f"create {i}: {response.status_code} {response.text}")
        ids.append(response.json()["server"]["id"])
    return ids


def run(n: int, hosts: int) -> None:
    """Boot n servers, then delete them, printing the rates."""
    cloud = Cloud.start(topology(hosts))
    cloud.runtime.tracer.enabled = False
    try:
        http, compute = session_for(cloud)
        started = time.perf_counter()
        with work_done(cloud) as boot_work:
            ids = post_servers(http, compute, n, "b")
            cloud.settle(timeout=600)
        booted = time.perf_counter() - started
        servers = http.get(f"{compute}/servers/detail", params={"limit": n + 10}).json()
        active = sum(1 for s in servers["servers"] if s["status"] == "ACTIVE")
        started = time.perf_counter()
        with work_done(cloud) as delete_work:
            for sid in ids:
                http.delete(f"{compute}/servers/{sid}")
            cloud.settle(timeout=600)
        deleted = time.perf_counter() - started
        left = len(http.get(f"{compute}/servers", params={"limit": n + 10}).json()["servers"])
        print(
            f"N={n:5d} hosts={hosts}: boot-to-ACTIVE {n / booted:7.1f} servers/s "
            f"({booted:.2f} s, {active}/{n} ACTIVE; {boot_work.per(n)} per server); "
            f"delete {n / deleted:7.1f} deletes/s ({deleted:.2f} s, {left} left; "
            f"{delete_work.per(n)} per server)",
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
    parser.add_argument("--hosts", type=int, default=100)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for n in args.n or [100, 1000]:
        run(n, args.hosts)


if __name__ == "__main__":
    main()
