"""Flavors, limits, quota sets, server groups, instance actions, volume attachments."""

from __future__ import annotations

from sqlalchemy import select

from testbed.compute.models import BlockDeviceMapping, InstanceAction, InstanceActionEvent
from tests.api.conftest import BUSY_VOLUME, IMAGE, VOLUME, Cloud

ADMIN = "admin-token"


# -- flavors --------------------------------------------------------------------------------
def test_flavor_list_detail_and_show(cloud: Cloud) -> None:
    listed = cloud.get("/v2.1/flavors").json()["flavors"]
    assert [f["id"] for f in listed] == ["0", "1", "2", "4"]
    assert set(listed[0]) == {"id", "name", "links"}
    detail = cloud.get("/v2.1/flavors/detail", version="2.61").json()["flavors"]
    small = next(f for f in detail if f["id"] == "2")
    assert small["ram"] == 2048 and small["vcpus"] == 2 and small["disk"] == 20
    assert small["OS-FLV-EXT-DATA:ephemeral"] == 0 and small["swap"] == ""
    assert small["os-flavor-access:is_public"] is True
    assert small["extra_specs"] == {"hw:cpu_policy": "shared"}
    assert cloud.get("/v2.1/flavors/2", version="2.75").json()["flavor"]["swap"] == 0
    assert cloud.get("/v2.1/flavors/3").status_code == 404
    assert cloud.get("/v2.1/flavors/3", token=ADMIN).status_code == 200
    everything = cloud.get("/v2.1/flavors?is_public=none", token=ADMIN).json()["flavors"]
    assert "3" in [f["id"] for f in everything]
    big = cloud.get("/v2.1/flavors/detail?minRam=1024").json()["flavors"]
    assert [f["id"] for f in big] == ["2", "4"]
    page = cloud.get("/v2.1/flavors?limit=2").json()
    assert len(page["flavors"]) == 2 and "flavors_links" in page


def test_flavor_admin_create_delete_and_extra_specs(cloud: Cloud) -> None:
    body = {"flavor": {"name": "m1.custom", "ram": 256, "vcpus": 1, "disk": 1, "id": "c1"}}
    assert cloud.post("/v2.1/flavors", body).status_code == 403
    created = cloud.post("/v2.1/flavors", body, token=ADMIN)
    assert created.status_code == 200 and created.json()["flavor"]["id"] == "c1"
    assert cloud.post("/v2.1/flavors", body, token=ADMIN).status_code == 409
    bad = cloud.post(
        "/v2.1/flavors",
        {"flavor": {"name": "x", "ram": "lots", "vcpus": 1, "disk": 1}},
        token=ADMIN,
    )
    assert bad.status_code == 400
    specs = cloud.post(
        "/v2.1/flavors/c1/os-extra_specs", {"extra_specs": {"hw:numa_nodes": 1}}, token=ADMIN
    )
    assert specs.json() == {"extra_specs": {"hw:numa_nodes": "1"}}
    assert cloud.get("/v2.1/flavors/c1/os-extra_specs/hw:numa_nodes").json() == {
        "hw:numa_nodes": "1"
    }
    mismatch = cloud.put("/v2.1/flavors/c1/os-extra_specs/a", {"b": "1"}, token=ADMIN)
    assert mismatch.status_code == 400
    assert (
        cloud.delete("/v2.1/flavors/c1/os-extra_specs/hw:numa_nodes", token=ADMIN).status_code
        == 202
    )
    assert cloud.get("/v2.1/flavors/c1/os-extra_specs/hw:numa_nodes").status_code == 404
    assert cloud.delete("/v2.1/flavors/c1").status_code == 403
    assert cloud.delete("/v2.1/flavors/c1", token=ADMIN).status_code == 202
    assert cloud.get("/v2.1/flavors/c1").status_code == 404


# -- limits and quotas ---------------------------------------------------------------------
def test_limits_count_usage(cloud: Cloud) -> None:
    cloud.boot()
    absolute = cloud.get("/v2.1/limits").json()["limits"]["absolute"]
    assert absolute["maxTotalInstances"] == 10 and absolute["totalInstancesUsed"] == 1
    assert absolute["totalCoresUsed"] == 1 and absolute["totalRAMUsed"] == 512
    assert "maxSecurityGroups" in absolute
    assert (
        "maxSecurityGroups"
        not in cloud.get("/v2.1/limits", version="2.57").json()["limits"]["absolute"]
    )
    assert cloud.get("/v2.1/limits?tenant_id=p2").status_code == 403
    other = cloud.get("/v2.1/limits?tenant_id=p1", token=ADMIN).json()
    assert other["limits"]["absolute"]["totalInstancesUsed"] == 1


def test_quota_sets_show_update_detail_and_delete(cloud: Cloud) -> None:
    shown = cloud.get("/v2.1/os-quota-sets/p1", version="2.57").json()["quota_set"]
    assert shown["id"] == "p1" and shown["instances"] == 10 and "injected_files" not in shown
    assert cloud.get("/v2.1/os-quota-sets/p2").status_code == 403
    assert cloud.put("/v2.1/os-quota-sets/p1", {"quota_set": {"instances": 1}}).status_code == 403
    updated = cloud.put(
        "/v2.1/os-quota-sets/p1", {"quota_set": {"instances": 1, "cores": -1}}, token=ADMIN
    )
    assert updated.status_code == 200
    assert updated.json()["quota_set"]["instances"] == 1 and "id" not in updated.json()["quota_set"]
    cloud.boot()
    refused = cloud.post(
        "/v2.1/servers",
        {"server": {"name": "x", "flavorRef": "1", "networks": "none", "imageRef": IMAGE}},
        version="2.37",
    )
    assert refused.status_code == 403
    detail = cloud.get("/v2.1/os-quota-sets/p1/detail").json()["quota_set"]
    assert detail["instances"] == {"limit": 1, "in_use": 1, "reserved": 0}
    below = cloud.put("/v2.1/os-quota-sets/p1", {"quota_set": {"instances": 0}}, token=ADMIN)
    assert below.status_code == 400
    bad = cloud.put("/v2.1/os-quota-sets/p1", {"quota_set": {"bogus": 1}}, token=ADMIN)
    assert bad.status_code == 400
    assert cloud.delete("/v2.1/os-quota-sets/p1", token=ADMIN).status_code == 202
    assert cloud.get("/v2.1/os-quota-sets/p1").json()["quota_set"]["instances"] == 10
    defaults = cloud.get("/v2.1/os-quota-sets/p1/defaults").json()["quota_set"]
    assert defaults["cores"] == 20


# -- server groups --------------------------------------------------------------------------
def test_server_groups_in_both_forms(cloud: Cloud) -> None:
    old = cloud.post(
        "/v2.1/os-server-groups", {"server_group": {"name": "a", "policies": ["affinity"]}}
    )
    assert old.status_code == 200
    assert old.json()["server_group"]["policies"] == ["affinity"]
    new = cloud.post(
        "/v2.1/os-server-groups",
        {
            "server_group": {
                "name": "b",
                "policy": "anti-affinity",
                "rules": {"max_server_per_host": 2},
            }
        },
        version="2.64",
    ).json()["server_group"]
    assert new["policy"] == "anti-affinity" and new["rules"] == {"max_server_per_host": 2}
    soft_too_early = cloud.post(
        "/v2.1/os-server-groups", {"server_group": {"name": "c", "policies": ["soft-affinity"]}}
    )
    assert soft_too_early.status_code == 400
    listed = cloud.get("/v2.1/os-server-groups").json()["server_groups"]
    assert {g["name"] for g in listed} == {"a", "b"}
    assert cloud.get("/v2.1/os-server-groups", token="bob-token").json()["server_groups"] == []
    assert cloud.get(f"/v2.1/os-server-groups/{new['id']}", token="bob-token").status_code == 404
    assert cloud.delete(f"/v2.1/os-server-groups/{new['id']}").status_code == 204
    assert cloud.get(f"/v2.1/os-server-groups/{new['id']}").status_code == 404


# -- instance actions ------------------------------------------------------------------------
def test_instance_actions_and_events(cloud: Cloud) -> None:
    uuid = cloud.active()
    stop = cloud.post(f"/v2.1/servers/{uuid}/action", {"os-stop": None})
    request_id = stop.headers["X-OpenStack-Request-ID"]
    with cloud.runtime.store.session() as session:
        action = session.scalars(
            select(InstanceAction).where(InstanceAction.request_id == request_id)
        ).one()
        session.add(
            InstanceActionEvent(
                action_id=action.id,
                event="compute_stop_instance",
                start_time=action.start_time,
                result="Success",
                traceback="tb",
                host="host1",
            )
        )
    listed = cloud.get(f"/v2.1/servers/{uuid}/os-instance-actions").json()["instanceActions"]
    assert [a["action"] for a in listed] == ["stop", "create"]
    assert listed[0]["request_id"] == request_id and listed[0]["user_id"] == "alice"
    path = f"/v2.1/servers/{uuid}/os-instance-actions/{request_id}"
    assert "events" not in cloud.get(path).json()["instanceAction"]
    [event] = cloud.get(path, version="2.51").json()["instanceAction"]["events"]
    assert event["event"] == "compute_stop_instance" and "traceback" not in event
    [admin_event] = cloud.get(path, token=ADMIN, version="2.62").json()["instanceAction"]["events"]
    assert admin_event["traceback"] == "tb" and admin_event["host"] == "host1"
    assert cloud.get(f"/v2.1/servers/{uuid}/os-instance-actions/req-nope").status_code == 404
    assert (
        cloud.get(f"/v2.1/servers/{uuid}/os-instance-actions", token="bob-token").status_code == 404
    )


def test_actions_of_deleted_servers_from_2_21(cloud: Cloud) -> None:
    uuid = cloud.boot()
    assert cloud.delete(f"/v2.1/servers/{uuid}").status_code == 204
    assert cloud.get(f"/v2.1/servers/{uuid}/os-instance-actions").status_code == 404
    actions = cloud.get(f"/v2.1/servers/{uuid}/os-instance-actions", version="2.21").json()
    assert [a["action"] for a in actions["instanceActions"]] == ["delete", "create"]


# -- volume attachments ----------------------------------------------------------------------
def test_attach_and_detach_volume(cloud: Cloud) -> None:
    uuid = cloud.active()
    path = f"/v2.1/servers/{uuid}/os-volume_attachments"
    attached = cloud.post(path, {"volumeAttachment": {"volumeId": VOLUME}})
    assert attached.status_code == 200
    view = attached.json()["volumeAttachment"]
    assert view == {"device": "/dev/vdb", "id": VOLUME, "serverId": uuid, "volumeId": VOLUME}
    [cast] = cloud.calls("compute.host1", "attach_volume")
    assert cast["volume_id"] == VOLUME and cast["attachment_id"] == f"att-{VOLUME[:8]}"
    with cloud.runtime.store.session() as session:
        bdm = session.scalars(
            select(BlockDeviceMapping).where(BlockDeviceMapping.volume_id == VOLUME)
        ).one()
        assert bdm.uuid == cast["bdm_uuid"] and bdm.attachment_id == cast["attachment_id"]
    listed = cloud.get(path, version="2.89").json()["volumeAttachments"]
    assert listed[0]["attachment_id"] == cast["attachment_id"] and "id" not in listed[0]
    again = cloud.post(path, {"volumeAttachment": {"volumeId": VOLUME}})
    assert again.status_code == 400
    busy = cloud.post(path, {"volumeAttachment": {"volumeId": BUSY_VOLUME}})
    assert busy.status_code == 400
    missing = cloud.post(
        path, {"volumeAttachment": {"volumeId": "6" * 8 + "-6666-6666-6666-" + "6" * 12}}
    )
    assert missing.status_code == 404
    assert cloud.post(path, {"volumeAttachment": {"volumeId": "nope"}}).status_code == 400
    assert cloud.delete(f"{path}/{VOLUME}").status_code == 202
    [detach] = cloud.calls("compute.host1", "detach_volume")
    assert detach["volume_id"] == VOLUME
    server = cloud.get(f"/v2.1/servers/{uuid}").json()["server"]
    assert server["os-extended-volumes:volumes_attached"] == [{"id": VOLUME}]
    cloud.set_instance(uuid, task_state="powering-off")
    refused = cloud.post(path, {"volumeAttachment": {"volumeId": VOLUME}})
    assert refused.status_code == 409
