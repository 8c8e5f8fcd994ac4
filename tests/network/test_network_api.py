"""The Network API v2.0 over HTTP: Neutron's bodies, filters, rules and error bodies."""

from __future__ import annotations

from typing import Any

import requests

BASE = "http://testbed.local/network"


def _post(session: requests.Session, kind: str, **body: Any) -> dict[str, Any]:
    resp = session.post(f"{BASE}/v2.0/{kind}s", json={kind: body})
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()[kind]
    return data


def _net_with_subnet(
    session: requests.Session, cidr: str = "10.1.0.0/24", **subnet: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    net = _post(session, "network", name="net")
    sub = _post(session, "subnet", network_id=net["id"], cidr=cidr, ip_version=4, **subnet)
    return net, sub


def test_version_document(make_session: Any) -> None:
    resp = make_session(None).get(f"{BASE}/")
    assert resp.status_code == 200
    assert resp.json()["versions"] == [
        {
            "status": "CURRENT",
            "id": "v2.0",
            "links": [{"href": "http://testbed.local/network/v2.0/", "rel": "self"}],
        }
    ]


def test_network_subnet_port_defaults(alice: requests.Session) -> None:
    net, sub = _net_with_subnet(alice)
    assert net["status"] == "ACTIVE" and net["shared"] is False
    assert net["project_id"] == net["tenant_id"] == "p-alice"
    assert net["router:external"] is False and net["mtu"] == 1500
    assert sub["gateway_ip"] == "10.1.0.1" and sub["ip_version"] == 4
    assert sub["allocation_pools"] == [{"start": "10.1.0.2", "end": "10.1.0.254"}]
    assert sub["enable_dhcp"] is True
    shown = alice.get(f"{BASE}/v2.0/networks/{net['id']}").json()["network"]
    assert shown["subnets"] == [sub["id"]]
    port = _post(alice, "port", network_id=net["id"], name="p1")
    assert port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.1.0.2"}]
    assert port["mac_address"].startswith("fa:16:3e:")
    assert port["status"] == "DOWN" and port["device_id"] == ""
    assert "binding:host_id" not in port
    second = _post(alice, "port", network_id=net["id"])
    assert second["fixed_ips"][0]["ip_address"] == "10.1.0.3"
    assert alice.delete(f"{BASE}/v2.0/ports/{port['id']}").status_code == 204
    third = _post(alice, "port", network_id=net["id"])
    assert third["fixed_ips"][0]["ip_address"] == "10.1.0.2"


def test_not_found_is_a_neutron_error(alice: requests.Session) -> None:
    resp = alice.get(f"{BASE}/v2.0/networks/nope")
    assert resp.status_code == 404
    assert resp.json() == {
        "NeutronError": {
            "type": "NetworkNotFound",
            "message": "Network nope could not be found.",
            "detail": "",
        }
    }
    assert alice.get(f"{BASE}/v2.0/ports/nope").json()["NeutronError"]["type"] == "PortNotFound"
    assert alice.get(f"{BASE}/v2.0/bogus").json()["NeutronError"]["type"] == "HTTPNotFound"


def test_policy_and_validation_errors(alice: requests.Session, admin: requests.Session) -> None:
    resp = alice.post(f"{BASE}/v2.0/networks", json={"network": {"shared": True}})
    assert resp.status_code == 403
    assert resp.json()["NeutronError"]["type"] == "PolicyNotAuthorized"
    resp = alice.post(f"{BASE}/v2.0/networks", json={"network": {"colour": "red"}})
    assert resp.status_code == 400
    assert resp.json()["NeutronError"]["message"] == "Unrecognized attribute(s) 'colour'"
    resp = alice.post(f"{BASE}/v2.0/subnets", json={"subnet": {"cidr": "10.0.0.0/24"}})
    assert resp.status_code == 400
    net = _post(alice, "network")
    resp = alice.post(
        f"{BASE}/v2.0/subnets", json={"subnet": {"network_id": net["id"], "cidr": "banana"}}
    )
    assert resp.status_code == 400 and resp.json()["NeutronError"]["type"] == "InvalidInput"
    assert _post(admin, "network", shared=True)["shared"] is True


def test_visibility_between_projects(
    alice: requests.Session, bob: requests.Session, admin: requests.Session
) -> None:
    private, _ = _net_with_subnet(alice)
    shared = _post(admin, "network", name="public", shared=True)
    _post(admin, "subnet", network_id=shared["id"], cidr="172.24.4.0/24", ip_version=4)
    names = {n["name"] for n in bob.get(f"{BASE}/v2.0/networks").json()["networks"]}
    assert names == {"public"}
    assert bob.get(f"{BASE}/v2.0/networks/{private['id']}").status_code == 404
    assert len(bob.get(f"{BASE}/v2.0/subnets").json()["subnets"]) == 1
    port = _post(bob, "port", network_id=shared["id"])
    assert port["project_id"] == "p-bob"
    assert alice.get(f"{BASE}/v2.0/ports/{port['id']}").status_code == 404
    admin_view = admin.get(f"{BASE}/v2.0/ports/{port['id']}").json()["port"]
    assert admin_view["binding:host_id"] == "" and admin_view["binding:vif_type"] == "unbound"
    resp = bob.delete(f"{BASE}/v2.0/networks/{shared['id']}")
    assert resp.status_code == 403


def test_list_filters_fields_and_pagination(alice: requests.Session) -> None:
    net, sub = _net_with_subnet(alice)
    ports = [
        _post(alice, "port", network_id=net["id"], name=f"port-{n}", device_id=f"dev-{n % 2}")
        for n in range(5)
    ]

    def listed(**params: Any) -> list[dict[str, Any]]:
        resp = alice.get(f"{BASE}/v2.0/ports", params=params)
        assert resp.status_code == 200, resp.text
        result: list[dict[str, Any]] = resp.json()["ports"]
        return result

    assert sorted(p["name"] for p in listed(device_id="dev-1")) == ["port-1", "port-3"]
    assert len(listed(network_id=net["id"])) == 5
    assert len(listed(name=["port-0", "port-4"])) == 2
    ip = ports[2]["fixed_ips"][0]["ip_address"]
    assert [p["id"] for p in listed(fixed_ips=f"ip_address={ip}")] == [ports[2]["id"]]
    assert listed(fields=["id", "name"])[0].keys() == {"id", "name"}
    assert [
        n["name"]
        for n in alice.get(f"{BASE}/v2.0/networks", params={"shared": "false"}).json()["networks"]
    ] == ["net"]
    assert alice.get(f"{BASE}/v2.0/networks", params={"shared": "true"}).json()["networks"] == []
    bad = alice.get(f"{BASE}/v2.0/ports", params={"colour": "red"})
    assert bad.status_code == 400
    assert bad.json()["NeutronError"]["message"] == "[colour] is invalid attribute for filtering"
    page = alice.get(f"{BASE}/v2.0/ports", params={"limit": 2}).json()
    seen = [p["name"] for p in page["ports"]]
    while page.get("ports_links"):
        href = next(link["href"] for link in page["ports_links"] if link["rel"] == "next")
        assert href.startswith("http://testbed.local/network/v2.0/ports?")
        page = alice.get(href).json()
        seen += [p["name"] for p in page["ports"]]
    assert seen == [p["name"] for p in sorted(ports, key=lambda p: p["id"])]
    desc = listed(sort_key="name", sort_dir="desc")
    assert [p["name"] for p in desc] == [f"port-{n}" for n in range(4, -1, -1)]
    del sub


def test_fixed_ips_and_exhaustion(alice: requests.Session) -> None:
    net, sub = _net_with_subnet(alice, cidr="10.9.0.0/29")
    assert sub["allocation_pools"] == [{"start": "10.9.0.2", "end": "10.9.0.6"}]
    wanted = _post(
        alice,
        "port",
        network_id=net["id"],
        fixed_ips=[{"subnet_id": sub["id"], "ip_address": "10.9.0.5"}],
    )
    assert wanted["fixed_ips"][0]["ip_address"] == "10.9.0.5"
    taken = alice.post(
        f"{BASE}/v2.0/ports",
        json={"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.9.0.5"}]}},
    )
    assert taken.status_code == 409
    assert taken.json()["NeutronError"]["type"] == "IpAddressAlreadyAllocated"
    outside = alice.post(
        f"{BASE}/v2.0/ports",
        json={
            "port": {
                "network_id": net["id"],
                "fixed_ips": [{"subnet_id": sub["id"], "ip_address": "10.8.0.5"}],
            }
        },
    )
    assert outside.status_code == 400
    assert outside.json()["NeutronError"]["type"] == "InvalidIpForSubnet"
    for _ in range(4):
        _post(alice, "port", network_id=net["id"])
    full = alice.post(f"{BASE}/v2.0/ports", json={"port": {"network_id": net["id"]}})
    assert full.status_code == 409
    assert full.json()["NeutronError"] == {
        "type": "IpAddressGenerationFailure",
        "message": f"No more IP addresses available on network {net['id']}.",
        "detail": "",
    }


def test_in_use_network_and_subnet_cannot_be_deleted(alice: requests.Session) -> None:
    net, sub = _net_with_subnet(alice)
    port = _post(alice, "port", network_id=net["id"], device_owner="compute:nova")
    resp = alice.delete(f"{BASE}/v2.0/networks/{net['id']}")
    assert resp.status_code == 409 and resp.json()["NeutronError"]["type"] == "NetworkInUse"
    resp = alice.delete(f"{BASE}/v2.0/subnets/{sub['id']}")
    assert resp.status_code == 409 and resp.json()["NeutronError"]["type"] == "SubnetInUse"
    alice.delete(f"{BASE}/v2.0/ports/{port['id']}")
    assert alice.delete(f"{BASE}/v2.0/networks/{net['id']}").status_code == 204
    assert alice.get(f"{BASE}/v2.0/subnets/{sub['id']}").status_code == 404


def test_update_network_and_port(alice: requests.Session, admin: requests.Session) -> None:
    net, _ = _net_with_subnet(alice)
    resp = alice.put(f"{BASE}/v2.0/networks/{net['id']}", json={"network": {"name": "renamed"}})
    assert resp.status_code == 200 and resp.json()["network"]["name"] == "renamed"
    port = _post(alice, "port", network_id=net["id"])
    denied = alice.put(
        f"{BASE}/v2.0/ports/{port['id']}", json={"port": {"binding:host_id": "cmp-1"}}
    )
    assert denied.status_code == 403
    bound = admin.put(
        f"{BASE}/v2.0/ports/{port['id']}",
        json={"port": {"binding:host_id": "cmp-1", "device_id": "vm-1"}},
    )
    assert bound.json()["port"]["status"] == "ACTIVE"
    assert bound.json()["port"]["binding:host_id"] == "cmp-1"


def test_bulk_create_and_extensions(alice: requests.Session) -> None:
    resp = alice.post(f"{BASE}/v2.0/networks", json={"networks": [{"name": "a"}, {"name": "b"}]})
    assert resp.status_code == 201
    assert [n["name"] for n in resp.json()["networks"]] == ["a", "b"]
    aliases = {e["alias"] for e in alice.get(f"{BASE}/v2.0/extensions").json()["extensions"]}
    assert {"binding", "external-net"} <= aliases
