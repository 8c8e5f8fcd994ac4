"""cold-migration: migrate (same flavor) to another host, confirm or revert."""

from __future__ import annotations

import pytest

from conformance.support import CloudUnderTest

pytestmark = pytest.mark.testbed_capability("cold-migration")


def _migrations(cloud: CloudUnderTest, server_id: str) -> list[dict[str, object]]:
    response = cloud.conn.compute.get(
        "/os-migrations", params={"instance_uuid": server_id}, microversion="2.59"
    )
    return list(response.json()["migrations"])


@pytest.mark.testbed_id("72fe79e1-c181-49e0-9ed9-e1d52e4a3329")
def test_migrate_moves_to_another_host_then_confirm(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="cm-confirm")
    assert cloud.action(server.id, {"migrate": None}).status_code == 202
    moved = cloud.wait(server.id, "VERIFY_RESIZE")
    assert moved.compute_host != server.compute_host
    [migration] = _migrations(cloud, server.id)
    assert migration["migration_type"] == "migration"
    assert (migration["source_compute"], migration["dest_compute"]) == (
        server.compute_host,
        moved.compute_host,
    )
    assert cloud.action(server.id, {"confirmResize": None}).status_code == 204
    assert cloud.wait(server.id, "ACTIVE").compute_host == moved.compute_host
    assert _migrations(cloud, server.id)[0]["status"] == "confirmed"


@pytest.mark.testbed_id("a85d637e-3e75-43cd-907d-7972f7409f72")
def test_migrate_to_a_requested_host(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="cm-host")
    hosts = [
        s.host
        for s in cloud.conn.compute.services(binary="nova-compute")
        if s.state == "up" and s.status == "enabled" and s.host != server.compute_host
    ]
    target = hosts[0]
    response = cloud.action(server.id, {"migrate": {"host": target}}, microversion="2.56")
    assert response.status_code == 202
    assert cloud.wait(server.id, "VERIFY_RESIZE").compute_host == target
    assert cloud.action(server.id, {"revertResize": None}).status_code == 202
    assert cloud.wait(server.id, "ACTIVE").compute_host == server.compute_host


@pytest.mark.testbed_id("05fe78ab-b873-40f7-81e9-94aa7c3c3fd8")
def test_migrate_to_its_own_host_is_refused(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="cm-self")
    response = cloud.action(
        server.id, {"migrate": {"host": server.compute_host}}, microversion="2.56"
    )
    assert response.status_code == 400
    assert cloud.wait(server.id, "ACTIVE").compute_host == server.compute_host


@pytest.mark.testbed_id("39ed469d-57e1-4aa0-9f88-a8866be2a904")
def test_deleting_a_server_awaiting_confirmation(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="cm-delete")
    assert cloud.action(server.id, {"migrate": None}).status_code == 202
    cloud.wait(server.id, "VERIFY_RESIZE")
    cloud.conn.compute.delete_server(server.id)
    cloud.wait_deleted(server.id)
    assert _migrations(cloud, server.id)[0]["status"] in ("confirmed", "completed")
