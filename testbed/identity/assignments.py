"""Role assignments (user + project + role) and implied roles (Keystone's assignment backend).

A user's *effective* roles on a project are the roles granted there plus every role they
imply, transitively (``admin`` -> ``member`` -> ``reader`` once seeded).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from testbed.exceptions import NotFound
from testbed.identity.models import Project, Role, RoleAssignment, RoleImplication, User
from testbed.identity.records import project_dict, role_dict
from testbed.store.db import Store, Transaction, core

__all__ = ["AssignmentManager", "effective_roles"]


_IMPLICATIONS = select(RoleImplication.prior_role_id, RoleImplication.implied_role_id)
_DIRECT_ROLE_IDS = select(RoleAssignment.role_id).where(
    RoleAssignment.user_id == bindparam("user_id"),
    RoleAssignment.project_id == bindparam("project_id"),
)
_ROLE_NAMES = (
    select(Role.id, Role.name)
    .where(Role.id.in_(bindparam("ids", expanding=True)))
    .order_by(Role.name)
)


def _implications(tx: Transaction) -> dict[str, list[str]]:
    graph: dict[str, list[str]] = {}
    for prior, implied in core(tx).execute(_IMPLICATIONS):
        graph.setdefault(prior, []).append(implied)
    return graph


def _expand(graph: dict[str, list[str]], direct: list[str]) -> list[tuple[str, str | None]]:
    """(role id, prior role id or None for a direct grant), each role once."""
    seen: dict[str, str | None] = {role_id: None for role_id in direct}
    stack = list(direct)
    while stack:
        prior = stack.pop()
        for implied in graph.get(prior, ()):
            if implied not in seen:
                seen[implied] = prior
                stack.append(implied)
    return list(seen.items())


def effective_roles(tx: Transaction, user_id: str, project_id: str) -> list[dict[str, Any]]:
    """The roles a user holds on a project, implied ones included, sorted by name."""
    connection = core(tx)
    params = {"user_id": user_id, "project_id": project_id}
    direct = list(connection.scalars(_DIRECT_ROLE_IDS, params))
    if not direct:
        return []
    ids = [role_id for role_id, _prior in _expand(_implications(connection), direct)]
    return [
        {"id": id_, "name": name} for id_, name in connection.execute(_ROLE_NAMES, {"ids": ids})
    ]


class AssignmentManager:
    """Grants of roles to users on projects, and the implications between roles."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def grant(self, project_id: str, user_id: str, role_id: str) -> None:
        """Give ``user`` the role on the project (idempotent); 404 for unknown parts."""
        with self.store.session() as s:
            _check_parts(s, project_id, user_id, role_id)
            if s.get(RoleAssignment, (user_id, project_id, role_id)) is None:
                s.add(RoleAssignment(user_id=user_id, project_id=project_id, role_id=role_id))

    def revoke(self, project_id: str, user_id: str, role_id: str) -> None:
        """Take the role away; 404 if it was not granted."""
        with self.store.session() as s:
            _check_parts(s, project_id, user_id, role_id)
            grant = s.get(RoleAssignment, (user_id, project_id, role_id))
            if grant is None:
                raise _not_granted(project_id, user_id, role_id)
            s.delete(grant)

    def check(self, project_id: str, user_id: str, role_id: str) -> None:
        """Return if the role is granted directly; 404 otherwise."""
        with self.store.session() as s:
            _check_parts(s, project_id, user_id, role_id)
            if s.get(RoleAssignment, (user_id, project_id, role_id)) is None:
                raise _not_granted(project_id, user_id, role_id)

    def roles_of(self, project_id: str, user_id: str) -> list[dict[str, Any]]:
        """The roles granted directly to the user on the project."""
        with self.store.session() as s:
            _check_parts(s, project_id, user_id, None)
            roles = s.scalars(
                select(Role)
                .join(RoleAssignment, RoleAssignment.role_id == Role.id)
                .where(RoleAssignment.user_id == user_id, RoleAssignment.project_id == project_id)
                .order_by(Role.name)
            )
            return [role_dict(r) for r in roles]

    def list_assignments(
        self,
        *,
        user_id: str | None = None,
        project_id: str | None = None,
        role_id: str | None = None,
        effective: bool = False,
    ) -> list[dict[str, Any]]:
        """``{user_id, project_id, role_id, prior_role_id}`` rows; with ``effective``, the
        implied roles too (``prior_role_id`` names the role that implies each)."""
        query = select(RoleAssignment)
        if user_id is not None:
            query = query.where(RoleAssignment.user_id == user_id)
        if project_id is not None:
            query = query.where(RoleAssignment.project_id == project_id)
        if role_id is not None and not effective:
            query = query.where(RoleAssignment.role_id == role_id)
        with self.store.session() as s:
            rows = list(s.scalars(query))
            graph = _implications(s) if effective else {}
        result: list[dict[str, Any]] = []
        for row in rows:
            expanded = _expand(graph, [row.role_id]) if effective else [(row.role_id, None)]
            for rid, prior in expanded:
                if role_id is not None and rid != role_id:
                    continue
                entry = {
                    "user_id": row.user_id,
                    "project_id": row.project_id,
                    "role_id": rid,
                    "prior_role_id": prior,
                }
                if entry not in result:
                    result.append(entry)
        result.sort(key=lambda e: (e["user_id"], e["project_id"], e["role_id"]))
        return result

    def projects_of_user(self, user_id: str, *, enabled_only: bool = False) -> list[dict[str, Any]]:
        """Projects where the user holds any role."""
        with self.store.session() as s:
            if s.get(User, user_id) is None:
                raise NotFound(f"Could not find user: {user_id}.")
            query = (
                select(Project)
                .join(RoleAssignment, RoleAssignment.project_id == Project.id)
                .where(RoleAssignment.user_id == user_id)
                .distinct()
                .order_by(Project.name)
            )
            if enabled_only:
                query = query.where(Project.enabled.is_(True))
            return [project_dict(p) for p in s.scalars(query)]

    def imply(self, prior_role_id: str, implied_role_id: str) -> None:
        """Make one role imply another (idempotent)."""
        with self.store.session() as s:
            for role_id in (prior_role_id, implied_role_id):
                if s.get(Role, role_id) is None:
                    raise NotFound(f"Could not find role: {role_id}.")
            if s.get(RoleImplication, (prior_role_id, implied_role_id)) is None:
                s.add(RoleImplication(prior_role_id=prior_role_id, implied_role_id=implied_role_id))


def _check_parts(s: Session, project_id: str, user_id: str, role_id: str | None) -> None:
    if s.get(Project, project_id) is None:
        raise NotFound(f"Could not find project: {project_id}.")
    if s.get(User, user_id) is None:
        raise NotFound(f"Could not find user: {user_id}.")
    if role_id is not None and s.get(Role, role_id) is None:
        raise NotFound(f"Could not find role: {role_id}.")


def _not_granted(project_id: str, user_id: str, role_id: str) -> NotFound:
    return NotFound(
        f"Could not find role assignment with role: {role_id}, user or group: {user_id}, "
        f"project, domain, or system: {project_id}."
    )
