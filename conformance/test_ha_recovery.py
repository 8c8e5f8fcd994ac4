"""ha-recovery: the test-bed's HA engine (Masakari's host-failure methods) recovers every
instance of a failed host, and reports what it did per instance."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conformance.support import CloudUnderTest

pytestmark = [
    pytest.mark.testbed_capability("ha-recovery"),
    pytest.mark.testbed_requires("control"),
]


@pytest.fixture
def ha(cloud: CloudUnderTest) -> Iterator[Any]:
    """The HA engine's control (``PUT /testbed/v1/ha``), switched off again afterwards,
    with every compute service enabled again."""

    def configure(**settings: Any) -> dict[str, Any]:
        result: dict[str, Any] = cloud.control._request("PUT", "/ha", settings)["ha"]
        return result

    yield configure
    configure(enabled=False, recovery_method="auto", reserved_hosts=[])
    cloud.control.clear_faults()
    cloud.settle()
    for service in cloud.conn.compute.services(binary="nova-compute"):
        if service.status == "disabled":
            cloud.conn.compute.enable_service(service)


def _notification(cloud: CloudUnderTest, host: str) -> dict[str, Any]:
    notes = cloud.control._request("GET", "/ha")["notifications"]
    return next(n for n in notes if n["hostname"] == host)


def _fail_host(cloud: CloudUnderTest, host: str) -> None:
    cloud.control.inject({"target": "host", "kind": "crash", "host": host})
    config = cloud.control.info()["config"]
    cloud.control.advance(config["service_down_time"] + config["ha_check_interval"] + 1)
    cloud.settle()


@pytest.mark.testbed_id("728d02f9-b913-469e-b16c-b227c39c04ee")
def test_auto_recovers_every_instance_of_a_failed_host(cloud: CloudUnderTest, ha: Any) -> None:
    servers = [cloud.boot(name=f"ha-auto-{i}", availability_zone="az2:cmp-b1") for i in range(3)]
    cloud.action(servers[1].id, {"os-stop": None})
    cloud.wait(servers[1].id, "SHUTOFF")
    cloud.action(servers[2].id, {"pause": None})
    cloud.wait(servers[2].id, "PAUSED")
    ha(enabled=True, recovery_method="auto")
    _fail_host(cloud, "cmp-b1")
    statuses = [cloud.conn.compute.get_server(s.id) for s in servers]
    assert [s.status for s in statuses] == ["ACTIVE", "SHUTOFF", "ACTIVE"]
    assert all(s.compute_host != "cmp-b1" for s in statuses)
    note = _notification(cloud, "cmp-b1")
    assert (note["status"], note["recovery_method"]) == ("finished", "auto")
    results = {i["uuid"]: i for i in note["instances"]}
    assert [results[s.id]["reset"] for s in servers] == [False, False, True]  # paused: reset
    assert {results[s.id]["status"] for s in servers} == {"recovered"}
    service = next(iter(cloud.conn.compute.services(host="cmp-b1", binary="nova-compute")))
    assert service.status == "disabled"
    assert service.disabled_reason == "Masakari detected host failed."


@pytest.mark.testbed_id("269a8877-c6e0-449d-b49b-1e53e2b5a4e2")
@pytest.mark.parametrize("method", ["reserved_host", "rh_priority"])
def test_reserved_host_methods_use_the_standby_host(
    cloud: CloudUnderTest, ha: Any, method: str
) -> None:
    standby = next(iter(cloud.conn.compute.services(host="cmp-a2", binary="nova-compute")))
    cloud.conn.compute.disable_service(standby)
    servers = [cloud.boot(name=f"ha-rh-{i}", availability_zone="az2:cmp-b2") for i in range(2)]
    ha(enabled=True, recovery_method=method, reserved_hosts=["cmp-a2"])
    _fail_host(cloud, "cmp-b2")
    assert {cloud.conn.compute.get_server(s.id).compute_host for s in servers} == {"cmp-a2"}
    note = _notification(cloud, "cmp-b2")
    assert note["status"] == "finished"
    assert {i["attempts"][0]["method"] for i in note["instances"]} == {"reserved_host"}
