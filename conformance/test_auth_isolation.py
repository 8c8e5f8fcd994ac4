"""auth-and-isolation: who may see and do what; projects never see each other's servers."""

from __future__ import annotations

import pytest

from conformance.support import CloudUnderTest, raw

pytestmark = pytest.mark.testbed_capability("auth-and-isolation")


@pytest.mark.testbed_id("119e6305-9208-44a9-8d49-c3055fa82301")
def test_a_member_never_sees_another_projects_server(cloud: CloudUnderTest) -> None:
    admins = cloud.boot(name="iso-admin")
    assert admins.id not in {s.id for s in cloud.demo.compute.servers()}
    response = raw(cloud.demo.compute, "GET", f"/servers/{admins.id}")
    assert response.status_code == 404 and "itemNotFound" in response.json()


@pytest.mark.testbed_id("b0d96c4d-459c-4d05-b28f-0025ee688ee6")
@pytest.mark.parametrize(
    "body",
    [{"os-stop": None}, {"reboot": {"type": "HARD"}}, {"forceDelete": None}],
    ids=lambda b: next(iter(b)),
)
def test_a_member_cannot_act_on_another_projects_server(cloud: CloudUnderTest, body: dict) -> None:
    admins = cloud.boot(name="iso-act")
    response = cloud.action(admins.id, body, conn=cloud.demo)
    assert response.status_code == 404
    assert cloud.conn.compute.get_server(admins.id).status == "ACTIVE"


@pytest.mark.testbed_id("19968820-4f89-4bd2-86bf-2e931696a3cb")
def test_admin_lists_all_projects_servers_with_all_tenants(cloud: CloudUnderTest) -> None:
    demos = cloud.boot(cloud.demo, name="iso-demo")
    assert demos.id not in {s.id for s in cloud.conn.compute.servers()}
    assert demos.id in {s.id for s in cloud.conn.compute.servers(all_projects=True)}


@pytest.mark.testbed_id("c0d6552c-efed-4c15-84b8-c3a07b75d1ac")
def test_a_member_does_not_see_admin_only_attributes(cloud: CloudUnderTest) -> None:
    demos = cloud.boot(cloud.demo, name="iso-attrs")
    as_member = raw(cloud.demo.compute, "GET", f"/servers/{demos.id}").json()["server"]
    assert not any(k.startswith("OS-EXT-SRV-ATTR:") for k in as_member)
    assert "OS-EXT-STS:vm_state" in as_member
    as_admin = raw(cloud.conn.compute, "GET", f"/servers/{demos.id}").json()["server"]
    assert as_admin["OS-EXT-SRV-ATTR:host"]


@pytest.mark.testbed_id("3fb74d9d-499b-4d9c-a1a3-e018e0fdd864")
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/os-hypervisors", None),
        ("GET", "/os-services", None),
        ("POST", "/flavors", {"flavor": {"name": "iso", "ram": 64, "vcpus": 1, "disk": 1}}),
        ("GET", "/os-migrations", None),
    ],
    ids=["hypervisors", "services", "flavor-create", "migrations"],
)
def test_admin_only_calls_refuse_members_with_403(
    cloud: CloudUnderTest, method: str, path: str, body: dict | None
) -> None:
    response = raw(cloud.demo.compute, method, path, body=body)
    assert response.status_code == 403
    assert response.json()["forbidden"]["code"] == 403


@pytest.mark.testbed_id("c1631973-a0e6-4943-9589-e24f33d36d4e")
def test_a_member_manages_its_own_servers(cloud: CloudUnderTest) -> None:
    demos = cloud.boot(cloud.demo, name="iso-own")
    assert cloud.action(demos.id, {"os-stop": None}, conn=cloud.demo).status_code == 202
    cloud.wait(demos.id, "SHUTOFF", cloud.demo)
    cloud.demo.compute.delete_server(demos.id)
    cloud.wait_deleted(demos.id, cloud.demo)
