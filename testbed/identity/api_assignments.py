"""Grants (``/v3/projects/{p}/users/{u}/roles[/{r}]``) and ``/v3/role_assignments``."""

from __future__ import annotations

from typing import Any

from testbed.exceptions import NotFound
from testbed.identity.manager import IdentityManager
from testbed.identity.policy import enforce_admin
from testbed.identity.validation import bool_filter
from testbed.identity.views import Urls, assignment_view, collection, role_view
from testbed.web.app import ApiRequest, JsonApp

__all__ = ["register"]

Result = tuple[int, Any]
_GRANT = "/v3/projects/<project_id>/users/<user_id>/roles/<role_id>"

# Filters naming actors or targets the test-bed never has (groups, domains, the system).
_NEVER_MATCHING = ("group.id", "scope.domain.id", "scope.system", "scope.OS-INHERIT:inherited_to")


def register(app: JsonApp, manager: IdentityManager) -> None:
    """Add the grant and role-assignment routes to ``app``."""
    assignments = manager.assignments

    @app.route(_GRANT, ["PUT"])
    def grant(req: ApiRequest, project_id: str, user_id: str, role_id: str) -> Result:
        enforce_admin(req.ctx, "create_grant")
        assignments.grant(project_id, user_id, role_id)
        return 204, None

    @app.route(_GRANT, ["GET"])
    def check(req: ApiRequest, project_id: str, user_id: str, role_id: str) -> Result:
        enforce_admin(req.ctx, "check_grant")
        assignments.check(project_id, user_id, role_id)
        return 204, None

    @app.route(_GRANT, ["DELETE"])
    def revoke(req: ApiRequest, project_id: str, user_id: str, role_id: str) -> Result:
        enforce_admin(req.ctx, "revoke_grant")
        assignments.revoke(project_id, user_id, role_id)
        return 204, None

    @app.route("/v3/projects/<project_id>/users/<user_id>/roles", ["GET"])
    def list_grants(req: ApiRequest, project_id: str, user_id: str) -> Result:
        enforce_admin(req.ctx, "list_grants")
        urls = Urls.of(req.http)
        roles = assignments.roles_of(project_id, user_id)
        return 200, collection("roles", [role_view(r, urls) for r in roles], urls)

    @app.route("/v3/role_assignments", ["GET"])
    def list_assignments(req: ApiRequest) -> Result:
        enforce_admin(req.ctx, "list_role_assignments")
        urls = Urls.of(req.http)
        query = req.query
        if any(name in query for name in _NEVER_MATCHING):
            return 200, collection("role_assignments", [], urls)
        found = assignments.list_assignments(
            user_id=query.get("user.id"),
            project_id=query.get("scope.project.id"),
            role_id=query.get("role.id"),
            effective="effective" in query and bool(bool_filter(query.get("effective"))),
        )
        include_names = "include_names" in query and bool(bool_filter(query["include_names"]))
        names = _names(manager, found) if include_names else None
        views = [assignment_view(a, urls, names) for a in found]
        return 200, collection("role_assignments", views, urls)


def _names(manager: IdentityManager, found: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Users, projects (with their domains) and roles of the assignments, by id."""
    resources = manager.resources
    domains: dict[str, dict[str, Any]] = {}

    def domain(domain_id: str) -> dict[str, Any]:
        if domain_id not in domains:
            try:
                name = resources.get_domain(domain_id)["name"]
            except NotFound:
                name = domain_id
            domains[domain_id] = {"id": domain_id, "name": name}
        return domains[domain_id]

    names: dict[str, dict[str, Any]] = {}
    for entry in found:
        if entry["user_id"] not in names:
            user = resources.get_user(entry["user_id"])
            names[user["id"]] = {"name": user["name"], "domain": domain(user["domain_id"])}
        if entry["project_id"] not in names:
            project = resources.get_project(entry["project_id"])
            names[project["id"]] = {
                "name": project["name"],
                "domain": domain(project["domain_id"]),
            }
        if entry["role_id"] not in names:
            names[entry["role_id"]] = {"name": resources.get_role(entry["role_id"])["name"]}
    return names
