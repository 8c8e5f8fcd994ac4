"""POST /servers: what is recorded, what the conductor receives, and every refusal."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from testbed.compute.models import (
    BlockDeviceMapping,
    Instance,
    InstanceAction,
    Quota,
    ServerGroupMember,
)
from tests.api.conftest import BIG_IMAGE, BUSY_VOLUME, IMAGE, NET, VOLUME, Cloud


def _create(cloud: Cloud, version: str = "2.37", token: str = "alice-token", **server: Any) -> Any:
    body = {"name": "web", "flavorRef": "1", "imageRef": IMAGE, "networks": "none", **server}
    return cloud.post("/v2.1/servers", {"server": body}, token=token, version=version)


def _count(cloud: Cloud, model: Any) -> int:
    with cloud.runtime.store.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_create_records_the_instance_and_casts_build_instances(cloud: Cloud) -> None:
    resp = _create(cloud, metadata={"role": "web"}, user_data="aGVsbG8=")
    assert resp.status_code == 202
    server = resp.json()["server"]
    assert server["adminPass"] and server["OS-DCF:diskConfig"] == "MANUAL"
    assert server["links"][0]["href"] == f"http://cloud.test/compute/v2.1/servers/{server['id']}"
    instance = cloud.instance(server["id"])
    assert (instance.vm_state, instance.task_state, instance.power_state) == (
        "building",
        "scheduling",
        0,
    )
    assert instance.project_id == "p1" and instance.user_id == "alice"
    assert instance.flavor == {
        "id": "1",
        "name": "m1.tiny",
        "vcpus": 1,
        "memory_mb": 512,
        "root_gb": 1,
        "ephemeral_gb": 0,
        "swap": 0,
        "extra_specs": {},
    }
    assert instance.metadata_ == {"role": "web"} and instance.image_ref == IMAGE
    [build] = cloud.calls("conductor", "build_instances")
    assert build["instance_uuids"] == [server["id"]]
    spec = build["request_spec"]
    assert spec["flavor"]["name"] == "m1.tiny" and spec["image"]["id"] == IMAGE
    assert spec["requested_networks"] == "none" and spec["is_bfv"] is False
    assert spec["project_id"] == "p1" and spec["num_instances"] == 1
    assert spec["block_device_mappings"][0]["source_type"] == "image"
    with cloud.runtime.store.session() as session:
        actions = session.scalars(select(InstanceAction)).all()
        assert [(a.action, a.instance_uuid) for a in actions] == [("create", server["id"])]
        root = session.scalars(select(BlockDeviceMapping)).one()
        assert (root.boot_index, root.image_id) == (0, IMAGE)


def test_min_max_count_creates_several_with_one_reservation(cloud: Cloud) -> None:
    resp = _create(cloud, min_count=2, max_count="3", return_reservation_id=True)
    assert resp.status_code == 202
    reservation = resp.json()["reservation_id"]
    with cloud.runtime.store.session() as session:
        rows = session.scalars(select(Instance).order_by(Instance.launch_index)).all()
    assert [r.display_name for r in rows] == ["web-1", "web-2", "web-3"]
    assert {r.reservation_id for r in rows} == {reservation}
    [build] = cloud.calls("conductor", "build_instances")
    assert build["request_spec"]["num_instances"] == 3


def test_quota_shrinks_a_multi_create_to_what_fits_and_refuses_below_min(cloud: Cloud) -> None:
    with cloud.runtime.store.session() as session:
        session.add(Quota(project_id="p1", resource="instances", hard_limit=2))
    assert _create(cloud, min_count=1, max_count=5).status_code == 202
    assert _count(cloud, Instance) == 2
    refused = _create(cloud)
    assert refused.status_code == 403
    assert refused.json()["forbidden"]["message"] == (
        "Quota exceeded for instances: Requested 1, but already used 2 of 2 instances"
    )
    assert _count(cloud, Instance) == 2


def test_core_quota_message_is_novas(cloud: Cloud) -> None:
    refused = _create(cloud, flavorRef="4", min_count=2, max_count=2)
    assert refused.status_code == 403
    assert refused.json()["forbidden"]["message"] == (
        "Quota exceeded for cores: Requested 32, but already used 0 of 20 cores"
    )


def test_networks_by_uuid_are_validated_by_the_network_service(cloud: Cloud) -> None:
    ok = _create(cloud, networks=[{"uuid": NET}])
    assert ok.status_code == 202
    [build] = cloud.calls("conductor", "build_instances")
    assert build["request_spec"]["requested_networks"] == [{"uuid": NET}]
    unknown = "99999999-9999-9999-9999-999999999999"
    bad = _create(cloud, networks=[{"uuid": unknown}])
    assert bad.status_code == 400 and unknown in bad.json()["badRequest"]["message"]


def test_before_2_37_networks_default_to_auto(cloud: Cloud) -> None:
    body = {"name": "old", "flavorRef": "1", "imageRef": IMAGE}
    assert cloud.post("/v2.1/servers", {"server": body}).status_code == 202
    [build] = cloud.calls("conductor", "build_instances")
    assert build["request_spec"]["requested_networks"] == "auto"


def test_boot_from_volume(cloud: Cloud) -> None:
    bdm = {
        "boot_index": 0,
        "uuid": VOLUME,
        "source_type": "volume",
        "destination_type": "volume",
        "delete_on_termination": True,
    }
    resp = _create(cloud, imageRef="", block_device_mapping_v2=[bdm])
    assert resp.status_code == 202
    instance = cloud.instance(resp.json()["server"]["id"])
    assert instance.image_ref == ""
    [build] = cloud.calls("conductor", "build_instances")
    assert build["request_spec"]["is_bfv"] is True and build["request_spec"]["image"] is None
    with cloud.runtime.store.session() as session:
        row = session.scalars(select(BlockDeviceMapping)).one()
        assert (row.volume_id, row.boot_index, row.delete_on_termination) == (VOLUME, 0, True)


def test_server_group_membership_is_recorded(cloud: Cloud) -> None:
    group = cloud.post(
        "/v2.1/os-server-groups",
        {"server_group": {"name": "g", "policies": ["anti-affinity"]}},
    ).json()["server_group"]
    body = {"name": "m", "flavorRef": "1", "imageRef": IMAGE, "networks": "none"}
    resp = cloud.post(
        "/v2.1/servers",
        {"server": body, "os:scheduler_hints": {"group": group["id"]}},
        version="2.37",
    )
    assert resp.status_code == 202
    with cloud.runtime.store.session() as session:
        member = session.scalars(select(ServerGroupMember)).one()
    assert member.group_uuid == group["id"]
    [build] = cloud.calls("conductor", "build_instances")
    assert build["request_spec"]["server_group"]["policy"] == "anti-affinity"


def test_admin_forced_host_and_member_refusal(cloud: Cloud) -> None:
    assert _create(cloud, token="admin-token", availability_zone="az2:host2").status_code == 202
    [build] = cloud.calls("conductor", "build_instances")
    assert build["request_spec"]["force_hosts"] == ["host2"]
    assert build["request_spec"]["availability_zone"] == "az2"
    refused = _create(cloud, availability_zone="nova:host1")
    assert refused.status_code == 403


BAD_REQUESTS = [
    ({"flavorRef": "404"}, 400, "Flavor 404 could not be found."),
    ({"flavorRef": "3"}, 400, "Flavor 3 could not be found."),
    (
        {"imageRef": "99999999-9999-9999-9999-999999999999"},
        400,
        "Image 99999999-9999-9999-9999-999999999999 could not be found.",
    ),
    ({"imageRef": BIG_IMAGE}, 400, "Flavor's disk is too small for requested image."),
    ({"flavorRef": "0"}, 403, "Only volume-backed servers are allowed"),
    ({"name": 5}, 400, "Invalid input for field/attribute name. Value: 5. 5 is not of type"),
    ({"name": " padded"}, 400, "Invalid input for field/attribute name."),
    ({"min_count": "x"}, 400, "Invalid input for field/attribute min_count."),
    ({"min_count": 3, "max_count": 2}, 400, "min_count must be <= max_count"),
    ({"networks": "some"}, 400, "Invalid input for field/attribute networks."),
    ({"networks": [{"uuid": NET, "bogus": 1}]}, 400, "Additional properties are not allowed"),
    ({"metadata": {"k": 1}}, 400, "Invalid input for field/attribute k."),
    ({"user_data": "not base64!"}, 400, "Userdata content cannot be decoded"),
    ({"availability_zone": "nowhere"}, 400, "The requested availability zone is not available"),
    ({"key_name": "mykey"}, 400, "Invalid key_name provided."),
    ({"unknown": True}, 400, "Additional properties are not allowed ('unknown' was unexpected)"),
    ({"imageRef": ""}, 400, "Block Device Mapping is Invalid: Boot sequence"),
    (
        {
            "imageRef": "",
            "block_device_mapping_v2": [
                {
                    "boot_index": 0,
                    "uuid": BUSY_VOLUME,
                    "source_type": "volume",
                    "destination_type": "volume",
                }
            ],
        },
        400,
        "status must be 'available'",
    ),
    (
        {
            "block_device_mapping_v2": [
                {
                    "boot_index": 0,
                    "uuid": IMAGE,
                    "source_type": "image",
                    "destination_type": "volume",
                }
            ],
        },
        400,
        "need to have a non-zero size specified",
    ),
]


@pytest.mark.parametrize(("server", "status", "message"), BAD_REQUESTS)
def test_bad_requests_change_nothing(
    cloud: Cloud, server: dict[str, Any], status: int, message: str
) -> None:
    resp = _create(cloud, **server)
    assert resp.status_code == status, resp.text
    fault = next(iter(resp.json().values()))
    assert fault["code"] == status and message in fault["message"]
    assert _count(cloud, Instance) == 0 and _count(cloud, InstanceAction) == 0
    assert cloud.calls("conductor") == []


def test_networks_are_required_from_2_37(cloud: Cloud) -> None:
    body = {"name": "n", "flavorRef": "1", "imageRef": IMAGE}
    resp = cloud.post("/v2.1/servers", {"server": body}, version="2.37")
    assert resp.status_code == 400
    assert "'networks' is a required property" in resp.json()["badRequest"]["message"]


@pytest.mark.parametrize(
    "raw", [b"{not json", b"[]", b'{"server": "x"}', b"", b'{"server": {"name": "a"}}']
)
def test_malformed_bodies_are_400(cloud: Cloud, raw: bytes) -> None:
    resp = cloud.request(
        "POST", "/v2.1/servers", data=raw, headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 400
    assert resp.json()["badRequest"]["code"] == 400


def test_description_needs_2_19(cloud: Cloud) -> None:
    early = _create(cloud, version="2.18", description="d", networks=[{"uuid": NET}])
    assert early.status_code == 400
    assert "'description' was unexpected" in early.json()["badRequest"]["message"]
    ok = _create(cloud, version="2.37", description="d")
    assert ok.status_code == 202
    assert cloud.instance(ok.json()["server"]["id"]).description == "d"
