"""Version documents, microversion negotiation and authentication."""

from __future__ import annotations

import pytest

from tests.api.conftest import Cloud


def test_version_documents_are_public_and_absolute(cloud: Cloud) -> None:
    root = cloud.get("/", token=None)
    assert root.status_code == 200
    [version] = root.json()["versions"]
    assert version["id"] == "v2.1" and version["status"] == "CURRENT"
    assert version["min_version"] == "2.1" and version["version"] == "2.96"
    assert version["links"][0]["href"] == "http://cloud.test/compute/v2.1/"
    one = cloud.get("/v2.1", token=None)
    assert one.status_code == 200 and one.json()["version"]["version"] == "2.96"
    assert cloud.get("/v2.1/", token=None).status_code == 200


def test_no_microversion_means_2_1_and_headers_are_echoed_with_vary(cloud: Cloud) -> None:
    resp = cloud.get("/v2.1/servers")
    assert resp.status_code == 200
    assert resp.headers["OpenStack-API-Version"] == "compute 2.1"
    assert resp.headers["X-OpenStack-Nova-API-Version"] == "2.1"
    assert "OpenStack-API-Version" in resp.headers["Vary"]
    assert "X-OpenStack-Nova-API-Version" in resp.headers["Vary"]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"OpenStack-API-Version": "compute 2.53"}, "2.53"),
        ({"OpenStack-API-Version": "compute latest"}, "2.96"),
        ({"X-OpenStack-Nova-API-Version": "2.11"}, "2.11"),
        ({"OpenStack-API-Version": "volume 3.1, compute 2.60"}, "2.60"),
        (
            {"OpenStack-API-Version": "compute 2.30", "X-OpenStack-Nova-API-Version": "2.5"},
            "2.30",
        ),
    ],
)
def test_microversion_negotiation(cloud: Cloud, headers: dict[str, str], expected: str) -> None:
    resp = cloud.get("/v2.1/flavors", headers=headers)
    assert resp.status_code == 200
    assert resp.headers["OpenStack-API-Version"] == f"compute {expected}"
    assert resp.headers["X-OpenStack-Nova-API-Version"] == expected


def test_version_out_of_range_is_406_and_malformed_is_400(cloud: Cloud) -> None:
    too_high = cloud.get("/v2.1/servers", version="2.97")
    assert too_high.status_code == 406
    assert too_high.json()["notAcceptable"]["message"] == (
        "Version 2.97 is not supported by the API. Minimum is 2.1 and maximum is 2.96."
    )
    assert cloud.get("/v2.1/servers", version="2.0").status_code == 406
    bad = cloud.get("/v2.1/servers", version="two")
    assert bad.status_code == 400
    assert "is of invalid format" in bad.json()["badRequest"]["message"]


def test_every_request_needs_a_valid_token(cloud: Cloud) -> None:
    for token in (None, "expired-or-unknown"):
        resp = cloud.get("/v2.1/servers", token=token)
        assert resp.status_code == 401
        assert resp.json()["unauthorized"]["code"] == 401


def test_unknown_path_is_a_nova_404(cloud: Cloud) -> None:
    resp = cloud.get("/v2.1/no-such-thing")
    assert resp.status_code == 404
    assert resp.json()["itemNotFound"]["code"] == 404


def test_version_limited_route_is_404_outside_its_range(cloud: Cloud) -> None:
    assert cloud.get("/v2.1/os-hypervisors/statistics", token="admin-token").status_code == 200
    late = cloud.get("/v2.1/os-hypervisors/statistics", token="admin-token", version="2.88")
    assert late.status_code == 404
