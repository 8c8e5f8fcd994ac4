"""GET /servers, /servers/detail, /servers/{id}, PUT, metadata: views, filters, isolation."""

from __future__ import annotations

import hashlib
import re

from testbed.compute.models import InstanceFault
from tests.api.conftest import IMAGE, NET, Cloud


def test_show_has_the_base_and_extension_attributes(cloud: Cloud) -> None:
    uuid = cloud.active("web")
    server = cloud.get(f"/v2.1/servers/{uuid}").json()["server"]
    assert server["id"] == uuid and server["name"] == "web"
    assert server["status"] == "ACTIVE" and server["tenant_id"] == "p1"
    assert server["hostId"] == hashlib.sha224(b"p1host1").hexdigest()
    assert server["image"] == {
        "id": IMAGE,
        "links": [{"rel": "bookmark", "href": f"http://cloud.test/compute/images/{IMAGE}"}],
    }
    assert server["flavor"]["id"] == "1"
    assert server["created"].endswith("Z") and server["progress"] == 0
    assert server["addresses"] == {
        "private": [
            {
                "version": 4,
                "addr": "10.0.0.5",
                "OS-EXT-IPS:type": "fixed",
                "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01",
            }
        ]
    }
    assert server["OS-EXT-STS:vm_state"] == "active"
    assert server["OS-EXT-STS:power_state"] == 1
    assert server["OS-EXT-AZ:availability_zone"] == "nova"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}", server["OS-SRV-USG:launched_at"])
    assert server["security_groups"] == [{"name": "default"}]
    assert not any(k.startswith("OS-EXT-SRV-ATTR") for k in server)
    assert "locked" not in server


def test_admin_sees_host_attributes_and_host_status(cloud: Cloud) -> None:
    uuid = cloud.active("web")
    server = cloud.get(f"/v2.1/servers/{uuid}", token="admin-token", version="2.16").json()[
        "server"
    ]
    assert server["OS-EXT-SRV-ATTR:host"] == "host1"
    assert server["OS-EXT-SRV-ATTR:hypervisor_hostname"] == "host1.node"
    assert server["OS-EXT-SRV-ATTR:instance_name"].startswith("instance-")
    assert server["OS-EXT-SRV-ATTR:reservation_id"].startswith("r-")
    assert server["host_status"] == "UP" and server["locked"] is False
    cloud.runtime.clock.advance(cloud.runtime.config.service_down_time + 1)
    later = cloud.get(f"/v2.1/servers/{uuid}", token="admin-token", version="2.16").json()
    assert later["server"]["host_status"] == "DOWN"


def test_flavor_is_embedded_from_2_47_and_latest_fields_exist(cloud: Cloud) -> None:
    uuid = cloud.active("web")
    server = cloud.get(f"/v2.1/servers/{uuid}", version="latest").json()["server"]
    assert server["flavor"] == {
        "vcpus": 1,
        "ram": 512,
        "disk": 1,
        "ephemeral": 0,
        "swap": 0,
        "original_name": "m1.tiny",
        "extra_specs": {},
    }
    for key in (
        "description",
        "tags",
        "locked_reason",
        "server_groups",
        "trusted_image_certificates",
        "pinned_availability_zone",
        "OS-EXT-SRV-ATTR:hostname",
    ):
        assert key in server
    assert server["os-extended-volumes:volumes_attached"] == []


def test_error_server_shows_its_fault(cloud: Cloud) -> None:
    uuid = cloud.boot("broken")
    cloud.set_instance(uuid, vm_state="error", task_state=None)
    with cloud.runtime.store.session() as session:
        session.add(
            InstanceFault(instance_uuid=uuid, code=500, message="NoValidHost", details="trace")
        )
    member = cloud.get(f"/v2.1/servers/{uuid}").json()["server"]
    assert member["status"] == "ERROR"
    assert member["fault"]["message"] == "NoValidHost" and "details" not in member["fault"]
    admin = cloud.get(f"/v2.1/servers/{uuid}", token="admin-token").json()["server"]
    assert admin["fault"]["details"] == "trace"


def test_members_never_see_other_projects_servers(cloud: Cloud) -> None:
    mine = cloud.active("mine")
    theirs = cloud.active("theirs", token="bob-token")
    listed = cloud.get("/v2.1/servers").json()["servers"]
    assert [s["id"] for s in listed] == [mine]
    assert cloud.get(f"/v2.1/servers/{theirs}").status_code == 404
    assert cloud.delete(f"/v2.1/servers/{theirs}").status_code == 404
    stop = cloud.post(f"/v2.1/servers/{theirs}/action", {"os-stop": None})
    assert stop.status_code == 404
    assert stop.json()["itemNotFound"]["message"] == f"Instance {theirs} could not be found."
    forbidden = cloud.get("/v2.1/servers?all_tenants=1")
    assert forbidden.status_code == 403
    everything = cloud.get("/v2.1/servers/detail?all_tenants=1", token="admin-token")
    assert {s["id"] for s in everything.json()["servers"]} == {mine, theirs}
    only_p2 = cloud.get("/v2.1/servers?all_tenants=1&project_id=p2", token="admin-token")
    assert [s["id"] for s in only_p2.json()["servers"]] == [theirs]


def test_list_filters(cloud: Cloud) -> None:
    web = cloud.active("web-1")
    cloud.active("db-1", host="host2")
    building = cloud.boot("web-2")
    names = lambda q, **kw: sorted(  # noqa: E731
        s["name"] for s in cloud.get(f"/v2.1/servers/detail?{q}", **kw).json()["servers"]
    )
    assert names("name=^web") == ["web-1", "web-2"]
    assert names("status=BUILD") == ["web-2"]
    assert names("status=active") == ["db-1", "web-1"]
    assert names("host=host2", token="alice-token") == ["db-1", "web-1", "web-2"]
    assert names("all_tenants=1&host=host2", token="admin-token") == ["db-1"]
    assert names("ip=10.0.0") == ["db-1", "web-1"]
    bad = cloud.get("/v2.1/servers?changes-since=yesterday")
    assert bad.status_code == 400
    assert building and web


def test_paging_with_limit_and_marker(cloud: Cloud) -> None:
    ids = [cloud.boot(f"s{i}") for i in range(3)]
    first = cloud.get("/v2.1/servers?limit=2").json()
    assert len(first["servers"]) == 2
    next_href = first["servers_links"][0]["href"]
    assert next_href.startswith("http://cloud.test/compute/v2.1/servers?")
    marker = first["servers"][-1]["id"]
    rest = cloud.get(f"/v2.1/servers?limit=2&marker={marker}").json()
    assert len(rest["servers"]) == 1 and "servers_links" not in rest
    seen = {s["id"] for s in first["servers"] + rest["servers"]}
    assert seen == set(ids)
    assert cloud.get("/v2.1/servers?marker=nope").status_code == 400
    assert cloud.get("/v2.1/servers?limit=-1").status_code == 400


def test_update_name_and_description(cloud: Cloud) -> None:
    uuid = cloud.active("old")
    resp = cloud.put(
        f"/v2.1/servers/{uuid}", {"server": {"name": "new", "description": "d"}}, version="2.19"
    )
    assert resp.status_code == 200
    assert resp.json()["server"]["name"] == "new"
    assert resp.json()["server"]["description"] == "d"
    bad = cloud.put(f"/v2.1/servers/{uuid}", {"server": {"description": "d"}})
    assert bad.status_code == 400
    assert cloud.instance(uuid).display_name == "new"


def test_metadata_and_ips(cloud: Cloud) -> None:
    uuid = cloud.active("m")
    assert cloud.put(f"/v2.1/servers/{uuid}/metadata", {"metadata": {"a": "1"}}).json() == {
        "metadata": {"a": "1"}
    }
    merged = cloud.post(f"/v2.1/servers/{uuid}/metadata", {"metadata": {"b": "2"}}).json()
    assert merged == {"metadata": {"a": "1", "b": "2"}}
    assert cloud.get(f"/v2.1/servers/{uuid}/metadata/b").json() == {"meta": {"b": "2"}}
    assert cloud.delete(f"/v2.1/servers/{uuid}/metadata/a").status_code == 204
    assert cloud.delete(f"/v2.1/servers/{uuid}/metadata/a").status_code == 404
    ips = cloud.get(f"/v2.1/servers/{uuid}/ips").json()
    assert ips["addresses"]["private"][0]["addr"] == "10.0.0.5"
    assert cloud.get(f"/v2.1/servers/{uuid}/ips/private").status_code == 200
    assert NET
