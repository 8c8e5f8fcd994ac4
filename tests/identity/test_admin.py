"""Domains, projects, users, roles and grants over HTTP: what an admin needs to add a
project and a member, what members may not do, and Keystone's errors."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from .helpers import V3, issue, keystone_error, password_auth


class Client:
    """Calls the identity API with one token."""

    def __init__(self, http: requests.Session, token: str) -> None:
        self.http = http
        self.headers = {"X-Auth-Token": token}

    def get(self, path: str, **params: str) -> requests.Response:
        return self.http.get(f"{V3}{path}", headers=self.headers, params=params)

    def post(self, path: str, body: Any) -> requests.Response:
        return self.http.post(f"{V3}{path}", headers=self.headers, json=body)

    def patch(self, path: str, body: Any) -> requests.Response:
        return self.http.patch(f"{V3}{path}", headers=self.headers, json=body)

    def put(self, path: str) -> requests.Response:
        return self.http.put(f"{V3}{path}", headers=self.headers)

    def head(self, path: str) -> requests.Response:
        return self.http.head(f"{V3}{path}", headers=self.headers)

    def delete(self, path: str) -> requests.Response:
        return self.http.delete(f"{V3}{path}", headers=self.headers)

    def one(self, collection: str, name: str) -> dict[str, Any]:
        resp = self.get(f"/{collection}", name=name)
        assert resp.status_code == 200, resp.text
        (found,) = resp.json()[collection]
        return dict(found)


@pytest.fixture
def admin(http: requests.Session, admin_token: str) -> Client:
    return Client(http, admin_token)


@pytest.fixture
def demo(http: requests.Session, demo_token: str) -> Client:
    return Client(http, demo_token)


def test_admin_adds_a_project_and_a_member(http: requests.Session, admin: Client) -> None:
    created = admin.post("/projects", {"project": {"name": "alt", "description": "x"}})
    assert created.status_code == 201
    project = created.json()["project"]
    assert project["domain_id"] == "default" and project["enabled"] is True
    assert project["links"]["self"] == f"{V3}/projects/{project['id']}"
    user_resp = admin.post(
        "/users",
        {"user": {"name": "bob", "password": "bob-pw", "default_project_id": project["id"]}},
    )
    assert user_resp.status_code == 201
    user = user_resp.json()["user"]
    assert "password" not in user and user["default_project_id"] == project["id"]
    member = admin.one("roles", "member")
    grant = f"/projects/{project['id']}/users/{user['id']}/roles/{member['id']}"
    assert admin.put(grant).status_code == 204
    assert admin.head(grant).status_code == 204
    assert admin.get(grant).status_code == 204
    roles = admin.get(f"/projects/{project['id']}/users/{user['id']}/roles").json()["roles"]
    assert [r["name"] for r in roles] == ["member"]

    token = http.post(f"{V3}/auth/tokens", json=password_auth("bob", "bob-pw", "alt"))
    assert token.status_code == 201
    assert {r["name"] for r in token.json()["token"]["roles"]} == {"member", "reader"}
    bob = Client(http, token.headers["X-Subject-Token"])
    assert bob.get(f"/projects/{project['id']}").json()["project"]["name"] == "alt"
    assert bob.get(f"/users/{user['id']}").json()["user"]["name"] == "bob"
    mine = bob.get(f"/users/{user['id']}/projects").json()["projects"]
    assert [p["name"] for p in mine] == ["alt"]

    assert admin.delete(grant).status_code == 204
    keystone_error(admin.delete(grant), 404)
    keystone_error(bob.get(f"/projects/{project['id']}"), 401)  # no role left: token dead


def test_members_may_not_administer(demo: Client, admin: Client) -> None:
    attempts = [
        demo.get("/projects"),
        demo.get("/users"),
        demo.get("/roles"),
        demo.get("/role_assignments"),
        demo.post("/projects", {"project": {"name": "sneaky"}}),
        demo.post("/users", {"user": {"name": "sneaky"}}),
        demo.post("/roles", {"role": {"name": "sneaky"}}),
        demo.get(f"/projects/{admin.one('projects', 'admin')['id']}"),
        demo.get(f"/users/{admin.one('users', 'admin')['id']}"),
    ]
    for resp in attempts:
        message = keystone_error(resp, 403)
        assert message.startswith("You are not authorized to perform the requested action")
    assert demo.get("/domains/default").status_code == 200  # its own project's domain


def test_duplicates_are_conflicts(admin: Client) -> None:
    keystone_error(admin.post("/projects", {"project": {"name": "demo"}}), 409)
    keystone_error(admin.post("/users", {"user": {"name": "demo"}}), 409)
    keystone_error(admin.post("/roles", {"role": {"name": "member"}}), 409)
    keystone_error(admin.post("/domains", {"domain": {"name": "Default"}}), 409)
    alt = admin.post("/projects", {"project": {"name": "alt"}}).json()["project"]
    keystone_error(admin.patch(f"/projects/{alt['id']}", {"project": {"name": "demo"}}), 409)


def test_missing_things_are_404s(admin: Client) -> None:
    assert keystone_error(admin.get("/projects/nope"), 404) == "Could not find project: nope."
    keystone_error(admin.get("/users/nope"), 404)
    keystone_error(admin.get("/roles/nope"), 404)
    keystone_error(admin.get("/domains/nope"), 404)
    keystone_error(admin.delete("/projects/nope"), 404)
    keystone_error(admin.put("/projects/nope/users/nope/roles/nope"), 404)
    keystone_error(admin.get("/no/such/route"), 404)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/projects", {"project": {}}),
        ("/projects", {"project": {"name": ""}}),
        ("/projects", {"project": {"name": 5}}),
        ("/projects", {"project": {"name": "x", "enabled": "yes"}}),
        ("/projects", {"project": "x"}),
        ("/projects", {"tenant": {"name": "x"}}),
        ("/projects", {"project": {"name": "x", "domain_id": "nope"}}),
        ("/users", {"user": {"name": "x" * 300}}),
        ("/roles", {"role": {"name": None}}),
    ],
)
def test_invalid_bodies_are_400s(admin: Client, path: str, body: Any) -> None:
    keystone_error(admin.post(path, body), 400)


def test_update_and_delete(http: requests.Session, admin: Client) -> None:
    alt = admin.post("/projects", {"project": {"name": "alt"}}).json()["project"]
    renamed = admin.patch(f"/projects/{alt['id']}", {"project": {"name": "alt2"}})
    assert renamed.status_code == 200 and renamed.json()["project"]["name"] == "alt2"
    demo_project = admin.one("projects", "demo")
    demo_token = issue(http, "demo", "demo", "demo")
    disabled = admin.patch(f"/projects/{demo_project['id']}", {"project": {"enabled": False}})
    assert disabled.json()["project"]["enabled"] is False
    keystone_error(Client(http, demo_token).get("/auth/projects"), 401)
    keystone_error(http.post(f"{V3}/auth/tokens", json=password_auth("demo", "demo", "demo")), 401)
    assert admin.delete(f"/projects/{alt['id']}").status_code == 204
    keystone_error(admin.get(f"/projects/{alt['id']}"), 404)

    domain = admin.post("/domains", {"domain": {"name": "other"}}).json()["domain"]
    keystone_error(admin.delete(f"/domains/{domain['id']}"), 403)  # still enabled
    admin.patch(f"/domains/{domain['id']}", {"domain": {"enabled": False}})
    assert admin.delete(f"/domains/{domain['id']}").status_code == 204


def test_deleted_or_disabled_users_lose_their_tokens(http: requests.Session, admin: Client) -> None:
    demo_user = admin.one("users", "demo")
    token = issue(http, "demo", "demo", "demo")
    admin.patch(f"/users/{demo_user['id']}", {"user": {"enabled": False}})
    keystone_error(Client(http, token).get("/auth/projects"), 401)
    keystone_error(http.post(f"{V3}/auth/tokens", json=password_auth("demo", "demo", "demo")), 401)
    admin.patch(f"/users/{demo_user['id']}", {"user": {"enabled": True}})
    token = issue(http, "demo", "demo", "demo")
    assert admin.delete(f"/users/{demo_user['id']}").status_code == 204
    keystone_error(Client(http, token).get("/auth/projects"), 401)


def test_users_change_their_own_password(http: requests.Session, admin: Client) -> None:
    demo_user = admin.one("users", "demo")
    old = issue(http, "demo", "demo", "demo")
    path = f"{V3}/users/{demo_user['id']}/password"
    wrong = http.post(path, json={"user": {"original_password": "x", "password": "new"}})
    keystone_error(wrong, 401)
    ok = http.post(path, json={"user": {"original_password": "demo", "password": "new"}})
    assert ok.status_code == 204
    keystone_error(Client(http, old).get("/auth/projects"), 401)
    issue(http, "demo", "new", "demo")


def test_role_assignments_with_filters_and_names(admin: Client) -> None:
    demo_user = admin.one("users", "demo")
    demo_project = admin.one("projects", "demo")
    everything = admin.get("/role_assignments").json()["role_assignments"]
    assert len(everything) == 2
    mine = admin.get(
        "/role_assignments",
        **{"user.id": demo_user["id"], "scope.project.id": demo_project["id"]},
        include_names="true",
    ).json()["role_assignments"]
    assert mine == [
        {
            "role": {"id": admin.one("roles", "member")["id"], "name": "member"},
            "user": {
                "id": demo_user["id"],
                "name": "demo",
                "domain": {"id": "default", "name": "Default"},
            },
            "scope": {
                "project": {
                    "id": demo_project["id"],
                    "name": "demo",
                    "domain": {"id": "default", "name": "Default"},
                }
            },
            "links": {
                "assignment": f"{V3}/projects/{demo_project['id']}/users/{demo_user['id']}"
                f"/roles/{admin.one('roles', 'member')['id']}"
            },
        }
    ]
    effective = admin.get("/role_assignments", **{"user.id": demo_user["id"]}, effective="")
    names = {
        a["role"]["id"]: a["links"].get("prior_role") for a in effective.json()["role_assignments"]
    }
    reader = admin.one("roles", "reader")["id"]
    assert reader in names and names[reader] is not None
    assert admin.get("/role_assignments", **{"group.id": "x"}).json()["role_assignments"] == []


def test_lists_filter_by_name(admin: Client) -> None:
    assert [d["id"] for d in admin.get("/domains").json()["domains"]] == ["default"]
    assert {p["name"] for p in admin.get("/projects").json()["projects"]} == {"admin", "demo"}
    assert {u["name"] for u in admin.get("/users").json()["users"]} == {"admin", "demo"}
    assert {r["name"] for r in admin.get("/roles").json()["roles"]} == {
        "admin",
        "member",
        "reader",
    }
    assert admin.get("/projects", name="nope").json()["projects"] == []
    assert admin.get("/users", enabled="false").json()["users"] == []
