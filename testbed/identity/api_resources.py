"""``/v3/domains``, ``/v3/projects``, ``/v3/users``, ``/v3/roles``: list, create, show,
update, delete; ``/v3/users/{id}/projects`` and ``/v3/users/{id}/password``."""

from __future__ import annotations

from typing import Any

from testbed.exceptions import BadRequest, Forbidden
from testbed.identity.manager import IdentityManager
from testbed.identity.policy import enforce, enforce_admin
from testbed.identity.resources import DEFAULT_DOMAIN_ID
from testbed.identity.validation import (
    bool_filter,
    entity_body,
    optional_bool,
    optional_str,
    required_name,
)
from testbed.identity.views import (
    Urls,
    collection,
    domain_view,
    project_view,
    role_view,
    user_view,
)
from testbed.web.app import ApiRequest, JsonApp

__all__ = ["register"]

Result = tuple[int, Any]


def _changes(
    entity: dict[str, Any], strings: tuple[str, ...], bools: tuple[str, ...]
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if "name" in entity:
        changes["name"] = required_name(entity)
    for field in strings:
        if field in entity:
            changes[field] = optional_str(entity, field)
    for field in bools:
        if field in entity:
            changes[field] = optional_bool(entity, field)
    return changes


def register(app: JsonApp, manager: IdentityManager) -> None:
    """Add the resource routes to ``app``."""
    _register_domains(app, manager)
    _register_projects(app, manager)
    _register_users(app, manager)
    _register_roles(app, manager)


def _register_domains(app: JsonApp, manager: IdentityManager) -> None:
    resources = manager.resources

    @app.route("/v3/domains", ["GET"])
    def list_domains(req: ApiRequest) -> Result:
        enforce_admin(req.ctx, "list_domains")
        urls = Urls.of(req.http)
        found = resources.list_domains(
            name=req.query.get("name"), enabled=bool_filter(req.query.get("enabled"))
        )
        return 200, collection("domains", [domain_view(d, urls) for d in found], urls)

    @app.route("/v3/domains", ["POST"])
    def create_domain(req: ApiRequest) -> Result:
        enforce_admin(req.ctx, "create_domain")
        body = entity_body(req, "domain")
        created = resources.create_domain(
            required_name(body),
            description=optional_str(body, "description", "") or "",
            enabled=bool(optional_bool(body, "enabled", True)),
            domain_id=optional_str(body, "explicit_domain_id"),
        )
        return 201, {"domain": domain_view(created, Urls.of(req.http))}

    @app.route("/v3/domains/<domain_id>", ["GET"])
    def show_domain(req: ApiRequest, domain_id: str) -> Result:
        if not req.ctx.is_admin:
            own = resources.get_project(req.ctx.project_id) if req.ctx.project_id else None
            if own is None or own["domain_id"] != domain_id:
                enforce_admin(req.ctx, "get_domain")
        return 200, {"domain": domain_view(resources.get_domain(domain_id), Urls.of(req.http))}

    @app.route("/v3/domains/<domain_id>", ["PATCH"])
    def update_domain(req: ApiRequest, domain_id: str) -> Result:
        enforce_admin(req.ctx, "update_domain")
        changes = _changes(entity_body(req, "domain"), ("description",), ("enabled",))
        updated = resources.update_domain(domain_id, changes)
        return 200, {"domain": domain_view(updated, Urls.of(req.http))}

    @app.route("/v3/domains/<domain_id>", ["DELETE"])
    def delete_domain(req: ApiRequest, domain_id: str) -> Result:
        enforce_admin(req.ctx, "delete_domain")
        resources.delete_domain(domain_id)
        return 204, None


def _register_projects(app: JsonApp, manager: IdentityManager) -> None:
    resources = manager.resources

    @app.route("/v3/projects", ["GET"])
    def list_projects(req: ApiRequest) -> Result:
        enforce_admin(req.ctx, "list_projects")
        urls = Urls.of(req.http)
        found = resources.list_projects(
            name=req.query.get("name"),
            domain_id=req.query.get("domain_id"),
            enabled=bool_filter(req.query.get("enabled")),
        )
        return 200, collection("projects", [project_view(p, urls) for p in found], urls)

    @app.route("/v3/projects", ["POST"])
    def create_project(req: ApiRequest) -> Result:
        enforce_admin(req.ctx, "create_project")
        body = entity_body(req, "project")
        domain_id = optional_str(body, "domain_id", DEFAULT_DOMAIN_ID) or DEFAULT_DOMAIN_ID
        parent_id = optional_str(body, "parent_id")
        if optional_bool(body, "is_domain", False):
            raise BadRequest("Projects acting as domains are not supported by the test-bed.")
        if parent_id not in (None, domain_id):
            raise BadRequest("Project hierarchies are not supported by the test-bed.")
        created = resources.create_project(
            required_name(body),
            domain_id=domain_id,
            description=optional_str(body, "description", "") or "",
            enabled=bool(optional_bool(body, "enabled", True)),
        )
        return 201, {"project": project_view(created, Urls.of(req.http))}

    @app.route("/v3/projects/<project_id>", ["GET"])
    def show_project(req: ApiRequest, project_id: str) -> Result:
        enforce(req.ctx, "get_project", project_id=project_id)
        project = resources.get_project(project_id)
        return 200, {"project": project_view(project, Urls.of(req.http))}

    @app.route("/v3/projects/<project_id>", ["PATCH"])
    def update_project(req: ApiRequest, project_id: str) -> Result:
        enforce_admin(req.ctx, "update_project")
        body = entity_body(req, "project")
        changes = _changes(body, ("description", "domain_id"), ("enabled",))
        updated = resources.update_project(project_id, changes)
        return 200, {"project": project_view(updated, Urls.of(req.http))}

    @app.route("/v3/projects/<project_id>", ["DELETE"])
    def delete_project(req: ApiRequest, project_id: str) -> Result:
        enforce_admin(req.ctx, "delete_project")
        resources.delete_project(project_id)
        return 204, None


def _register_users(app: JsonApp, manager: IdentityManager) -> None:
    resources = manager.resources

    @app.route("/v3/users", ["GET"])
    def list_users(req: ApiRequest) -> Result:
        enforce_admin(req.ctx, "list_users")
        urls = Urls.of(req.http)
        found = resources.list_users(
            name=req.query.get("name"),
            domain_id=req.query.get("domain_id"),
            enabled=bool_filter(req.query.get("enabled")),
        )
        return 200, collection("users", [user_view(u, urls) for u in found], urls)

    @app.route("/v3/users", ["POST"])
    def create_user(req: ApiRequest) -> Result:
        enforce_admin(req.ctx, "create_user")
        body = entity_body(req, "user")
        created = resources.create_user(
            required_name(body),
            domain_id=optional_str(body, "domain_id", DEFAULT_DOMAIN_ID) or DEFAULT_DOMAIN_ID,
            password=optional_str(body, "password"),
            enabled=bool(optional_bool(body, "enabled", True)),
            default_project_id=optional_str(body, "default_project_id"),
            email=optional_str(body, "email"),
            description=optional_str(body, "description", "") or "",
        )
        return 201, {"user": user_view(created, Urls.of(req.http))}

    @app.route("/v3/users/<user_id>", ["GET"])
    def show_user(req: ApiRequest, user_id: str) -> Result:
        enforce(req.ctx, "get_user", user_id=user_id)
        return 200, {"user": user_view(resources.get_user(user_id), Urls.of(req.http))}

    @app.route("/v3/users/<user_id>", ["PATCH"])
    def update_user(req: ApiRequest, user_id: str) -> Result:
        enforce_admin(req.ctx, "update_user")
        body = entity_body(req, "user")
        strings = ("password", "default_project_id", "email", "description", "domain_id")
        changes = _changes(body, strings, ("enabled",))
        updated = resources.update_user(user_id, changes)
        return 200, {"user": user_view(updated, Urls.of(req.http))}

    @app.route("/v3/users/<user_id>", ["DELETE"])
    def delete_user(req: ApiRequest, user_id: str) -> Result:
        enforce_admin(req.ctx, "delete_user")
        resources.delete_user(user_id)
        return 204, None

    @app.route("/v3/users/<user_id>/password", ["POST"], public=True)
    def change_password(req: ApiRequest, user_id: str) -> Result:
        body = entity_body(req, "user")
        original = optional_str(body, "original_password")
        password = optional_str(body, "password")
        if original is None or password is None:
            raise BadRequest("Both 'original_password' and 'password' are required.")
        resources.change_password(user_id, original, password)
        return 204, None

    @app.route("/v3/users/<user_id>/projects", ["GET"])
    def user_projects(req: ApiRequest, user_id: str) -> Result:
        enforce(req.ctx, "list_user_projects", user_id=user_id)
        urls = Urls.of(req.http)
        projects = manager.assignments.projects_of_user(user_id)
        return 200, collection("projects", [project_view(p, urls) for p in projects], urls)


def _register_roles(app: JsonApp, manager: IdentityManager) -> None:
    resources = manager.resources

    @app.route("/v3/roles", ["GET"])
    def list_roles(req: ApiRequest) -> Result:
        enforce_admin(req.ctx, "list_roles")
        urls = Urls.of(req.http)
        if req.query.get("domain_id"):
            return 200, collection("roles", [], urls)
        found = resources.list_roles(name=req.query.get("name"))
        return 200, collection("roles", [role_view(r, urls) for r in found], urls)

    @app.route("/v3/roles", ["POST"])
    def create_role(req: ApiRequest) -> Result:
        enforce_admin(req.ctx, "create_role")
        body = entity_body(req, "role")
        if body.get("domain_id"):
            raise Forbidden("Domain-specific roles are not supported by the test-bed.")
        created = resources.create_role(
            required_name(body), description=optional_str(body, "description", "") or ""
        )
        return 201, {"role": role_view(created, Urls.of(req.http))}

    @app.route("/v3/roles/<role_id>", ["GET"])
    def show_role(req: ApiRequest, role_id: str) -> Result:
        enforce_admin(req.ctx, "get_role")
        return 200, {"role": role_view(resources.get_role(role_id), Urls.of(req.http))}

    @app.route("/v3/roles/<role_id>", ["PATCH"])
    def update_role(req: ApiRequest, role_id: str) -> Result:
        enforce_admin(req.ctx, "update_role")
        changes = _changes(entity_body(req, "role"), ("description",), ())
        return 200, {"role": role_view(resources.update_role(role_id, changes), Urls.of(req.http))}

    @app.route("/v3/roles/<role_id>", ["DELETE"])
    def delete_role(req: ApiRequest, role_id: str) -> Result:
        enforce_admin(req.ctx, "delete_role")
        resources.delete_role(role_id)
        return 204, None
