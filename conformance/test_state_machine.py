"""state-machine: power operations, their task states, refused transitions, resets."""

from __future__ import annotations

import pytest

from conformance.support import CloudUnderTest

pytestmark = pytest.mark.testbed_capability("state-machine")

POWER_CYCLES = [
    # (action body, status after, vm_state after, power_states after, task_state on the way)
    ({"os-stop": None}, "SHUTOFF", "stopped", {4}, "powering-off"),
    ({"pause": None}, "PAUSED", "paused", {3}, "pausing"),
    # libvirt suspends with a managed save: the domain is shut off (4); others report 7.
    ({"suspend": None}, "SUSPENDED", "suspended", {4, 7}, "suspending"),
]
UNDO = {"SHUTOFF": {"os-start": None}, "PAUSED": {"unpause": None}, "SUSPENDED": {"resume": None}}


def _task_states(cloud: CloudUnderTest, server_id: str) -> list[str | None]:
    events = cloud.control.trace(server=server_id)["events"] if cloud.control else []
    return [e["detail"].get("task_state") for e in events if e["kind"] == "state"]


@pytest.mark.testbed_id("3005a737-3479-42e0-bcba-c8833fd64896")
@pytest.mark.parametrize(
    ("body", "status", "vm_state", "power", "task"),
    POWER_CYCLES,
    ids=["stop-start", "pause-unpause", "suspend-resume"],
)
def test_power_operation_and_its_undo(
    cloud: CloudUnderTest, body: dict, status: str, vm_state: str, power: int, task: str
) -> None:
    server = cloud.boot(name=f"sm-{status.lower()}")
    assert cloud.action(server.id, body).status_code == 202
    changed = cloud.wait(server.id, status)
    assert (changed.vm_state, changed.task_state) == (vm_state, None)
    assert changed.power_state in power
    if cloud.control is not None:
        assert task in _task_states(cloud, server.id)
    assert cloud.action(server.id, UNDO[status]).status_code == 202
    back = cloud.wait(server.id, "ACTIVE")
    assert (back.vm_state, back.power_state) == ("active", 1)


@pytest.mark.testbed_id("e71691a6-c9f8-4b22-a944-e37829caf70b")
@pytest.mark.parametrize("reboot_type", ["SOFT", "HARD"])
def test_reboot_returns_to_active(cloud: CloudUnderTest, reboot_type: str) -> None:
    server = cloud.boot(name=f"sm-reboot-{reboot_type.lower()}")
    assert cloud.action(server.id, {"reboot": {"type": reboot_type}}).status_code == 202
    rebooted = cloud.wait(server.id, "ACTIVE")
    assert rebooted.power_state == 1
    if cloud.control is not None:
        expected = "reboot_started" if reboot_type == "SOFT" else "reboot_started_hard"
        assert expected in _task_states(cloud, server.id)


REFUSED = [
    ({"os-start": None}, "start", "ACTIVE"),
    ({"unpause": None}, "unpause", "ACTIVE"),
    ({"resume": None}, "resume", "ACTIVE"),
    ({"pause": None}, "pause", "SHUTOFF"),
    ({"suspend": None}, "suspend", "SHUTOFF"),
    ({"os-stop": None}, "stop", "SHUTOFF"),
]


@pytest.mark.testbed_id("1766dcf1-5274-489b-947b-2c1bd982d617")
@pytest.mark.parametrize(
    ("body", "verb", "status"), REFUSED, ids=[f"{v}-when-{s.lower()}" for _, v, s in REFUSED]
)
def test_action_in_the_wrong_state_is_409_and_changes_nothing(
    cloud: CloudUnderTest, body: dict, verb: str, status: str
) -> None:
    server = cloud.boot(name=f"sm-refused-{verb}")
    if status == "SHUTOFF":
        cloud.action(server.id, {"os-stop": None})
        server = cloud.wait(server.id, "SHUTOFF")
    response = cloud.action(server.id, body)
    assert response.status_code == 409
    fault = response.json()["conflictingRequest"]
    assert fault["code"] == 409
    assert f"Cannot '{verb}' instance {server.id} while it is in vm_state" in fault["message"]
    after = cloud.conn.compute.get_server(server.id)
    assert (after.status, after.vm_state, after.task_state) == (status, server.vm_state, None)


@pytest.mark.testbed_id("5da41dfd-f9af-4e4a-a1e4-05d536446b42")
def test_reset_state_to_error_and_back(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="sm-reset")
    assert cloud.action(server.id, {"os-resetState": {"state": "error"}}).status_code == 202
    assert cloud.conn.compute.get_server(server.id).status == "ERROR"
    assert cloud.action(server.id, {"os-resetState": {"state": "active"}}).status_code == 202
    assert cloud.conn.compute.get_server(server.id).status == "ACTIVE"
    bad = cloud.action(server.id, {"os-resetState": {"state": "paused"}})
    assert bad.status_code == 400 and "badRequest" in bad.json()


@pytest.mark.testbed_id("618391cc-6ecb-4f39-aca3-f6c73d3259d3")
def test_no_valid_host_leaves_the_server_in_error_with_a_fault(cloud: CloudUnderTest) -> None:
    # More memory than any host has (16 GiB x 1.5), within the project's quota.
    flavor = cloud.conn.compute.create_flavor(name="sm-huge", vcpus=1, ram=30_000, disk=1)
    try:
        server = cloud.boot(name="sm-novalidhost", flavor_id=flavor.id, wait="ERROR")
        assert server.fault and "No valid host was found" in server.fault["message"]
        assert server.compute_host is None
        actions = list(cloud.conn.compute.server_actions(server.id))
        assert [a.action for a in actions] == ["create"]
    finally:
        cloud.conn.compute.delete_flavor(flavor.id)


@pytest.mark.testbed_id("b575a54e-38a8-4b28-89d4-6e78a1981d45")
@pytest.mark.testbed_requires("control")
def test_force_delete_preempts_a_running_task(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="sm-force")
    cloud.control.inject(
        {
            "target": "bus",
            "topic": "compute.*",
            "method": "stop_instance",
            "action": "delay",
            "seconds": 300,
            "times": 1,
        }
    )
    cloud.control.set_clock_mode("manual")
    assert cloud.action(server.id, {"os-stop": None}).status_code == 202
    cloud.settle()
    assert cloud.conn.compute.get_server(server.id).task_state == "powering-off"
    assert cloud.action(server.id, {"forceDelete": None}).status_code == 202
    cloud.control.set_clock_mode("auto")
    cloud.control.advance(301)
    cloud.wait_deleted(server.id)


@pytest.mark.testbed_id("58c808e5-9237-415c-b8d2-9e1172b12abf")
def test_state_changes_are_recorded_as_instance_actions(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="sm-actions")
    cloud.action(server.id, {"os-stop": None})
    cloud.wait(server.id, "SHUTOFF")
    cloud.action(server.id, {"os-start": None})
    cloud.wait(server.id, "ACTIVE")
    actions = [a.action for a in cloud.conn.compute.server_actions(server.id)]
    assert actions == ["start", "stop", "create"]
