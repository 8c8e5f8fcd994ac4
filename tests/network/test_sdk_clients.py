"""Unmodified openstacksdk against the image, network and block-storage APIs of a small
in-process cloud (identity for tokens and the catalog, plus the three services)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.wrappers import Response

from testbed.clients import in_process_connection
from testbed.identity.api import build_app as identity_app
from testbed.identity.seed import project_ids_by_name, seed_identity
from testbed.identity.service import IdentityService
from testbed.image.api import build_app as image_app
from testbed.image.seed import seed_image
from testbed.image.service import ImageService
from testbed.network.api import build_app as network_app
from testbed.network.seed import seed_network
from testbed.network.service import NetworkService
from testbed.runtime import build_runtime
from testbed.service import Runtime, Service
from testbed.volume.api import build_app as volume_app
from testbed.volume.service import VolumeService

WSGIApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


def _not_found(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    return Response("no such service", status=404)(environ, start_response)


@pytest.fixture
def cloud() -> Iterator[tuple[Runtime, WSGIApp]]:
    runtime = build_runtime()
    services: list[Service] = [
        IdentityService(runtime),
        ImageService(runtime),
        NetworkService(runtime),
        VolumeService(runtime),
    ]
    for service in services:
        service.start()
    seed_identity(runtime, {})
    demo = project_ids_by_name(runtime)["demo"]
    seed_image(
        runtime,
        [
            {
                "id": "6a1c7d4e-0c5e-4a53-9f0a-2b1f6c8e9d01",
                "name": "cirros",
                "size": 21430272,
                "min_disk": 1,
            }
        ],
    )
    seed_network(
        runtime,
        [
            {
                "id": "3f1e8d2c-7b6a-4c5d-9e0f-1a2b3c4d5e01",
                "name": "public",
                "shared": True,
                "subnets": [
                    {"id": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c01", "cidr": "172.24.4.0/22"}
                ],
            },
            {
                "id": "3f1e8d2c-7b6a-4c5d-9e0f-1a2b3c4d5e02",
                "name": "demo-net",
                "project_id": demo,
                "subnets": [{"id": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c02", "cidr": "10.0.0.0/24"}],
            },
        ],
    )
    app = DispatcherMiddleware(
        _not_found,
        {
            "/identity": identity_app(runtime),
            "/image": image_app(runtime),
            "/network": network_app(runtime),
            "/volume": volume_app(runtime),
        },
    )
    yield runtime, app
    for service in services:
        service.stop()
    runtime.clock.close()
    runtime.store.close()


def test_image_proxy_lists_creates_uploads_and_deletes(cloud: tuple[Runtime, WSGIApp]) -> None:
    _, app = cloud
    conn = in_process_connection(app, user="demo")
    assert [i.name for i in conn.image.images()] == ["cirros"]
    data = b"\x00" * 4096
    image = conn.image.create_image(
        name="mine", data=data, disk_format="raw", container_format="bare", wait=True
    )
    fetched = conn.image.get_image(image.id)
    assert fetched.status == "active" and fetched.size == 4096
    assert fetched.checksum == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert fetched.owner == conn.current_project_id
    assert conn.image.find_image("mine").id == image.id
    conn.image.update_image(image, name="renamed", hw_disk_bus="scsi")
    assert conn.image.get_image(image.id).name == "renamed"
    conn.image.delete_image(image)
    assert conn.image.find_image(image.id) is None


def test_network_proxy_manages_networks_subnets_and_ports(
    cloud: tuple[Runtime, WSGIApp],
) -> None:
    _, app = cloud
    conn = in_process_connection(app, user="demo")
    assert sorted(n.name for n in conn.network.networks()) == ["demo-net", "public"]
    net = conn.network.create_network(name="extra")
    subnet = conn.network.create_subnet(network_id=net.id, cidr="192.168.5.0/24", ip_version=4)
    assert subnet.gateway_ip == "192.168.5.1"
    port = conn.network.create_port(network_id=net.id, name="nic")
    assert port.fixed_ips == [{"subnet_id": subnet.id, "ip_address": "192.168.5.2"}]
    assert [p.id for p in conn.network.ports(network_id=net.id)] == [port.id]
    assert conn.network.find_network("public").is_shared is True
    conn.network.delete_port(port)
    conn.network.delete_subnet(subnet)
    conn.network.delete_network(net)
    assert conn.network.find_network("extra") is None


def test_block_storage_proxy_creates_lists_and_deletes_volumes(
    cloud: tuple[Runtime, WSGIApp],
) -> None:
    runtime, app = cloud
    conn = in_process_connection(app, user="demo")
    volume = conn.block_storage.create_volume(size=1, name="data")
    assert volume.status == "creating"
    runtime.clock.settle()
    assert conn.block_storage.get_volume(volume.id).status == "available"
    assert [v.name for v in conn.block_storage.volumes()] == ["data"]
    boot = conn.block_storage.create_volume(
        size=1, name="boot", image_id="6a1c7d4e-0c5e-4a53-9f0a-2b1f6c8e9d01"
    )
    runtime.clock.settle()
    assert conn.block_storage.get_volume(boot.id).is_bootable is True
    conn.block_storage.delete_volume(volume)
    runtime.clock.settle()
    assert conn.block_storage.find_volume(volume.id) is None
