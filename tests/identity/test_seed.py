"""Seeding: the default data, a topology's additions, stable ids, idempotence."""

from __future__ import annotations

import pytest
import requests

from testbed.exceptions import BadRequest
from testbed.identity.manager import IdentityManager
from testbed.identity.seed import project_ids_by_name, seed_identity, seeded_id
from testbed.service import Runtime

from .helpers import V3, issue, keystone_error, password_auth

SPEC = {
    "roles": ["observer"],
    "projects": [{"name": "alt"}, {"id": "p-fixed", "name": "fixed"}],
    "users": [
        {"name": "bob", "password": "bob-pw", "project": "alt", "role": "member"},
        {
            "id": "u-fixed",
            "name": "eve",
            "password": "eve-pw",
            "project": "fixed",
            "role": ["admin", "observer"],
        },
    ],
}


def _counts(rt: Runtime) -> tuple[int, ...]:
    manager = IdentityManager(rt)
    return (
        len(manager.resources.list_domains()),
        len(manager.resources.list_projects()),
        len(manager.resources.list_users()),
        len(manager.resources.list_roles()),
        len(manager.assignments.list_assignments()),
    )


def test_default_data_and_documented_credentials(rt: Runtime, http: requests.Session) -> None:
    assert _counts(rt) == (1, 2, 2, 3, 2)
    manager = IdentityManager(rt)
    assert manager.resources.get_user(seeded_id("user", "admin"))["name"] == "admin"
    assert manager.resources.get_project(seeded_id("project", "demo"))["name"] == "demo"
    assert project_ids_by_name(rt) == {
        "admin": seeded_id("project", "admin"),
        "demo": seeded_id("project", "demo"),
    }
    issue(http, "admin", "admin", "admin")
    issue(http, "demo", "demo", "demo")


def test_spec_adds_users_projects_and_roles_idempotently(
    rt: Runtime, http: requests.Session
) -> None:
    seed_identity(rt, SPEC)
    after_first = _counts(rt)
    assert after_first == (1, 4, 4, 4, 5)
    admin_token = issue(http, "admin", "admin", "admin")
    seed_identity(rt, SPEC)
    seed_identity(rt, {})
    assert _counts(rt) == after_first
    # re-seeding with unchanged passwords keeps tokens valid
    check = http.get(
        f"{V3}/auth/tokens", headers={"X-Auth-Token": admin_token, "X-Subject-Token": admin_token}
    )
    assert check.status_code == 200

    bob = http.post(f"{V3}/auth/tokens", json=password_auth("bob", "bob-pw"))
    assert bob.json()["token"]["project"]["name"] == "alt"  # the default project
    eve = http.post(f"{V3}/auth/tokens", json=password_auth("eve", "eve-pw", "fixed"))
    token = eve.json()["token"]
    assert token["user"]["id"] == "u-fixed" and token["project"]["id"] == "p-fixed"
    assert {r["name"] for r in token["roles"]} == {"admin", "member", "reader", "observer"}


def test_a_changed_password_in_the_spec_is_applied(rt: Runtime, http: requests.Session) -> None:
    seed_identity(rt, {"users": [{"name": "demo", "password": "changed", "project": "demo"}]})
    keystone_error(http.post(f"{V3}/auth/tokens", json=password_auth("demo", "demo", "demo")), 401)
    issue(http, "demo", "changed", "demo")


@pytest.mark.parametrize(
    "spec",
    [{"users": [{"password": "x"}]}, {"projects": "alt"}, {"roles": [1]}],
)
def test_malformed_specs_are_refused(rt: Runtime, spec: dict[str, object]) -> None:
    with pytest.raises(BadRequest):
        seed_identity(rt, spec)
