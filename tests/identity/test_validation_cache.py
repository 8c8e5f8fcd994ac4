"""Validating a token again is one cheap SELECT, and never a stale answer: every identity
write ends what was cached at once, and so do the token's expiry on the clock and a reset.

The token is checked the way every API of the cloud checks it: the stand-in compute API's
``whoami`` asks identity over the bus.  Before each write the test makes sure the answer
comes from the cache (the only identity SQL is the revision read); right after the write
returns, the next request must see it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from testbed.cloud import Cloud
from testbed.identity.assignments import AssignmentManager
from testbed.identity.resources import ResourceManager
from testbed.service import Runtime
from testbed.web.transport import mount_wsgi

from .helpers import BASE, V3, identity_sql, issue, keystone_error

WHOAMI = f"{BASE}/compute/v2.1/whoami"
REVISION_READ = "FROM identity_revision"


def whoami(http: requests.Session, token: str) -> requests.Response:
    return http.get(WHOAMI, headers={"X-Auth-Token": token})


def refused(http: requests.Session, token: str) -> None:
    """``whoami`` says 401: the token is not valid (any more)."""
    resp = whoami(http, token)
    assert resp.status_code == 401, resp.text


def cached_whoami(
    http: requests.Session, rt: Runtime, token: str, *, prime: bool = True
) -> dict[str, Any]:
    """``whoami`` answered from the cache: identity's only SQL is the revision read.
    ``prime``: validate the token once before (so it is kept at the current revision)."""
    if prime:
        whoami(http, token)
    with identity_sql(rt) as sql:
        resp = whoami(http, token)
    assert resp.status_code == 200, resp.text
    assert len(sql) == 1 and REVISION_READ in sql[0], sql
    return dict(resp.json())


class Admin:
    """The identity API, called with an admin token."""

    def __init__(self, http: requests.Session, token: str) -> None:
        self.http = http
        self.headers = {"X-Auth-Token": token}

    def call(self, method: str, path: str, body: Any = None, *, expect: int = 204) -> Any:
        resp = self.http.request(method, f"{V3}{path}", headers=self.headers, json=body)
        assert resp.status_code == expect, resp.text
        return resp.json() if resp.content else None

    def id_of(self, collection: str, name: str) -> str:
        found = self.call("GET", f"/{collection}?name={name}", expect=200)[collection]
        return str(found[0]["id"])


@pytest.fixture
def admin(http: requests.Session, admin_token: str) -> Admin:
    return Admin(http, admin_token)


def test_validating_again_costs_one_select(
    http: requests.Session, rt: Runtime, demo_token: str
) -> None:
    first = whoami(http, demo_token).json()
    again = cached_whoami(http, rt, demo_token)
    assert {**again, "request_id": None} == {**first, "request_id": None}
    # Issuing another token is not a change that ends what is cached.
    issue(http, "admin", "admin", "admin")
    assert cached_whoami(http, rt, demo_token, prime=False)["roles"] == ["member", "reader"]
    # The identity API validates its callers the same way.
    headers = {"X-Auth-Token": demo_token, "X-Subject-Token": demo_token}
    http.get(f"{V3}/auth/tokens", headers=headers)
    with identity_sql(rt) as sql:
        assert http.get(f"{V3}/auth/tokens", headers=headers).status_code == 200
    assert sql and all(REVISION_READ in statement for statement in sql), sql


Write = Callable[[Admin, requests.Session, Runtime, str], None]


def _revoke_token(admin: Admin, http: requests.Session, rt: Runtime, token: str) -> None:
    http.delete(f"{V3}/auth/tokens", headers={**admin.headers, "X-Subject-Token": token})


def _change_own_password(admin: Admin, http: requests.Session, rt: Runtime, token: str) -> None:
    body = {"user": {"original_password": "demo", "password": "new-pw"}}
    resp = http.post(f"{V3}/users/{admin.id_of('users', 'demo')}/password", json=body)
    assert resp.status_code == 204, resp.text


def _reset_password(admin: Admin, http: requests.Session, rt: Runtime, token: str) -> None:
    body = {"user": {"password": "new-pw"}}
    admin.call("PATCH", f"/users/{admin.id_of('users', 'demo')}", body, expect=200)


def _disable_user(admin: Admin, http: requests.Session, rt: Runtime, token: str) -> None:
    body = {"user": {"enabled": False}}
    admin.call("PATCH", f"/users/{admin.id_of('users', 'demo')}", body, expect=200)


def _delete_user(admin: Admin, http: requests.Session, rt: Runtime, token: str) -> None:
    admin.call("DELETE", f"/users/{admin.id_of('users', 'demo')}")


def _remove_grant(admin: Admin, http: requests.Session, rt: Runtime, token: str) -> None:
    project, user = admin.id_of("projects", "demo"), admin.id_of("users", "demo")
    admin.call("DELETE", f"/projects/{project}/users/{user}/roles/{admin.id_of('roles', 'member')}")


def _disable_project(admin: Admin, http: requests.Session, rt: Runtime, token: str) -> None:
    body = {"project": {"enabled": False}}
    admin.call("PATCH", f"/projects/{admin.id_of('projects', 'demo')}", body, expect=200)


def _delete_project(admin: Admin, http: requests.Session, rt: Runtime, token: str) -> None:
    admin.call("DELETE", f"/projects/{admin.id_of('projects', 'demo')}")


def _delete_role(admin: Admin, http: requests.Session, rt: Runtime, token: str) -> None:
    admin.call("DELETE", f"/roles/{admin.id_of('roles', 'member')}")


@pytest.mark.parametrize(
    "write",
    [
        _revoke_token,
        _change_own_password,
        _reset_password,
        _disable_user,
        _delete_user,
        _remove_grant,
        _disable_project,
        _delete_project,
        _delete_role,
    ],
)
def test_a_write_that_kills_the_token_is_seen_at_once(
    write: Write, http: requests.Session, rt: Runtime, admin: Admin, demo_token: str
) -> None:
    cached_whoami(http, rt, demo_token)
    write(admin, http, rt, demo_token)
    refused(http, demo_token)
    keystone_error(http.get(f"{V3}/auth/projects", headers={"X-Auth-Token": demo_token}), 401)


def test_renames_and_new_roles_are_seen_at_once(
    http: requests.Session, rt: Runtime, admin: Admin, demo_token: str
) -> None:
    user, project = admin.id_of("users", "demo"), admin.id_of("projects", "demo")
    cached_whoami(http, rt, demo_token)
    admin.call("PATCH", f"/users/{user}", {"user": {"name": "demo2"}}, expect=200)
    assert whoami(http, demo_token).json()["user_name"] == "demo2"

    cached_whoami(http, rt, demo_token)
    admin.call("PATCH", f"/projects/{project}", {"project": {"name": "demo2"}}, expect=200)
    assert whoami(http, demo_token).json()["project_name"] == "demo2"

    cached_whoami(http, rt, demo_token)
    member = admin.id_of("roles", "member")
    admin.call("PATCH", f"/roles/{member}", {"role": {"name": "crew"}}, expect=200)
    assert whoami(http, demo_token).json()["roles"] == ["crew", "reader"]

    cached_whoami(http, rt, demo_token)
    observer = admin.call("POST", "/roles", {"role": {"name": "observer"}}, expect=201)
    admin.call("PUT", f"/projects/{project}/users/{user}/roles/{observer['role']['id']}")
    assert whoami(http, demo_token).json()["roles"] == ["crew", "observer", "reader"]

    cached_whoami(http, rt, demo_token)
    admin.call("DELETE", f"/roles/{observer['role']['id']}")
    assert whoami(http, demo_token).json()["roles"] == ["crew", "reader"]


def test_a_new_implied_role_is_seen_at_once(
    http: requests.Session, rt: Runtime, demo_token: str
) -> None:
    resources, assignments = ResourceManager(rt.store), AssignmentManager(rt.store)
    cached_whoami(http, rt, demo_token)
    auditor = resources.create_role("auditor")  # a role nobody holds changes no token...
    member = resources.list_roles(name="member")[0]
    assert whoami(http, demo_token).json()["roles"] == ["member", "reader"]
    cached_whoami(http, rt, demo_token)
    assignments.imply(member["id"], auditor["id"])  # ...until a role held implies it
    assert whoami(http, demo_token).json()["roles"] == ["auditor", "member", "reader"]


def test_a_disabled_or_deleted_domain_ends_its_tokens_at_once(
    http: requests.Session, rt: Runtime, admin: Admin
) -> None:
    domain = admin.call("POST", "/domains", {"domain": {"name": "other"}}, expect=201)["domain"]
    project = admin.call(
        "POST", "/projects", {"project": {"name": "p", "domain_id": domain["id"]}}, expect=201
    )["project"]
    user = admin.call(
        "POST",
        "/users",
        {"user": {"name": "u", "password": "pw", "domain_id": domain["id"]}},
        expect=201,
    )["user"]
    member = admin.id_of("roles", "member")
    admin.call("PUT", f"/projects/{project['id']}/users/{user['id']}/roles/{member}")
    auth = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"id": user["id"], "password": "pw"}},
            },
            "scope": {"project": {"id": project["id"]}},
        }
    }
    token = http.post(f"{V3}/auth/tokens", json=auth).headers["X-Subject-Token"]

    cached_whoami(http, rt, token)
    admin.call("PATCH", f"/domains/{domain['id']}", {"domain": {"enabled": False}}, expect=200)
    refused(http, token)
    admin.call("PATCH", f"/domains/{domain['id']}", {"domain": {"enabled": True}}, expect=200)
    assert cached_whoami(http, rt, token)["project_name"] == "p"  # disabling revoked nothing
    admin.call("PATCH", f"/domains/{domain['id']}", {"domain": {"enabled": False}}, expect=200)
    admin.call("DELETE", f"/domains/{domain['id']}")
    refused(http, token)


def test_a_cached_token_still_expires_on_the_clock(http: requests.Session, rt: Runtime) -> None:
    # Issued off the beat of the service's purge of expired tokens (every token lifetime
    # from the start), so nothing but the clock ends the cached answer.
    rt.clock.advance(100)
    token = issue(http, "demo", "demo", "demo")
    caller = issue(http, "admin", "admin", "admin")
    subject = {"X-Auth-Token": caller, "X-Subject-Token": token}
    cached_whoami(http, rt, token)
    http.get(f"{V3}/auth/tokens", headers=subject)
    rt.clock.advance(rt.config.token_expiration - 1)  # the purge ran meanwhile
    cached_whoami(http, rt, token)
    assert http.get(f"{V3}/auth/tokens", headers=subject).status_code == 200
    rt.clock.advance(1)
    refused(http, token)
    subject["X-Auth-Token"] = issue(http, "admin", "admin", "admin")  # the caller's expired too
    assert keystone_error(http.get(f"{V3}/auth/tokens", headers=subject), 404) == (
        "Failed to validate token"
    )


def test_a_token_from_before_a_reset_is_refused_after_it() -> None:
    with Cloud.start("default") as cloud:
        http = requests.Session()
        mount_wsgi(http, BASE, cloud.app)
        token = issue(http, "admin", "admin", "admin")
        headers = {"X-Auth-Token": token}
        for _ in range(2):  # validated, then answered from the cache
            assert http.get(f"{BASE}/compute/v2.1/flavors", headers=headers).status_code == 200
        reset = http.post(f"{BASE}/testbed/v1/reset", headers=headers, json={})
        assert reset.status_code == 200, reset.text
        refused = http.get(f"{BASE}/compute/v2.1/flavors", headers=headers)
        assert refused.status_code == 401, refused.text
        fresh = {"X-Auth-Token": issue(http, "admin", "admin", "admin")}
        assert http.get(f"{BASE}/compute/v2.1/flavors", headers=fresh).status_code == 200
