"""Deterministic sample results (JSON-shaped dicts) for the report tests.

The traces imitate the boot flow of DESIGN.md: identity, api, conductor, scheduler, a compute
host, image/network services and the hypervisor, with state changes over simulated time.
"""

from __future__ import annotations

import uuid
from typing import Any

Event = dict[str, Any]
NS = uuid.UUID("6f2b1c3e-0000-4000-8000-000000000000")

#: Capabilities used by :func:`sample_results` (one not in the fixed order, on purpose).
SAMPLE_CAPABILITIES = ("live-migration-block", "lifecycle", "quotas", "resize", "evacuate")


def stable_uuid(*parts: object) -> str:
    """A uuid derived from ``parts`` (same input, same uuid)."""
    return str(uuid.uuid5(NS, "/".join(str(p) for p in parts)))


class TraceBuilder:
    """Appends trace events with increasing ``seq`` and a simulated clock."""

    def __init__(self, request_id: str, start: float = 1000.0) -> None:
        self.events: list[Event] = []
        self.t = start
        self.request_id = request_id

    def add(
        self,
        kind: str,
        source: str,
        target: str | None,
        name: str,
        *,
        instance: str | None = None,
        dt: float = 0.0,
        **detail: Any,
    ) -> None:
        """Advance the clock by ``dt`` and record one event."""
        self.t = round(self.t + dt, 3)
        self.events.append(
            {
                "seq": len(self.events) + 1,
                "t": self.t,
                "wall": 1_790_000_000.0 + len(self.events),
                "request_id": self.request_id,
                "kind": kind,
                "source": source,
                "target": target,
                "name": name,
                "instance_uuid": instance,
                "detail": detail,
                "duration": None,
            }
        )

    def state(self, instance: str, vm: str, task: str | None, power: int, dt: float = 0.0) -> None:
        """Record a state change of ``instance``."""
        self.add(
            "state",
            "compute:host1",
            None,
            "instance.update",
            instance=instance,
            dt=dt,
            vm_state=vm,
            task_state=task,
            power_state=power,
        )


def boot_trace(instance: str, host: str = "host1", request_id: str = "req-0001") -> TraceBuilder:
    """A trace of one server boot (about 30 events over ~3.5 simulated seconds)."""
    b = TraceBuilder(request_id)
    compute, hyper = f"compute:{host}", f"hypervisor:{host}"
    b.add("http", "client", "identity", "POST /v3/auth/tokens", status=201)
    b.add("http", "client", "api", "POST /servers", dt=0.01, status=202)
    b.add("db", "api", None, "INSERT instances", instance=instance)
    b.state(instance, "building", "scheduling", 0)
    b.add("rpc.cast", "api", "conductor", "build_instances", dt=0.01)
    b.add("rpc.call", "conductor", "scheduler", "select_destinations", dt=0.02)
    b.add("db", "scheduler", None, "SELECT compute_nodes")
    b.add("rpc.reply", "scheduler", "conductor", "select_destinations", dt=0.05)
    b.add("rpc.cast", "conductor", compute, "build_and_run_instance", dt=0.01)
    b.state(instance, "building", "networking", 0, dt=0.02)
    b.add("http", compute, "network", "POST /v2.0/ports", status=201, dt=0.05)
    b.state(instance, "building", "block_device_mapping", 0, dt=0.3)
    b.add("http", compute, "image", "GET /v2/images/cirros", status=200, dt=0.1)
    b.state(instance, "building", "spawning", 0, dt=0.4)
    b.add("driver", compute, hyper, "defineXML", dt=0.1)
    b.add("driver", compute, hyper, "createWithFlags", dt=0.1)
    b.add("http", "client", "api", "GET /servers/" + instance[:8], status=200, dt=0.5)
    b.add("log", compute, None, "guest booting")
    b.add("driver", compute, hyper, "info", dt=2.0)
    b.add("db", compute, None, "UPDATE instances", instance=instance)
    b.state(instance, "active", None, 1)
    b.add("http", "client", "api", "GET /servers/" + instance[:8], status=200, dt=0.2)
    return b


def migrate_trace(instance: str, request_id: str) -> TraceBuilder:
    """A boot followed by a block live migration from host1 to host2."""
    b = boot_trace(instance, request_id=request_id)
    b.add("http", "client", "api", "POST /servers/action os-migrateLive", status=202, dt=1.0)
    b.state(instance, "active", "migrating", 1)
    b.add("rpc.call", "api", "conductor", "live_migrate_instance", dt=0.01)
    b.add("rpc.call", "conductor", "scheduler", "select_destinations")
    b.add("rpc.reply", "scheduler", "conductor", "select_destinations", dt=0.03)
    b.add("rpc.call", "conductor", "compute:host2", "check_can_live_migrate_destination")
    b.add("rpc.call", "compute:host2", "compute:host1", "check_can_live_migrate_source")
    b.add("rpc.reply", "compute:host1", "compute:host2", "check_can_live_migrate_source")
    b.add("rpc.reply", "compute:host2", "conductor", "check_can_live_migrate_destination")
    b.add("rpc.reply", "conductor", "api", "live_migrate_instance", dt=0.01)
    b.add("rpc.cast", "conductor", "compute:host1", "live_migration", dt=0.01)
    b.add("rpc.call", "compute:host1", "compute:host2", "pre_live_migration")
    b.add("driver", "compute:host2", "hypervisor:host2", "defineXML")
    b.add("rpc.reply", "compute:host2", "compute:host1", "pre_live_migration", dt=0.2)
    b.add("driver", "compute:host1", "hypervisor:host1", "migrateToURI3", dt=0.01)
    b.add("driver", "compute:host1", "hypervisor:host1", "jobStats", dt=20.0)
    b.add(
        "rpc.cast", "compute:host1", "compute:host2", "post_live_migration_at_destination", dt=19.0
    )
    b.add("db", "compute:host2", None, "UPDATE instances", instance=instance, dt=0.1)
    b.state(instance, "active", None, 1)
    b.add("rpc.fanout", "compute:host2", "scheduler", "update_instance_info")
    return b


def _test(
    nodeid: str,
    capability: str,
    outcome: str,
    duration: float,
    trace: list[Event],
    message: str = "",
    longrepr: str | None = None,
) -> dict[str, Any]:
    return {
        "nodeid": nodeid,
        "name": nodeid.rsplit("::", 1)[-1],
        "test_id": stable_uuid(nodeid),
        "capability": capability,
        "outcome": outcome,
        "duration": duration,
        "message": message,
        "longrepr": longrepr,
        "trace": trace,
    }


FAIL_TEXT = (
    "AssertionError: expected vm_state 'active', got 'error' <script>alert(1)</script>"
    " & \x1b[31mred\x1b[0m"
)


def _tests_for(backend: str) -> list[dict[str, Any]]:
    tests: list[dict[str, Any]] = []
    inst = stable_uuid("instance", 1)
    tests.append(
        _test(
            "conformance/test_lifecycle.py::test_boot",
            "lifecycle",
            "passed",
            0.412,
            boot_trace(inst).events,
        )
    )
    tests.append(
        _test(
            'conformance/test_lifecycle.py::test_boot_and_delete[<b>&"x"]',
            "lifecycle",
            "passed",
            0.233,
            boot_trace(stable_uuid("i", 2)).events,
        )
    )
    tests.append(
        _test(
            "conformance/test_lifecycle.py::test_console_log",
            "lifecycle",
            "skipped",
            0.001,
            [],
            message="console log not supported by the fake driver",
        )
    )
    mig = migrate_trace(stable_uuid("i", 3), "req-0003")
    differs = backend == "qemu"
    if differs:
        mig.add("fault", "hypervisor:host1", None, "migration stalled", dt=0.5)
        mig.state(stable_uuid("i", 3), "error", None, 1)
    tests.append(
        _test(
            "conformance/test_live_migration.py::TestBlock::test_block_migration",
            "live-migration-block",
            "failed" if differs else "passed",
            1.9 if differs else 1.2,
            mig.events,
            message=FAIL_TEXT if differs else "",
            longrepr=(
                "conformance/test_live_migration.py:42: in test_block_migration\n"
                "    assert server.status == 'ACTIVE'\n" + FAIL_TEXT
            )
            if differs
            else None,
        )
    )
    resize = boot_trace(stable_uuid("i", 4), request_id="req-0004")
    resize.add("http", "client", "api", "POST /servers/action resize", status=400, dt=0.5)
    tests.append(
        _test(
            "conformance/test_resize.py::test_resize_to_same_flavor_is_rejected",
            "resize",
            "passed",
            0.3,
            resize.events,
        )
    )
    long = boot_trace(stable_uuid("i", 5), request_id="req-0005")
    for i in range(140):
        long.add(
            "rpc.call" if i % 2 == 0 else "rpc.reply",
            "conductor" if i % 2 == 0 else "scheduler",
            "scheduler" if i % 2 == 0 else "conductor",
            f"select_destinations_{i}",
            dt=0.05,
        )
    tests.append(
        _test(
            "conformance/test_evacuate.py::test_evacuate_many",
            "evacuate",
            "error" if backend == "fake" else "passed",
            2.5,
            long.events,
            message="fixture 'cloud' failed",
            longrepr="E   RuntimeError: boom",
        )
    )
    if backend == "fake":
        tests.append(
            _test(
                "conformance/test_quotas.py::test_instances_quota",
                "quotas",
                "passed",
                0.05,
                boot_trace(stable_uuid("i", 6)).events,
            )
        )
    return tests


def sample_results(backends: tuple[str, ...] = ("fake", "qemu")) -> dict[str, Any]:
    """A small, varied results document: passes, a failure, an error, a skip, a difference."""
    runs = []
    for i, backend in enumerate(backends):
        tests = _tests_for(backend)
        runs.append(
            {
                "backend": backend,
                "started": f"2026-11-24T01:0{i}:00Z",
                "wall_time": 11.8 + 30 * i,
                "workers": 2 - i,
                "environment": {
                    "python": "3.11.7",
                    "testbed": "0.1.0",
                    "libvirt": "fakevirt" if backend == "fake" else "9.0.0",
                },
                "tests": tests,
            }
        )
    return {"format": 1, "runs": runs}


def large_results(n_tests: int = 200, events: int = 100) -> dict[str, Any]:
    """About ``n_tests`` tests per backend on two backends, each trace ``events`` long."""
    caps = (
        "lifecycle",
        "state-machine",
        "api-errors",
        "cold-migration",
        "resize",
        "live-migration-block",
        "evacuate",
        "rebuild",
        "ha-recovery",
        "power-sync",
    )
    runs = []
    for backend in ("fake", "qemu"):
        tests = []
        for n in range(n_tests):
            inst = stable_uuid("big", n)
            b = migrate_trace(inst, f"req-{n:04d}")
            k = 0
            while len(b.events) < events:
                b.add("rpc.call", "conductor", f"compute:host{k % 3 + 1}", f"poll_{k}", dt=0.1)
                k += 1
            outcome = "failed" if n % 17 == 0 else "skipped" if n % 11 == 0 else "passed"
            tests.append(
                _test(
                    f"conformance/test_{caps[n % len(caps)]}.py::test_case_{n:03d}",
                    caps[n % len(caps)],
                    outcome,
                    0.1 + n / 1000,
                    b.events[:events],
                    message="boom" if outcome != "passed" else "",
                    longrepr="Traceback...\nAssertionError" if outcome == "failed" else None,
                )
            )
        runs.append(
            {
                "backend": backend,
                "started": "2026-11-24T01:00:00Z",
                "wall_time": 60.0,
                "workers": 2,
                "environment": {"python": "3.11.7"},
                "tests": tests,
            }
        )
    return {"format": 1, "runs": runs}
