"""resize: a server changes flavor through VERIFY_RESIZE, then confirm or revert."""

from __future__ import annotations

import pytest

from conformance.support import CloudUnderTest

pytestmark = pytest.mark.testbed_capability("resize")


def _migrations(cloud: CloudUnderTest, server_id: str) -> list[dict[str, object]]:
    response = cloud.conn.compute.get(
        "/os-migrations", params={"instance_uuid": server_id}, microversion="2.59"
    )
    return list(response.json()["migrations"])


@pytest.mark.testbed_id("ee4a7e44-a322-434e-8b78-4d57d2926a0c")
def test_resize_then_confirm_keeps_the_new_flavor(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="rs-confirm")
    small = cloud.flavor("m1.small")
    cloud.conn.compute.resize_server(server.id, small.id)
    resized = cloud.wait(server.id, "VERIFY_RESIZE")
    assert resized.vm_state == "resized" and resized.flavor.name == small.name
    [migration] = _migrations(cloud, server.id)
    assert (migration["migration_type"], migration["status"]) == ("resize", "finished")
    response = cloud.action(server.id, {"confirmResize": None})
    assert response.status_code == 204
    confirmed = cloud.wait(server.id, "ACTIVE")
    assert confirmed.flavor.name == small.name
    assert _migrations(cloud, server.id)[0]["status"] == "confirmed"


@pytest.mark.testbed_id("92825809-2547-44a9-bef7-fd782879c68a")
def test_resize_then_revert_restores_flavor_and_host(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="rs-revert")
    cloud.conn.compute.resize_server(server.id, cloud.flavor("m1.small").id)
    cloud.wait(server.id, "VERIFY_RESIZE")
    assert cloud.action(server.id, {"revertResize": None}).status_code == 202
    reverted = cloud.wait(server.id, "ACTIVE")
    assert reverted.flavor.name == server.flavor.name
    assert reverted.compute_host == server.compute_host
    assert _migrations(cloud, server.id)[0]["status"] == "reverted"


@pytest.mark.testbed_id("40fcc287-f441-4032-8619-c589d102491d")
def test_a_stopped_server_resizes_and_stays_stopped(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="rs-stopped")
    cloud.conn.compute.stop_server(server.id)
    cloud.wait(server.id, "SHUTOFF")
    cloud.conn.compute.resize_server(server.id, cloud.flavor("m1.small").id)
    cloud.wait(server.id, "VERIFY_RESIZE")
    assert cloud.action(server.id, {"confirmResize": None}).status_code == 204
    assert cloud.wait(server.id, "SHUTOFF").power_state == 4


@pytest.mark.testbed_id("29595194-85f0-4e2c-a756-b4494f0ec93d")
def test_resize_refusals(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="rs-refused", flavor_id=cloud.flavor("m1.small").id)
    same = cloud.action(server.id, {"resize": {"flavorRef": server.flavor.id or "2"}})
    assert same.status_code == 400
    smaller = cloud.action(server.id, {"resize": {"flavorRef": cloud.flavor("m1.tiny").id}})
    # Nova refuses a smaller disk up front (400) or on the host (the server stays as it was)
    assert smaller.status_code in (400, 202)
    after = cloud.wait(server.id, "ACTIVE")
    assert after.flavor.name == "m1.small"
    assert cloud.action(server.id, {"confirmResize": None}).status_code in (400, 409)


@pytest.mark.testbed_id("72e38dbf-395e-47b2-a969-b89486c915b7")
def test_a_flavor_that_fits_nowhere_leaves_the_server_active(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="rs-novalid")
    huge = cloud.conn.compute.create_flavor(
        name="conformance-huge", ram=4 * 1024 * 1024, vcpus=1, disk=1
    )
    try:
        response = cloud.action(server.id, {"resize": {"flavorRef": huge.id}})
        assert response.status_code in (202, 400)
        after = cloud.wait(server.id, "ACTIVE")
        assert after.flavor.name == server.flavor.name
        if response.status_code == 202:
            assert _migrations(cloud, server.id)[0]["status"] == "error"
    finally:
        cloud.conn.compute.delete_flavor(huge.id)
