"""Fixtures for the real backend's infrastructure tests (libvirt + QEMU in containers).

Tests marked ``qemu`` need a Docker engine (or root + docker.io), mmdebstrap, apt-get/dpkg,
qemu-img and libvirt-python. Without them they skip with the reason, except under ``CI`` (any
non-empty value but "false"/"0"), where a missing prerequisite is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "qemu: needs Docker + mmdebstrap: real libvirt/QEMU compute-host containers"
    )


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def qemu_unavailable() -> str | None:
    """Why the real backend cannot run here, or None."""
    try:
        import libvirt  # noqa: F401
    except ImportError:
        return "libvirt-python is not installed (pip install 'nova-testbed[qemu]')"
    try:
        import testcontainers  # noqa: F401
    except ImportError:
        return "testcontainers is not installed (pip install 'nova-testbed[qemu]')"
    from testbed.qemu.engine import engine_available

    reason = engine_available()
    if reason is not None:
        return reason
    for tool, package in (
        ("mmdebstrap", "mmdebstrap"),
        ("qemu-img", "qemu-utils"),
        ("apt-get", "apt"),
        ("dpkg", "dpkg"),
    ):
        if shutil.which(tool) is None:
            return f"{tool} not found (apt-get install -y {package})"
    return None


def require_qemu() -> None:
    """Skip (or, under CI, fail) when the real backend cannot run on this machine."""
    reason = qemu_unavailable()
    if reason is None:
        return
    if _in_ci():
        pytest.fail(f"real-backend prerequisites missing under CI: {reason}", pytrace=False)
    pytest.skip(f"real backend unavailable: {reason}")


@pytest.fixture(scope="module")
def qemu_cluster() -> Iterator[Any]:
    """Three nodes: node1 and node2 share instance storage, node3 has host-local storage."""
    require_qemu()
    from testbed.qemu.nodes import NodeCluster

    with NodeCluster(["node1", "node2", "node3"], shared_instances=[["node1", "node2"]]) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def qemu_cloud() -> Iterator[Any]:
    """A cloud on the qemu backend (fixtures/qemu.yaml: cmp-a1 + cmp-a2 share instance
    storage, cmp-b1 is host-local), shared by the modules that drive it through its APIs."""
    require_qemu()
    from testbed.cloud import Cloud

    cloud = Cloud.start(backend="qemu")
    try:
        yield cloud
    finally:
        cloud.stop()


@pytest.fixture(scope="session")
def conn(qemu_cloud: Any) -> Any:
    """openstacksdk as admin of the qemu cloud (in-process)."""
    return qemu_cloud.connect()


@pytest.fixture(scope="session")
def control(qemu_cloud: Any, conn: Any) -> Any:
    """The qemu cloud's control API."""
    from testbed.clients import IN_PROCESS_URL
    from testbed.control.client import ControlClient

    return ControlClient(conn.session, IN_PROCESS_URL)


@pytest.fixture
def virt(qemu_cloud: Any) -> Any:
    """The cloud's :class:`testbed.virt.qemu.QemuBackend`."""
    return qemu_cloud.runtime.virt
