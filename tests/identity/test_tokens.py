"""Tokens over HTTP: issue, scope, validate, revoke, expire; Keystone's error bodies."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from testbed.service import Runtime

from .helpers import IDENTITY, V3, issue, keystone_error, password_auth


def _headers(token: str, subject: str | None = None) -> dict[str, str]:
    headers = {"X-Auth-Token": token}
    if subject is not None:
        headers["X-Subject-Token"] = subject
    return headers


def test_version_documents_are_keystones(http: requests.Session) -> None:
    root = http.get(IDENTITY)
    assert root.status_code == 300
    (v3,) = root.json()["versions"]["values"]
    assert v3["id"].startswith("v3.") and v3["status"] == "stable"
    assert v3["links"] == [{"rel": "self", "href": f"{IDENTITY}/v3/"}]
    assert v3["media-types"] == [
        {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
    ]
    version = http.get(V3)
    assert version.status_code == 200
    assert version.json() == {"version": v3}


def test_password_auth_issues_a_project_token_with_catalog(http: requests.Session) -> None:
    resp = http.post(f"{V3}/auth/tokens", json=password_auth("admin", "admin", "admin"))
    assert resp.status_code == 201
    assert resp.headers["X-Subject-Token"]
    token = resp.json()["token"]
    assert token["methods"] == ["password"]
    assert token["user"]["name"] == "admin"
    assert token["user"]["domain"] == {"id": "default", "name": "Default"}
    assert token["project"]["name"] == "admin"
    assert token["project"]["domain"] == {"id": "default", "name": "Default"}
    assert {r["name"] for r in token["roles"]} == {"admin", "member", "reader"}
    assert token["issued_at"] == "2026-01-01T00:00:00.000000Z"
    assert token["expires_at"] == "2026-01-01T01:00:00.000000Z"
    assert len(token["audit_ids"]) == 1
    urls = {
        svc["type"]: {ep["interface"]: ep["url"] for ep in svc["endpoints"]}
        for svc in token["catalog"]
    }
    assert urls["identity"]["public"] == IDENTITY
    assert urls["compute"] == dict.fromkeys(
        ("public", "internal", "admin"), "http://testbed.local/compute/v2.1"
    )
    assert urls["image"]["public"] == "http://testbed.local/image"
    assert urls["network"]["public"] == "http://testbed.local/network"
    assert urls["block-storage"]["public"] == "http://testbed.local/volume/v3"
    assert urls["volumev3"]["public"] == "http://testbed.local/volume/v3"
    regions = {ep["region_id"] for svc in token["catalog"] for ep in svc["endpoints"]}
    assert regions == {"RegionOne"}


def test_auth_by_ids_and_nocatalog(http: requests.Session, admin_token: str) -> None:
    mine = http.get(f"{V3}/auth/tokens", headers=_headers(admin_token, admin_token)).json()
    body: dict[str, Any] = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"id": mine["token"]["user"]["id"], "password": "admin"}},
            },
            "scope": {"project": {"id": mine["token"]["project"]["id"]}},
        }
    }
    resp = http.post(f"{V3}/auth/tokens?nocatalog", json=body)
    assert resp.status_code == 201
    assert "catalog" not in resp.json()["token"]
    assert resp.json()["token"]["project"]["id"] == mine["token"]["project"]["id"]


def test_no_scope_means_the_default_project_and_unscoped_means_none(
    http: requests.Session,
) -> None:
    default = http.post(f"{V3}/auth/tokens", json=password_auth("demo", "demo"))
    assert default.status_code == 201
    assert default.json()["token"]["project"]["name"] == "demo"
    unscoped = http.post(f"{V3}/auth/tokens", json=password_auth("demo", "demo", scope="unscoped"))
    assert unscoped.status_code == 201
    token = unscoped.json()["token"]
    assert "project" not in token and "roles" not in token and "catalog" not in token


def test_token_method_rescopes_and_keeps_the_expiry(http: requests.Session, rt: Runtime) -> None:
    unscoped = http.post(
        f"{V3}/auth/tokens", json=password_auth("admin", "admin", scope="unscoped")
    )
    first = unscoped.headers["X-Subject-Token"]
    rt.clock.advance(600)
    body: dict[str, Any] = {
        "auth": {
            "identity": {"methods": ["token"], "token": {"id": first}},
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}},
        }
    }
    resp = http.post(f"{V3}/auth/tokens", json=body)
    assert resp.status_code == 201
    token = resp.json()["token"]
    assert token["project"]["name"] == "admin"
    assert token["methods"] == ["token", "password"]
    assert token["expires_at"] == unscoped.json()["token"]["expires_at"]
    assert token["audit_ids"][1] == unscoped.json()["token"]["audit_ids"][0]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (password_auth("admin", "wrong", "admin"), 401),
        (password_auth("nobody", "admin", "admin"), 401),
        (password_auth("demo", "demo", "admin"), 401),  # no role on project admin
        (password_auth("admin", "admin", "no-such-project"), 401),
        (password_auth("admin", "admin", scope={"domain": {"id": "default"}}), 401),
        (password_auth("admin", "admin", scope={"system": {"all": True}}), 401),
        ({"auth": {"identity": {"methods": ["totp"], "totp": {}}}}, 401),
        ({"auth": {}}, 400),
        ({"nothing": 1}, 400),
        ({"auth": {"identity": {"methods": ["password"], "password": {"user": {}}}}}, 400),
        (
            {
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {"user": {"name": "admin", "password": "admin"}},
                    }
                }
            },
            400,  # a user name needs a domain
        ),
    ],
)
def test_bad_requests_get_keystone_errors(
    http: requests.Session, body: dict[str, Any], code: int
) -> None:
    resp = http.post(f"{V3}/auth/tokens", json=body)
    keystone_error(resp, code)
    if code == 401:
        assert resp.headers["WWW-Authenticate"] == f'Keystone uri="{IDENTITY}"'


def test_malformed_json_is_a_400(http: requests.Session) -> None:
    resp = http.post(
        f"{V3}/auth/tokens", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    keystone_error(resp, 400)


def test_validate_and_check_a_token(
    http: requests.Session, admin_token: str, demo_token: str
) -> None:
    own = http.get(f"{V3}/auth/tokens", headers=_headers(demo_token, demo_token))
    assert own.status_code == 200
    assert own.headers["X-Subject-Token"] == demo_token
    assert own.json()["token"]["user"]["name"] == "demo"
    by_admin = http.get(f"{V3}/auth/tokens", headers=_headers(admin_token, demo_token))
    assert by_admin.status_code == 200
    head = http.head(f"{V3}/auth/tokens", headers=_headers(admin_token, demo_token))
    assert head.status_code == 200 and head.content == b""
    other = http.get(f"{V3}/auth/tokens", headers=_headers(demo_token, admin_token))
    assert "identity:validate_token" in keystone_error(other, 403)
    unknown = http.get(f"{V3}/auth/tokens", headers=_headers(admin_token, "bogus"))
    keystone_error(unknown, 404)
    no_caller = http.get(f"{V3}/auth/tokens", headers={"X-Subject-Token": demo_token})
    keystone_error(no_caller, 401)
    no_subject = http.get(f"{V3}/auth/tokens", headers=_headers(admin_token))
    keystone_error(no_subject, 400)


def test_revoked_tokens_stop_working(http: requests.Session, admin_token: str) -> None:
    token = issue(http, "demo", "demo", "demo")
    resp = http.delete(f"{V3}/auth/tokens", headers=_headers(token, token))
    assert resp.status_code == 204
    again = http.get(f"{V3}/auth/tokens", headers=_headers(admin_token, token))
    assert keystone_error(again, 404) == "Failed to validate token"
    keystone_error(http.get(f"{V3}/auth/projects", headers=_headers(token)), 401)
    keystone_error(http.delete(f"{V3}/auth/tokens", headers=_headers(admin_token, token)), 404)


def test_tokens_expire_on_the_clock(http: requests.Session, rt: Runtime) -> None:
    token = issue(http, "demo", "demo", "demo")
    rt.clock.advance(rt.config.token_expiration - 1)
    assert http.get(f"{V3}/auth/projects", headers=_headers(token)).status_code == 200
    rt.clock.advance(1)
    keystone_error(http.get(f"{V3}/auth/projects", headers=_headers(token)), 401)
    fresh = issue(http, "admin", "admin", "admin")
    expired = http.get(f"{V3}/auth/tokens", headers=_headers(fresh, token))
    keystone_error(expired, 404)


def test_my_projects_and_catalog(http: requests.Session, demo_token: str) -> None:
    projects = http.get(f"{V3}/auth/projects", headers=_headers(demo_token))
    assert projects.status_code == 200
    assert [p["name"] for p in projects.json()["projects"]] == ["demo"]
    assert projects.json()["links"]["self"] == f"{V3}/auth/projects"
    catalog = http.get(f"{V3}/auth/catalog", headers=_headers(demo_token))
    assert catalog.status_code == 200
    assert "compute" in {svc["type"] for svc in catalog.json()["catalog"]}
    unscoped = http.post(f"{V3}/auth/tokens", json=password_auth("demo", "demo", scope="unscoped"))
    no_scope = http.get(f"{V3}/auth/catalog", headers=_headers(unscoped.headers["X-Subject-Token"]))
    keystone_error(no_scope, 403)
