from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from testbed.config import Config
from testbed.runtime import build_runtime
from testbed.service import Runtime
from testbed.virt.fake import FakeBackend
from testbed.virt.libvirt.driver import LibvirtDriver


@pytest.fixture
def backend() -> FakeBackend:
    b = FakeBackend()
    b.add_host(
        {
            "name": "h1",
            "vcpus": 8,
            "memory_mb": 8192,
            "disk_gb": 100,
            "cpu_model": "Skylake-Client",
            "shared_storage": "shared-a",
        }
    )
    b.add_host(
        {"name": "h2", "vcpus": 8, "memory_mb": 8192, "disk_gb": 100, "shared_storage": "shared-a"}
    )
    return b


@pytest.fixture
def vrt(backend: FakeBackend) -> Iterator[Runtime]:
    rt = build_runtime(Config(), virt=backend)
    backend.attach(rt)
    yield rt
    rt.clock.close()
    rt.store.close()


@pytest.fixture
def driver(vrt: Runtime) -> LibvirtDriver:
    d = LibvirtDriver(vrt, "h1")
    d.init_host()
    return d


@pytest.fixture
def instance() -> dict[str, Any]:
    return {
        "uuid": "6f0c2a8e-1d3b-4c5a-9e7f-0a1b2c3d4e5f",
        "display_name": "web-1",
        "project_id": "p1",
        "user_id": "u1",
        "image_ref": "img-1",
        "flavor": {
            "name": "m1.tiny",
            "vcpus": 2,
            "memory_mb": 1024,
            "root_gb": 3,
            "ephemeral_gb": 0,
            "swap": 0,
        },
    }


VIF = {
    "port_id": "3b5a7c9e-aaaa-bbbb-cccc-000000000001",
    "mac_address": "fa:16:3e:12:34:56",
    "fixed_ips": [{"ip_address": "10.0.0.5", "version": 4}],
}
NO_VOLUMES: dict[str, Any] = {"block_device_mapping": []}
