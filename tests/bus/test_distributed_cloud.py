"""The embedded cloud on the distributed plumbing: every service in this process, but
talking over RabbitMQ and keeping state in PostgreSQL (the store's own tests cover
MariaDB as well)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testbed.cloud import Cloud
from testbed.store.db import Store

from ..store.conftest import scratch_database
from .conftest import new_prefix


@pytest.fixture
def cloud(amqp_url: str) -> Iterator[Cloud]:
    with scratch_database("postgresql") as database_url:
        store = Store(database_url, now=lambda: 0.0)
        store.create_schema()
        store.close()
        started = Cloud.start(
            "default",
            transport_url=amqp_url,
            control_exchange=new_prefix(),
            database_url=database_url,
            boot_seconds=0.2,
            rpc_response_timeout=10,
        )
        bus = started.runtime.bus
        try:
            yield started
        finally:
            bus.close(delete=True)  # type: ignore[call-arg]
            started.stop()


def test_a_server_boots_stops_and_goes_away_over_rabbitmq(cloud: Cloud):
    conn = cloud.connect()
    image = next(iter(conn.image.images()))
    flavor = next(iter(conn.compute.flavors()))
    network = next(iter(conn.network.networks()))
    server = conn.compute.create_server(
        name="vm1", image_id=image.id, flavor_id=flavor.id, networks=[{"uuid": network.id}]
    )
    cloud.settle()
    server = conn.compute.get_server(server.id)
    assert server.status == "ACTIVE"
    assert server.compute_host in {h.name for h in cloud.topology.hosts}

    conn.compute.stop_server(server)
    cloud.settle()
    assert conn.compute.get_server(server.id).status == "SHUTOFF"

    conn.compute.delete_server(server)
    cloud.settle()
    assert list(conn.compute.servers()) == []
