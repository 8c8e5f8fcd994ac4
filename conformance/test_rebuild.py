"""rebuild: re-image in place through rebuilding -> rebuild_block_device_mapping ->
rebuild_spawning, keeping the server's id, host and state."""

from __future__ import annotations

import pytest

from conformance.support import CloudUnderTest

pytestmark = pytest.mark.testbed_capability("rebuild")


@pytest.mark.testbed_id("d323034e-3ab7-49e6-b183-a394d5da1c7b")
def test_rebuild_with_another_image(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="rb-active")
    other = cloud.image("tiny-linux")
    response = cloud.action(server.id, {"rebuild": {"imageRef": other.id, "name": "rb-new"}})
    assert response.status_code == 202
    body = response.json()["server"]
    assert body["id"] == server.id and "adminPass" in body
    rebuilt = cloud.wait(server.id, "ACTIVE")
    assert (rebuilt.image.id, rebuilt.name, rebuilt.compute_host) == (
        other.id,
        "rb-new",
        server.compute_host,
    )
    assert next(a.action for a in cloud.conn.compute.server_actions(server.id)) == "rebuild"
    if cloud.control is not None:
        task_states = [
            e["detail"].get("task_state")
            for e in cloud.control.trace(server=server.id)["events"]
            if e["kind"] == "state"
        ]
        start = task_states.index("rebuilding")
        assert [t for t in task_states[start:] if t] == [
            "rebuilding",
            "rebuild_block_device_mapping",
            "rebuild_spawning",
        ]


@pytest.mark.testbed_id("9dd41150-5dd9-4c27-a358-6adc220f41f0")
def test_rebuild_of_a_stopped_server_leaves_it_stopped(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="rb-stopped")
    cloud.action(server.id, {"os-stop": None})
    cloud.wait(server.id, "SHUTOFF")
    response = cloud.action(server.id, {"rebuild": {"imageRef": cloud.image().id}})
    assert response.status_code == 202
    assert cloud.wait(server.id, "SHUTOFF").vm_state == "stopped"


@pytest.mark.testbed_id("74734423-981f-4336-b529-229371708552")
def test_rebuild_refusals(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="rb-refused")
    missing = cloud.action(server.id, {"rebuild": {}})
    assert missing.status_code == 400
    unknown = cloud.action(
        server.id, {"rebuild": {"imageRef": "8e1bde2c-0000-4000-8000-000000000000"}}
    )
    assert unknown.status_code == 400
    cloud.action(server.id, {"pause": None})
    cloud.wait(server.id, "PAUSED")
    paused = cloud.action(server.id, {"rebuild": {"imageRef": cloud.image().id}})
    assert paused.status_code == 409
    assert (
        f"Cannot 'rebuild' instance {server.id} while it is in vm_state paused"
        in (paused.json()["conflictingRequest"]["message"])
    )
