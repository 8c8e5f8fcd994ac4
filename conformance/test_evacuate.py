"""evacuate: refused while the host is up, recreates the server elsewhere once it is down,
and the failed host cleans up when it comes back."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.support import CloudUnderTest

pytestmark = pytest.mark.testbed_capability("evacuate")


def _crash(cloud: CloudUnderTest, host: str) -> None:
    """The host dies; time passes until its compute service counts as down."""
    cloud.control.inject({"target": "host", "kind": "crash", "host": host})
    down_time = cloud.control.info()["config"]["service_down_time"]
    cloud.control.advance(down_time + 10)


def _boot_on(cloud: CloudUnderTest, host: str, zone: str, **attrs: Any) -> Any:
    return cloud.boot(availability_zone=f"{zone}:{host}", **attrs)


def _evacuations(cloud: CloudUnderTest, server_id: str) -> list[Any]:
    return [
        m
        for m in cloud.conn.compute.migrations(instance_uuid=server_id)
        if m.migration_type == "evacuation"
    ]


@pytest.mark.testbed_id("21df5a99-3999-4633-a8fe-7d43a65f6751")
def test_evacuate_while_the_host_is_up_is_refused(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="ev-up")
    response = cloud.action(server.id, {"evacuate": {}}, microversion="2.29")
    assert response.status_code == 400
    message = response.json()["badRequest"]["message"]
    assert message == f"Compute service of {server.compute_host} is still in use."
    assert cloud.conn.compute.get_server(server.id).status == "ACTIVE"


@pytest.mark.testbed_id("3c93608b-2102-4503-b105-d278e85e28f2")
def test_evacuate_to_an_unknown_or_the_same_host_is_refused(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="ev-target")
    unknown = cloud.action(server.id, {"evacuate": {"host": "no-such-host"}}, microversion="2.29")
    assert unknown.status_code == 404
    assert unknown.json()["itemNotFound"]["message"] == "Compute host no-such-host not found."
    same = cloud.action(server.id, {"evacuate": {"host": server.compute_host}}, microversion="2.29")
    assert same.status_code == 400
    assert same.json()["badRequest"]["message"] == "The target host can't be the same one."


@pytest.mark.testbed_id("e651e3a9-f218-4a70-9973-7f6b74eec295")
def test_evacuate_body_follows_the_microversion(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="ev-schema")
    legacy = cloud.action(server.id, {"evacuate": {}}, microversion="2.13")
    assert legacy.status_code == 400  # onSharedStorage is required below 2.14
    gone = cloud.action(server.id, {"evacuate": {"onSharedStorage": False}}, microversion="2.14")
    assert gone.status_code == 400  # and refused from 2.14
    forced = cloud.action(server.id, {"evacuate": {"force": True}}, microversion="2.29")
    assert forced.status_code == 400  # force needs a host


@pytest.mark.testbed_id("c0fcd5fb-5339-4378-9ea2-c5635882811a")
@pytest.mark.testbed_requires("control")
@pytest.mark.parametrize(
    ("source", "zone", "target", "disk_survives"),
    [("cmp-a1", "az1", "cmp-a2", True), ("cmp-b1", "az2", "cmp-b2", False)],
    ids=["shared-storage", "local-storage"],
)
def test_evacuate_from_a_failed_host(
    cloud: CloudUnderTest, source: str, zone: str, target: str, disk_survives: bool
) -> None:
    server = _boot_on(cloud, source, zone, name=f"ev-{source}")
    _crash(cloud, source)
    response = cloud.action(server.id, {"evacuate": {"host": target}}, microversion="2.29")
    assert response.status_code == 200
    moved = cloud.wait(server.id, "ACTIVE")
    assert moved.compute_host == target and moved.id == server.id
    [migration] = _evacuations(cloud, server.id)
    assert (migration.source_compute, migration.dest_compute, migration.status) == (
        source,
        target,
        "done",
    )
    actions = [a.action for a in cloud.conn.compute.server_actions(server.id)]
    assert actions[0] == "evacuate"
    task_states = [
        e["detail"].get("task_state")
        for e in cloud.control.trace(server=server.id)["events"]
        if e["kind"] == "state"
    ]
    for step in ("rebuilding", "rebuild_block_device_mapping", "rebuild_spawning"):
        assert step in task_states
    cloud.control.clear_faults()  # the failed host comes back
    cloud.settle()
    [migration] = _evacuations(cloud, server.id)
    assert migration.status == "completed"  # its stale guest was destroyed


@pytest.mark.testbed_id("c728572f-0ee8-4075-b967-5bc48a48cf36")
@pytest.mark.testbed_requires("control")
@pytest.mark.parametrize(
    ("stop_first", "microversion", "status"),
    [(True, "2.29", "SHUTOFF"), (False, "2.94", "ACTIVE"), (False, "2.95", "SHUTOFF")],
    ids=["stopped-stays-stopped", "active-stays-active", "2.95-lands-stopped"],
)
def test_evacuated_server_lands_in_the_state_the_microversion_says(
    cloud: CloudUnderTest, stop_first: bool, microversion: str, status: str
) -> None:
    server = _boot_on(cloud, "cmp-b2", "az2", name="ev-state")
    if stop_first:
        cloud.action(server.id, {"os-stop": None})
        cloud.wait(server.id, "SHUTOFF")
    _crash(cloud, "cmp-b2")
    response = cloud.action(server.id, {"evacuate": {}}, microversion=microversion)
    assert response.status_code == 200
    moved = cloud.wait(server.id, status)
    assert moved.compute_host != "cmp-b2"
