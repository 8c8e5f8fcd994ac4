"""Seed the identity data a fresh cloud needs, as ``keystone-manage bootstrap`` and devstack do.

Always present: domain ``default`` ("Default"); roles ``admin``, ``member``, ``reader``
(admin implies member, member implies reader); projects ``admin`` and ``demo``; users
``admin`` (password ``admin``, role admin on project admin) and ``demo`` (password
``demo``, role member on project demo).  A topology's ``identity`` section adds more::

    identity:
      roles: [observer]                       # extra role names
      projects: [{id: <optional>, name: alt}]
      users: [{id: <optional>, name: bob, password: pw, project: alt, role: member}]

``project`` is a project name (or id) in the default domain and becomes the user's default
project; ``role`` is a role name or a list of them.  Seeding is idempotent: what exists is
kept (a user's password is reset only if it differs), what is missing is added.  Seeded
entities get ids derived from their names, so the same topology yields the same ids.
Seeding ends with a new identity revision, so nothing validated before it is reused.
"""

from __future__ import annotations

import uuid
from typing import Any

from testbed.exceptions import BadRequest, NotFound
from testbed.identity.assignments import AssignmentManager
from testbed.identity.models import User
from testbed.identity.resources import DEFAULT_DOMAIN_ID, ResourceManager
from testbed.identity.revision import bump_revision
from testbed.identity.security import verify_password
from testbed.service import Runtime

__all__ = ["DEFAULT_ROLES", "DEFAULT_USERS", "project_ids_by_name", "seed_identity", "seeded_id"]

_NAMESPACE = uuid.UUID("6f0d3c3e-5d2b-4c4e-9a55-6e6f76612d74")

DEFAULT_ROLES = ("admin", "member", "reader")
_IMPLICATIONS = (("admin", "member"), ("member", "reader"))
_DEFAULT_PROJECTS: tuple[dict[str, Any], ...] = ({"name": "admin"}, {"name": "demo"})
DEFAULT_USERS: tuple[dict[str, Any], ...] = (
    {"name": "admin", "password": "admin", "project": "admin", "role": "admin"},
    {"name": "demo", "password": "demo", "project": "demo", "role": "member"},
)


def seeded_id(kind: str, name: str) -> str:
    """The id a seeded entity gets: stable for a given kind and name."""
    return uuid.uuid5(_NAMESPACE, f"{kind}:{name}").hex


def seed_identity(runtime: Runtime, spec: dict[str, Any] | None = None) -> None:
    """Create the default identity data plus what ``spec`` (a topology's ``identity``
    section) lists; safe to call again."""
    spec = spec or {}
    resources = ResourceManager(runtime.store)
    assignments = AssignmentManager(runtime.store)
    _ensure_domain(resources)
    roles = {name: _ensure_role(resources, name) for name in DEFAULT_ROLES}
    for name in _names(spec.get("roles") or [], "roles"):
        roles[name] = _ensure_role(resources, name)
    for prior, implied in _IMPLICATIONS:
        assignments.imply(roles[prior], roles[implied])
    for project in [*_DEFAULT_PROJECTS, *_entries(spec.get("projects") or [], "projects")]:
        _ensure_project(resources, project)
    for user in [*DEFAULT_USERS, *_entries(spec.get("users") or [], "users")]:
        _ensure_user(runtime, resources, assignments, user)
    bump_revision(runtime.store)


def project_ids_by_name(runtime: Runtime) -> dict[str, str]:
    """Projects of the default domain, name -> id (to resolve ``project: <name>`` in the
    other sections of a topology)."""
    projects = ResourceManager(runtime.store).list_projects(domain_id=DEFAULT_DOMAIN_ID)
    return {str(p["name"]): str(p["id"]) for p in projects}


def _names(value: Any, section: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRequest(f"identity.{section} must be a name or a list of names, not {value!r}")
    return list(value)


def _entries(value: Any, section: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(
        isinstance(v, dict) and isinstance(v.get("name"), str) for v in value
    ):
        raise BadRequest(f"identity.{section} must be a list of mappings with a name")
    return list(value)


def _ensure_domain(resources: ResourceManager) -> None:
    try:
        resources.get_domain(DEFAULT_DOMAIN_ID)
    except NotFound:
        resources.create_domain(
            "Default",
            description="The default domain",
            domain_id=DEFAULT_DOMAIN_ID,
        )


def _ensure_role(resources: ResourceManager, name: str) -> str:
    found = resources.list_roles(name=name)
    if found:
        return str(found[0]["id"])
    return str(resources.create_role(name, role_id=seeded_id("role", name))["id"])


def _project_id(resources: ResourceManager, ref: str) -> str:
    found = resources.list_projects(name=ref, domain_id=DEFAULT_DOMAIN_ID)
    if found:
        return str(found[0]["id"])
    return str(resources.get_project(ref)["id"])


def _ensure_project(resources: ResourceManager, project: dict[str, Any]) -> str:
    name = project["name"]
    found = resources.list_projects(name=name, domain_id=DEFAULT_DOMAIN_ID)
    if found:
        return str(found[0]["id"])
    created = resources.create_project(
        name,
        description=str(project.get("description", "")),
        project_id=str(project.get("id") or seeded_id("project", name)),
    )
    return str(created["id"])


def _ensure_user(
    runtime: Runtime,
    resources: ResourceManager,
    assignments: AssignmentManager,
    user: dict[str, Any],
) -> None:
    name = user["name"]
    project_ref = user.get("project")
    project_id = _project_id(resources, str(project_ref)) if project_ref else None
    password = user.get("password")
    if password is not None and not isinstance(password, str):
        password = str(password)
    found = resources.list_users(name=name, domain_id=DEFAULT_DOMAIN_ID)
    if found:
        user_id = str(found[0]["id"])
        changes: dict[str, Any] = {}
        if password is not None and not _password_matches(runtime, user_id, password):
            changes["password"] = password
        if project_id and found[0]["default_project_id"] != project_id:
            changes["default_project_id"] = project_id
        if changes:
            resources.update_user(user_id, changes)
    else:
        user_id = str(
            resources.create_user(
                name,
                password=password,
                default_project_id=project_id,
                email=user.get("email"),
                user_id=str(user.get("id") or seeded_id("user", name)),
            )["id"]
        )
    if project_id is None:
        return
    for role_name in _names(user.get("role") or user.get("roles") or "member", "users.role"):
        role_id = _ensure_role(resources, role_name)
        assignments.grant(project_id, user_id, role_id)


def _password_matches(runtime: Runtime, user_id: str, password: str) -> bool:
    with runtime.store.session() as s:
        row = s.get(User, user_id)
        return row is not None and verify_password(password, row.password_hash)
