"""The machinery behind the pytest plugin (imported only when a fixture is used)."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from testbed.control.client import ControlClient

__all__ = ["CloudHandle", "ResultsRecorder", "open_cloud"]


@dataclass
class CloudHandle:
    """A cloud the tests use: connections, the control API, what it offers."""

    backend: str
    admin_conn: Any
    demo_conn: Any
    control: ControlClient | None
    cloud: Any = None
    base_url: str = ""
    features: set[str] = field(default_factory=set)

    def offers(self, feature: str) -> bool:
        """Whether the cloud offers ``feature`` ("control", "backend:fake", ...)."""
        return feature in self.features


@contextlib.contextmanager
def open_cloud(*, backend: str, topology: Any, cloud_name: str | None) -> Iterator[CloudHandle]:
    """Start an embedded cloud (fake or qemu) or connect to an external one."""
    if backend == "external":
        yield _external(cloud_name)
        return
    from testbed.clients import IN_PROCESS_URL
    from testbed.cloud import Cloud

    try:
        cloud = Cloud.start(topology, backend=backend)
    except (ImportError, NotImplementedError) as exc:
        pytest.fail(f"the {backend} backend is not available: {exc}", pytrace=False)
    try:
        admin = cloud.connect("admin")
        demo = cloud.connect("demo")
        control = ControlClient(admin.session, IN_PROCESS_URL)
        yield CloudHandle(
            backend=backend,
            admin_conn=admin,
            demo_conn=demo,
            control=control,
            cloud=cloud,
            base_url=IN_PROCESS_URL,
            features={"control", f"backend:{backend}", *_fault_features(cloud)},
        )
    finally:
        cloud.stop()


def _fault_features(cloud: Any) -> set[str]:
    """``hypervisor-fault:<kind>`` for each hypervisor fault the backend can inject (the
    qemu backend cannot fake what real libvirt has no hook for), for ``testbed_requires``."""
    virt = cloud.runtime.virt
    kinds = virt.fault_kinds() if virt is not None and hasattr(virt, "fault_kinds") else {}
    return {f"hypervisor-fault:{kind}" for kind in kinds}


def _external(cloud_name: str | None) -> CloudHandle:
    import openstack

    if not cloud_name:
        pytest.fail(
            "--testbed-cloud NAME is required with --testbed-backend external", pytrace=False
        )
    admin = openstack.connect(cloud=cloud_name)
    try:
        demo = openstack.connect(cloud=f"{cloud_name}-demo")
    except Exception:  # no demo cloud configured: member tests use admin's view
        demo = admin
    auth_url = str(admin.config.get_auth_args().get("auth_url", ""))
    base = auth_url.rsplit("/identity", 1)[0] if "/identity" in auth_url else auth_url
    control: ControlClient | None = ControlClient(admin.session, base)
    if control is not None and not control.available():
        control = None
    features = {"backend:external"} | ({"control"} if control else set())
    return CloudHandle(
        backend="external",
        admin_conn=admin,
        demo_conn=demo,
        control=control,
        base_url=base,
        features=features,
    )


def _marker_arg(item: pytest.Item, name: str) -> str | None:
    marker = item.get_closest_marker(name)
    return str(marker.args[0]) if marker and marker.args else None


class ResultsRecorder:
    """Collects each test's result and the trace of what it caused, then writes JSON.

    Under pytest-xdist the workers attach the trace to the reports (user_properties) and
    the controller writes the file.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.path = Path(config.getoption("--testbed-results"))
        self.started = time.time()
        self.tests: dict[str, dict[str, Any]] = {}
        self.is_worker = hasattr(config, "workerinput")

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            item.user_properties.append(
                ("testbed_capability", _marker_arg(item, "testbed_capability") or "other")
            )
            test_id = _marker_arg(item, "testbed_id") or ""
            callspec = getattr(item, "callspec", None)
            if test_id and callspec is not None:
                test_id = f"{test_id}[{callspec.id}]"
            item.user_properties.append(("testbed_id", test_id))

    @pytest.fixture(autouse=True)
    def _testbed_trace(self, request: pytest.FixtureRequest) -> Iterator[None]:
        if "testbed_cloud" not in request.fixturenames:
            yield
            return
        handle: CloudHandle = request.getfixturevalue("testbed_cloud")
        control = handle.control
        start = control.trace()["last_seq"] if control else 0
        yield
        if control is not None:
            with contextlib.suppress(Exception):
                events = control.trace(since=start)["events"]
                request.node.user_properties.append(("testbed_trace", events[:2000]))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.is_worker:
            return
        props = dict(report.user_properties)
        entry = self.tests.setdefault(
            report.nodeid,
            {
                "nodeid": report.nodeid,
                "name": report.nodeid.rsplit("::", 1)[-1],
                "test_id": props.get("testbed_id", ""),
                "capability": props.get("testbed_capability", "other"),
                "outcome": "passed",
                "duration": 0.0,
                "message": "",
                "longrepr": None,
                "trace": [],
            },
        )
        entry["duration"] += report.duration
        if "testbed_trace" in props:
            entry["trace"] = props["testbed_trace"]
        if report.skipped and entry["outcome"] == "passed":
            entry["outcome"] = "skipped"
            longrepr = report.longrepr
            entry["message"] = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
        elif report.failed:
            entry["outcome"] = "failed" if report.when == "call" else "error"
            entry["longrepr"] = report.longreprtext
            entry["message"] = _first_error_line(report.longreprtext)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.is_worker:
            return
        workers = getattr(self.config.option, "numprocesses", None) or 1
        wall = time.time() - self.started
        run = {
            "backend": self.config.getoption("--testbed-backend") or "fake",
            "started": datetime.datetime.fromtimestamp(self.started, datetime.UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
            "wall_time": round(wall, 3),
            "workers": workers if isinstance(workers, int) else os.cpu_count() or 1,
            "environment": {
                "python": platform.python_version(),
                "platform": platform.platform(terse=True),
            },
            "tests": sorted(self.tests.values(), key=lambda t: t["nodeid"]),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({"format": 1, "runs": [run]}))


def _first_error_line(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("E "):
            return line[1:].strip()
    return text.strip().splitlines()[-1] if text.strip() else ""
