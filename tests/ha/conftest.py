"""A small cloud (tests/compute/minicloud.py) per test module, for the HA tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.compute.minicloud import MiniCloud

SHARED_HOSTS = [
    {"name": "h1", "vcpus": 8, "memory_mb": 8192, "disk_gb": 40, "shared_storage": "shared"},
    {"name": "h2", "vcpus": 8, "memory_mb": 8192, "disk_gb": 40, "shared_storage": "shared"},
    {"name": "h3", "vcpus": 8, "memory_mb": 8192, "disk_gb": 40},
]


@pytest.fixture(scope="module")
def mini() -> Iterator[MiniCloud]:
    """One cloud for a whole module (tests make their own instances)."""
    cloud = MiniCloud.start(SHARED_HOSTS)
    yield cloud
    cloud.stop()


@pytest.fixture
def fresh() -> Iterator[MiniCloud]:
    """A cloud of its own, for tests that break hosts."""
    cloud = MiniCloud.start(SHARED_HOSTS)
    yield cloud
    cloud.stop()


def crash(cloud: MiniCloud, host: str) -> None:
    """The host dies (hypervisor and nova-compute); time passes until it is down."""
    cloud.compute.pop(host).stop()
    cloud.backend.crash_host(host)
    cloud.runtime.clock.advance(cloud.runtime.config.service_down_time + 10)


def recover(cloud: MiniCloud, host: str) -> None:
    """The host comes back: hypervisor, then nova-compute."""
    cloud.backend.recover_host(host)
    cloud.start_compute(host)
    cloud.settle()


def domain_names(cloud: MiniCloud, host: str) -> dict[str, int]:
    """uuid -> libvirt state of every domain defined on ``host``."""
    libvirt = cloud.backend.libvirt
    conn = libvirt.open(cloud.backend.uri(host))
    try:
        return {d.UUIDString(): d.state(0)[0] for d in conn.listAllDomains(0)}
    finally:
        conn.close()
