"""drift-repair: the three classic drifts, made by fault injection, found and repaired
(or, where Nova only logs, left as Nova leaves them), each repair recorded with its reason."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.support import CloudUnderTest

pytestmark = [
    pytest.mark.testbed_capability("drift-repair"),
    pytest.mark.testbed_requires("control"),
]


def _events_of_latest_action(cloud: CloudUnderTest, server_id: str) -> tuple[str, list[Any]]:
    latest = next(iter(cloud.conn.compute.server_actions(server_id)))
    action = cloud.conn.compute.get_server_action(latest.request_id, server_id)
    return latest.action, list(action.events or [])


@pytest.mark.testbed_id("69443087-7bc3-4c3e-af0f-e86d3b8a3631")
def test_shutdown_while_active_is_repaired_with_its_reason(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="drift-shutdown")
    cloud.control.inject(
        {
            "target": "hypervisor",
            "kind": "guest_shutdown",
            "host": server.compute_host,
            "domain": server.instance_name,
        }
    )
    cloud.control.run_periodic_tasks("sync_power_states", server.compute_host)
    assert cloud.wait(server.id, "SHUTOFF").vm_state == "stopped"
    action, events = _events_of_latest_action(cloud, server.id)
    assert action == "stop"
    names = {e["event"] for e in events}
    assert {"compute_sync_power_state", "compute_stop_instance"} <= names


@pytest.mark.testbed_id("db9bb673-477d-4535-8bce-994d3a3f1bf5")
def test_running_while_deleted_is_reaped(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="drift-deleted", availability_zone="az2:cmp-b2")
    cloud.control.inject({"target": "host", "kind": "service_stop", "host": "cmp-b2"})
    cloud.control.advance(cloud.control.info()["config"]["service_down_time"] + 10)
    cloud.conn.compute.delete_server(server.id)  # deleted locally: the guest keeps running
    cloud.wait_deleted(server.id)
    cloud.control.clear_faults()  # nova-compute is back
    cloud.settle()
    cloud.control.run_periodic_tasks("cleanup_running_deleted_instances", "cmp-b2")
    found = [
        e
        for e in cloud.control.trace(server=server.id)["events"]
        if e["name"] == "running_deleted_instance"
    ]
    assert (
        found and "marked as DELETED but still present on host" in (found[-1]["detail"]["message"])
    )
    drivers = [
        e["name"]
        for e in cloud.control.trace(server=server.id)["events"]
        if e["kind"] == "driver" and e["source"] == "compute:cmp-b2"
    ]
    assert drivers[-1] == "destroy"


@pytest.mark.testbed_id("fb0a32f8-587b-4b20-a309-5099f4c3ce23")
def test_running_while_paused_is_only_recorded_by_nova_s_rules(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="drift-paused")
    cloud.action(server.id, {"pause": None})
    paused = cloud.wait(server.id, "PAUSED")
    cloud.control.inject(
        {
            "target": "hypervisor",
            "kind": "domain_state",
            "state": "running",
            "host": paused.compute_host,
            "domain": paused.instance_name,
        }
    )
    cloud.control.run_periodic_tasks("sync_power_states", paused.compute_host)
    after = cloud.wait(server.id, "PAUSED")  # Nova leaves it (the strict policy re-pauses)
    assert after.power_state == 1
