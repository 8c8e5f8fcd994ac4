"""api-errors: bad input gets a clear error in Nova's own format, and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.support import CloudUnderTest, raw

pytestmark = pytest.mark.testbed_capability("api-errors")

# networks "none" / "auto" need 2.37; every Nova since Queens speaks 2.60.
CREATE_VERSION = "2.60"


def _fault(response: Any, code: int, name: str) -> str:
    assert response.status_code == code, response.text
    body = response.json()
    assert list(body) == [name], body
    assert body[name]["code"] == code
    message: str = body[name]["message"]
    assert message and "Traceback" not in message
    return message


def _server_count(cloud: CloudUnderTest) -> int:
    return len(list(cloud.conn.compute.servers(all_projects=True)))


@pytest.mark.testbed_id("7f627314-69ff-4192-8049-52b8cb71c092")
def test_malformed_json_is_400(cloud: CloudUnderTest) -> None:
    before = _server_count(cloud)
    response = cloud.conn.compute.request(
        "/servers",
        "POST",
        data=b'{"server": {"name": ',
        raise_exc=False,
        headers={"Content-Type": "application/json"},
    )
    _fault(response, 400, "badRequest")
    assert _server_count(cloud) == before


@pytest.mark.testbed_id("1f78398f-f5cd-43a8-97b1-4843f1738a97")
@pytest.mark.parametrize(
    ("server", "needle"),
    [
        ({"name": 42, "flavorRef": "1", "imageRef": "x", "networks": "none"}, "name"),
        ({"name": "x", "flavorRef": "1", "networks": "none", "min_count": "many"}, "min_count"),
        ({"name": "x", "flavorRef": "1", "networks": 7}, "networks"),
        ({"flavorRef": "1", "networks": "none"}, "name"),
    ],
    ids=["name-not-a-string", "min-count-not-a-number", "networks-wrong-type", "no-name"],
)
def test_wrong_types_are_400(cloud: CloudUnderTest, server: dict, needle: str) -> None:
    before = _server_count(cloud)
    message = _fault(
        raw(
            cloud.conn.compute,
            "POST",
            "/servers",
            body={"server": server},
            microversion=CREATE_VERSION,
        ),
        400,
        "badRequest",
    )
    assert needle in message
    assert _server_count(cloud) == before


@pytest.mark.testbed_id("e3d138a2-364b-471b-bf87-55232038e322")
@pytest.mark.parametrize("what", ["flavor", "image", "network"])
def test_unknown_flavor_image_network_is_400(cloud: CloudUnderTest, what: str) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    body: dict[str, Any] = {
        "name": "err",
        "flavorRef": cloud.flavor().id,
        "imageRef": cloud.image().id,
        "networks": "none",
    }
    if what == "flavor":
        body["flavorRef"] = missing
    elif what == "image":
        body["imageRef"] = missing
    else:
        body["networks"] = [{"uuid": missing}]
    before = _server_count(cloud)
    message = _fault(
        raw(
            cloud.conn.compute,
            "POST",
            "/servers",
            body={"server": body},
            microversion=CREATE_VERSION,
        ),
        400,
        "badRequest",
    )
    assert missing in message
    assert _server_count(cloud) == before


@pytest.mark.testbed_id("ff872bfb-5158-4059-93e8-5c5e31c47637")
def test_unknown_server_is_404_item_not_found(cloud: CloudUnderTest) -> None:
    missing = "00000000-0000-4000-8000-000000000001"
    _fault(raw(cloud.conn.compute, "GET", f"/servers/{missing}"), 404, "itemNotFound")
    _fault(cloud.action(missing, {"os-stop": None}), 404, "itemNotFound")


@pytest.mark.testbed_id("92085e0a-808c-4963-8c90-f4a5b1a8a526")
def test_unknown_action_is_400(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="err-action")
    _fault(cloud.action(server.id, {"fly": None}), 400, "badRequest")


@pytest.mark.testbed_id("745b93c1-9237-4c1e-926f-14ac4dd269b8")
def test_no_token_is_401(cloud: CloudUnderTest) -> None:
    endpoint = cloud.conn.compute.get_endpoint()
    response = cloud.conn.session.request(
        endpoint + "/servers", "GET", authenticated=False, raise_exc=False
    )
    assert response.status_code == 401


@pytest.mark.testbed_id("be1081c6-6dfe-456d-9c06-eeb9606822d7")
def test_bogus_token_is_401(cloud: CloudUnderTest) -> None:
    endpoint = cloud.conn.compute.get_endpoint()
    response = cloud.conn.session.request(
        endpoint + "/servers",
        "GET",
        authenticated=False,
        raise_exc=False,
        headers={"X-Auth-Token": "bogus"},
    )
    assert response.status_code == 401


@pytest.mark.testbed_id("0122c320-c771-4468-bd45-bc7c381b9960")
@pytest.mark.testbed_requires("control")
def test_expired_token_is_401(cloud: CloudUnderTest) -> None:
    token = cloud.conn.session.get_token()
    endpoint = cloud.conn.compute.get_endpoint()
    ok = cloud.conn.session.request(
        endpoint + "/flavors",
        "GET",
        authenticated=False,
        raise_exc=False,
        headers={"X-Auth-Token": token},
    )
    assert ok.status_code == 200
    ttl = float(cloud.control.info()["config"]["token_expiration"])
    cloud.control.advance(ttl + 1)
    expired = cloud.conn.session.request(
        endpoint + "/flavors",
        "GET",
        authenticated=False,
        raise_exc=False,
        headers={"X-Auth-Token": token},
    )
    assert expired.status_code == 401
    cloud.conn.session.invalidate()
    cloud.demo.session.invalidate()


@pytest.mark.testbed_id("830fe848-e62f-44c7-96da-c0d359805275")
def test_microversions_are_negotiated_and_echoed(cloud: CloudUnderTest) -> None:
    response = raw(cloud.conn.compute, "GET", "/flavors", microversion="2.60")
    assert response.status_code == 200
    assert response.headers["OpenStack-API-Version"] == "compute 2.60"
    assert "OpenStack-API-Version" in response.headers["Vary"]
    latest = raw(
        cloud.conn.compute, "GET", "/flavors", headers={"OpenStack-API-Version": "compute latest"}
    )
    assert latest.status_code == 200
    assert latest.headers["OpenStack-API-Version"].startswith("compute 2.")


@pytest.mark.testbed_id("5aba0f20-ccc6-4dc6-a485-bf8fc5ac4a75")
@pytest.mark.parametrize("version", ["2.0", "3.1", "2.999", "two"])
def test_unknown_microversion_is_406_or_400(cloud: CloudUnderTest, version: str) -> None:
    response = raw(
        cloud.conn.compute,
        "GET",
        "/flavors",
        headers={"OpenStack-API-Version": f"compute {version}"},
    )
    assert response.status_code in (400, 406) and response.status_code != 500
    if version in ("3.1", "2.999"):
        assert response.status_code == 406


@pytest.mark.testbed_id("92304462-010e-40a9-b582-28a9231b14f7")
@pytest.mark.parametrize(
    "body",
    [
        {"resize": {"flavorRef": "2"}},
        {"confirmResize": None},
        {"revertResize": None},
        {"migrate": None},
        {"os-migrateLive": {"host": None, "block_migration": "auto"}},
        {"evacuate": {}},
        {"rebuild": {"imageRef": "x"}},
    ],
    ids=lambda b: next(iter(b)),
)
def test_later_actions_never_answer_500(cloud: CloudUnderTest, body: dict) -> None:
    server = cloud.boot(name="err-later")
    response = cloud.action(server.id, body)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        (name,) = response.json()
        assert response.json()[name]["message"]
    cloud.settle()
    assert cloud.conn.compute.get_server(server.id).status in (
        "ACTIVE",
        "VERIFY_RESIZE",
        "REBUILD",
        "MIGRATING",
        "RESIZE",
    )
