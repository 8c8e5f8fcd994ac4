"""Admin resources: os-services, os-hypervisors, os-availability-zone, os-migrations."""

from __future__ import annotations

import pytest

from testbed.compute.models import Migration
from tests.api.conftest import Cloud

ADMIN = "admin-token"


@pytest.mark.parametrize(
    "path",
    [
        "/v2.1/os-services",
        "/v2.1/os-hypervisors",
        "/v2.1/os-hypervisors/detail",
        "/v2.1/os-migrations",
        "/v2.1/os-availability-zone/detail",
    ],
)
def test_members_are_refused_with_403(cloud: Cloud, path: str) -> None:
    resp = cloud.get(path)
    assert resp.status_code == 403
    assert resp.json()["forbidden"]["message"].startswith("Policy doesn't allow")


def test_service_list_with_state_and_forced_down(cloud: Cloud) -> None:
    services = cloud.get("/v2.1/os-services", token=ADMIN, version="2.11").json()["services"]
    by_binary = {(s["host"], s["binary"]): s for s in services}
    compute = by_binary[("host1", "nova-compute")]
    assert compute["state"] == "up" and compute["status"] == "enabled"
    assert compute["zone"] == "nova" and compute["forced_down"] is False
    assert isinstance(compute["id"], int)
    assert by_binary[("controller", "nova-conductor")]["zone"] == "internal"
    filtered = cloud.get("/v2.1/os-services?binary=nova-compute&host=host2", token=ADMIN)
    assert [s["host"] for s in filtered.json()["services"]] == ["host2"]
    cloud.runtime.clock.advance(cloud.runtime.config.service_down_time + 1)
    later = cloud.get("/v2.1/os-services?host=host1", token=ADMIN).json()["services"]
    assert later[0]["state"] == "down"


def test_disable_enable_and_force_down_before_2_53(cloud: Cloud) -> None:
    body = {"host": "host1", "binary": "nova-compute"}
    disabled = cloud.put(
        "/v2.1/os-services/disable-log-reason", {**body, "disabled_reason": "maint"}, token=ADMIN
    )
    assert disabled.json() == {
        "service": {**body, "status": "disabled", "disabled_reason": "maint"}
    }
    assert cloud.service("host1").disabled_reason == "maint"
    enabled = cloud.put("/v2.1/os-services/enable", body, token=ADMIN)
    assert enabled.json()["service"]["status"] == "enabled"
    assert (
        cloud.put(
            "/v2.1/os-services/force-down", {**body, "forced_down": True}, token=ADMIN
        ).status_code
        == 404
    )
    down = cloud.put(
        "/v2.1/os-services/force-down",
        {**body, "forced_down": True},
        token=ADMIN,
        version="2.11",
    )
    assert down.json() == {"service": {**body, "forced_down": True}}
    assert cloud.service("host1").forced_down
    missing = cloud.put(
        "/v2.1/os-services/disable", {"host": "nohost", "binary": "nova-compute"}, token=ADMIN
    )
    assert missing.status_code == 404
    conductor = cloud.put(
        "/v2.1/os-services/disable",
        {"host": "controller", "binary": "nova-conductor"},
        token=ADMIN,
    )
    assert conductor.status_code == 400


def test_update_by_uuid_from_2_53(cloud: Cloud) -> None:
    service = cloud.service("host2")
    path = f"/v2.1/os-services/{service.uuid}"
    resp = cloud.put(
        path,
        {"status": "disabled", "disabled_reason": "x", "forced_down": True},
        token=ADMIN,
        version="2.53",
    )
    assert resp.status_code == 200
    view = resp.json()["service"]
    assert view["id"] == service.uuid and view["status"] == "disabled"
    assert view["forced_down"] is True and view["state"] == "down"
    assert cloud.put(path, {}, token=ADMIN, version="2.53").status_code == 400
    bad_reason = cloud.put(
        path, {"status": "enabled", "disabled_reason": "x"}, token=ADMIN, version="2.53"
    )
    assert bad_reason.status_code == 400
    assert (
        cloud.put(
            "/v2.1/os-services/not-a-uuid", {"status": "enabled"}, token=ADMIN, version="2.53"
        ).status_code
        == 400
    )
    assert (
        cloud.put(
            "/v2.1/os-services/disable",
            {"host": "host2", "binary": "nova-compute"},
            token=ADMIN,
            version="2.53",
        ).status_code
        == 400
    )


def test_delete_service_refused_while_hosting(cloud: Cloud) -> None:
    cloud.active(host="host1")
    host1 = cloud.service("host1")
    busy = cloud.delete(f"/v2.1/os-services/{host1.uuid}", token=ADMIN, version="2.53")
    assert busy.status_code == 409
    host2 = cloud.service("host2")
    assert cloud.delete(f"/v2.1/os-services/{host2.id}", token=ADMIN).status_code == 204
    hypervisors = cloud.get("/v2.1/os-hypervisors", token=ADMIN).json()["hypervisors"]
    assert [h["hypervisor_hostname"] for h in hypervisors] == ["host1.node"]


def test_hypervisors_list_detail_show_and_statistics(cloud: Cloud) -> None:
    listed = cloud.get("/v2.1/os-hypervisors", token=ADMIN).json()["hypervisors"]
    assert listed[0] == {
        "id": listed[0]["id"],
        "hypervisor_hostname": "host1.node",
        "state": "up",
        "status": "enabled",
    }
    assert isinstance(listed[0]["id"], int)
    detail = cloud.get("/v2.1/os-hypervisors/detail", token=ADMIN).json()["hypervisors"][0]
    # running_vms counts the instances placed on the node; this store places none.
    assert detail["vcpus"] == 8 and detail["vcpus_used"] == 1 and detail["running_vms"] == 0
    assert detail["free_ram_mb"] == 16384 - 512 and detail["service"]["host"] == "host1"
    assert isinstance(detail["cpu_info"], str)
    shown = cloud.get(f"/v2.1/os-hypervisors/{listed[0]['id']}", token=ADMIN).json()
    assert shown["hypervisor"]["memory_mb"] == 16384
    new = cloud.get("/v2.1/os-hypervisors/detail", token=ADMIN, version="2.88").json()
    first = new["hypervisors"][0]
    assert "vcpus" not in first and first["service"]["id"] == cloud.service("host1").uuid
    assert len(first["id"]) == 36
    stats = cloud.get("/v2.1/os-hypervisors/statistics", token=ADMIN).json()
    assert stats["hypervisor_statistics"]["count"] == 2
    assert stats["hypervisor_statistics"]["running_vms"] == 0
    assert cloud.get("/v2.1/os-hypervisors/nope", token=ADMIN, version="2.53").status_code == 400
    assert cloud.get("/v2.1/os-hypervisors/999", token=ADMIN).status_code == 404


def test_hypervisor_servers_from_2_53(cloud: Cloud) -> None:
    uuid = cloud.active("on-node")
    resp = cloud.get("/v2.1/os-hypervisors?with_servers=true", token=ADMIN, version="2.53")
    host1 = resp.json()["hypervisors"][0]
    assert host1["servers"] == [{"name": "on-node", "uuid": uuid}]
    old = cloud.get("/v2.1/os-hypervisors/host1/servers", token=ADMIN).json()
    assert old["hypervisors"][0]["servers"][0]["uuid"] == uuid


def test_availability_zones(cloud: Cloud) -> None:
    zones = cloud.get("/v2.1/os-availability-zone").json()["availabilityZoneInfo"]
    assert {z["zoneName"] for z in zones} == {"nova", "az2"}
    assert all(z["zoneState"]["available"] and z["hosts"] is None for z in zones)
    detail = cloud.get("/v2.1/os-availability-zone/detail", token=ADMIN).json()
    by_name = {z["zoneName"]: z for z in detail["availabilityZoneInfo"]}
    assert set(by_name) == {"internal", "nova", "az2"}
    assert by_name["nova"]["hosts"]["host1"]["nova-compute"]["available"] is True
    assert "nova-conductor" in by_name["internal"]["hosts"]["controller"]


def test_migrations_lists_and_filters(cloud: Cloud) -> None:
    uuid = cloud.active()
    with cloud.runtime.store.session() as session:
        session.add_all(
            [
                Migration(
                    instance_uuid=uuid,
                    migration_type="live-migration",
                    status="running",
                    source_compute="host1",
                    dest_compute="host2",
                ),
                Migration(
                    instance_uuid=uuid,
                    migration_type="migration",
                    status="confirmed",
                    source_compute="host2",
                    dest_compute="host1",
                ),
            ]
        )
    listed = cloud.get("/v2.1/os-migrations", token=ADMIN, version="2.80").json()["migrations"]
    assert len(listed) == 2 and {m["migration_type"] for m in listed} == {
        "live-migration",
        "migration",
    }
    assert all("uuid" in m and "project_id" in m for m in listed)
    running = cloud.get("/v2.1/os-migrations?status=running", token=ADMIN).json()["migrations"]
    assert [m["source_compute"] for m in running] == ["host1"]
    assert "migration_type" not in running[0]
    by_type = cloud.get(
        "/v2.1/os-migrations?migration_type=migration", token=ADMIN, version="2.23"
    ).json()["migrations"]
    assert [m["status"] for m in by_type] == ["confirmed"]
    server = cloud.get(f"/v2.1/servers/{uuid}/migrations", token=ADMIN, version="2.23").json()
    assert [m["status"] for m in server["migrations"]] == ["running"]
    assert server["migrations"][0]["server_uuid"] == uuid
    assert cloud.get(f"/v2.1/servers/{uuid}/migrations", token=ADMIN).status_code == 404
    mid = server["migrations"][0]["id"]
    abort = cloud.delete(f"/v2.1/servers/{uuid}/migrations/{mid}", token=ADMIN, version="2.24")
    assert abort.status_code == 202  # cast to the source host (testbed/compute/migrate_api.py)
