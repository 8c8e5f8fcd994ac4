"""Domains, projects, users and roles in the store (Keystone's resource and identity backends).

Every method takes and returns plain JSON-safe dicts; errors are ``CloudError``s with
Keystone's wording.  Policy (who may call what) is the API's business, not this module's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from testbed.exceptions import BadRequest, Conflict, Forbidden, NotFound
from testbed.identity.models import Domain, Project, Role, RoleAssignment, RoleImplication, User
from testbed.identity.records import domain_dict, project_dict, role_dict, user_dict
from testbed.identity.security import hash_password, new_id, verify_password
from testbed.identity.tokens import revoke_tokens_of_user
from testbed.store.db import Store

__all__ = ["DEFAULT_DOMAIN_ID", "ResourceManager"]

T = TypeVar("T")

DEFAULT_DOMAIN_ID = "default"


def _conflict(kind: str, details: str) -> Conflict:
    return Conflict(f"Conflict occurred attempting to store {kind} - {details}.")


class ResourceManager:
    """CRUD of domains, projects, users and roles."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _write(self, kind: str, details: str, fn: Callable[[Session], T]) -> T:
        """Run a write; a unique-constraint race still ends as Keystone's 409."""
        try:
            with self.store.session() as s:
                return fn(s)
        except IntegrityError as exc:
            raise _conflict(kind, details) from exc

    # -- domains --------------------------------------------------------------------------
    def create_domain(
        self,
        name: str,
        *,
        description: str = "",
        enabled: bool = True,
        domain_id: str | None = None,
    ) -> dict[str, Any]:
        """A new domain; 409 if the name or id is taken."""

        def write(s: Session) -> dict[str, Any]:
            if s.scalar(select(Domain).where(Domain.name == name)) is not None:
                raise _conflict("domain", f"Duplicate entry found with name {name}")
            if domain_id and s.get(Domain, domain_id) is not None:
                raise _conflict("domain", f"Duplicate entry found with ID {domain_id}")
            d = Domain(
                id=domain_id or new_id(), name=name, description=description, enabled=enabled
            )
            s.add(d)
            s.flush()
            return domain_dict(d)

        return self._write("domain", f"Duplicate entry found with name {name}", write)

    def get_domain(self, domain_id: str) -> dict[str, Any]:
        """One domain; 404 if it does not exist."""
        with self.store.session() as s:
            return domain_dict(_domain(s, domain_id))

    def list_domains(
        self, *, name: str | None = None, enabled: bool | None = None
    ) -> list[dict[str, Any]]:
        """Domains, optionally filtered."""
        query = select(Domain).order_by(Domain.name)
        if name is not None:
            query = query.where(Domain.name == name)
        if enabled is not None:
            query = query.where(Domain.enabled == enabled)
        with self.store.session() as s:
            return [domain_dict(d) for d in s.scalars(query)]

    def update_domain(self, domain_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Change name, description or enabled."""

        def write(s: Session) -> dict[str, Any]:
            d = _domain(s, domain_id)
            name = changes.get("name")
            if name is not None and name != d.name:
                if s.scalar(select(Domain).where(Domain.name == name)) is not None:
                    raise _conflict("domain", f"Duplicate entry found with name {name}")
                d.name = name
            _apply(d, changes, ("description", "enabled"))
            s.flush()
            return domain_dict(d)

        return self._write("domain", "Duplicate entry", write)

    def delete_domain(self, domain_id: str) -> None:
        """Delete a disabled domain with everything in it (403 while it is enabled)."""
        with self.store.session() as s:
            d = _domain(s, domain_id)
            if d.enabled:
                raise Forbidden("Cannot delete a domain that is enabled, please disable it first.")
            project_ids = list(s.scalars(select(Project.id).where(Project.domain_id == domain_id)))
            user_ids = list(s.scalars(select(User.id).where(User.domain_id == domain_id)))
            s.execute(delete(RoleAssignment).where(RoleAssignment.project_id.in_(project_ids)))
            s.execute(delete(RoleAssignment).where(RoleAssignment.user_id.in_(user_ids)))
            s.execute(delete(Project).where(Project.domain_id == domain_id))
            s.execute(delete(User).where(User.domain_id == domain_id))
            s.delete(d)
        for user_id in user_ids:
            revoke_tokens_of_user(self.store, user_id)

    # -- projects -------------------------------------------------------------------------
    def create_project(
        self,
        name: str,
        *,
        domain_id: str = DEFAULT_DOMAIN_ID,
        description: str = "",
        enabled: bool = True,
        project_id: str | None = None,
    ) -> dict[str, Any]:
        """A new project; 409 if its domain already has one of that name."""
        details = (
            "it is not permitted to have two projects with the same name in the same "
            f"domain : {name}"
        )

        def write(s: Session) -> dict[str, Any]:
            _domain(s, domain_id, status=BadRequest)
            same = select(Project).where(Project.domain_id == domain_id, Project.name == name)
            if s.scalar(same) is not None:
                raise _conflict("project", details)
            if project_id and s.get(Project, project_id) is not None:
                raise _conflict("project", f"Duplicate ID, {project_id}")
            p = Project(
                id=project_id or new_id(),
                name=name,
                domain_id=domain_id,
                description=description,
                enabled=enabled,
            )
            s.add(p)
            s.flush()
            return project_dict(p)

        return self._write("project", details, write)

    def get_project(self, project_id: str) -> dict[str, Any]:
        """One project; 404 if it does not exist."""
        with self.store.session() as s:
            return project_dict(_project(s, project_id))

    def list_projects(
        self,
        *,
        name: str | None = None,
        domain_id: str | None = None,
        enabled: bool | None = None,
        ids: list[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Projects, optionally filtered."""
        query = select(Project).order_by(Project.name)
        if name is not None:
            query = query.where(Project.name == name)
        if domain_id is not None:
            query = query.where(Project.domain_id == domain_id)
        if enabled is not None:
            query = query.where(Project.enabled == enabled)
        if ids is not None:
            query = query.where(Project.id.in_(ids))
        with self.store.session() as s:
            return [project_dict(p) for p in s.scalars(query)]

    def update_project(self, project_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Change name, description or enabled (the domain cannot change)."""

        def write(s: Session) -> dict[str, Any]:
            p = _project(s, project_id)
            domain = changes.get("domain_id")
            if domain is not None and domain != p.domain_id:
                raise BadRequest("Update of `domain_id` is not allowed.")
            name = changes.get("name")
            if name is not None and name != p.name:
                same = select(Project).where(Project.domain_id == p.domain_id, Project.name == name)
                if s.scalar(same) is not None:
                    raise _conflict("project", f"Duplicate entry found with name {name}")
                p.name = name
            _apply(p, changes, ("description", "enabled"))
            s.flush()
            return project_dict(p)

        return self._write("project", "Duplicate entry", write)

    def delete_project(self, project_id: str) -> None:
        """Delete a project and every grant on it."""
        with self.store.session() as s:
            p = _project(s, project_id)
            s.execute(delete(RoleAssignment).where(RoleAssignment.project_id == project_id))
            s.delete(p)

    # -- users ----------------------------------------------------------------------------
    def create_user(
        self,
        name: str,
        *,
        domain_id: str = DEFAULT_DOMAIN_ID,
        password: str | None = None,
        enabled: bool = True,
        default_project_id: str | None = None,
        email: str | None = None,
        description: str = "",
        user_id: str | None = None,
    ) -> dict[str, Any]:
        """A new user; 409 if its domain already has one of that name."""

        def write(s: Session) -> dict[str, Any]:
            _domain(s, domain_id, status=BadRequest)
            same = select(User).where(User.domain_id == domain_id, User.name == name)
            if s.scalar(same) is not None:
                raise _conflict(
                    "user", f"Duplicate entry found with name {name} at domain ID {domain_id}"
                )
            if user_id and s.get(User, user_id) is not None:
                raise _conflict("user", f"Duplicate ID, {user_id}")
            u = User(
                id=user_id or new_id(),
                name=name,
                domain_id=domain_id,
                password_hash=hash_password(password) if password is not None else None,
                enabled=enabled,
                default_project_id=default_project_id,
                email=email,
                description=description,
            )
            s.add(u)
            s.flush()
            return user_dict(u)

        return self._write("user", f"Duplicate entry found with name {name}", write)

    def get_user(self, user_id: str) -> dict[str, Any]:
        """One user; 404 if it does not exist."""
        with self.store.session() as s:
            return user_dict(_user(s, user_id))

    def list_users(
        self,
        *,
        name: str | None = None,
        domain_id: str | None = None,
        enabled: bool | None = None,
    ) -> list[dict[str, Any]]:
        """Users, optionally filtered."""
        query = select(User).order_by(User.name)
        if name is not None:
            query = query.where(User.name == name)
        if domain_id is not None:
            query = query.where(User.domain_id == domain_id)
        if enabled is not None:
            query = query.where(User.enabled == enabled)
        with self.store.session() as s:
            return [user_dict(u) for u in s.scalars(query)]

    def update_user(self, user_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Change name, password, enabled, default project, email or description.

        A new password or disabling the user revokes the user's tokens (as Keystone does).
        """
        revoke = False

        def write(s: Session) -> dict[str, Any]:
            nonlocal revoke
            u = _user(s, user_id)
            domain = changes.get("domain_id")
            if domain is not None and domain != u.domain_id:
                raise BadRequest("Update of `domain_id` is not allowed.")
            name = changes.get("name")
            if name is not None and name != u.name:
                same = select(User).where(User.domain_id == u.domain_id, User.name == name)
                if s.scalar(same) is not None:
                    raise _conflict("user", f"Duplicate entry found with name {name}")
                u.name = name
            if "password" in changes:
                password = changes["password"]
                u.password_hash = hash_password(password) if password is not None else None
                revoke = True
            if changes.get("enabled") is False and u.enabled:
                revoke = True
            _apply(u, changes, ("enabled", "default_project_id", "email", "description"))
            s.flush()
            return user_dict(u)

        result = self._write("user", "Duplicate entry", write)
        if revoke:
            revoke_tokens_of_user(self.store, user_id)
        return result

    def change_password(self, user_id: str, original: str, password: str) -> None:
        """A user's own password change: 401 if ``original`` is wrong."""
        from testbed.exceptions import Unauthorized

        with self.store.session() as s:
            u = _user(s, user_id)
            if not verify_password(original, u.password_hash):
                raise Unauthorized("The request you have made requires authentication.")
            u.password_hash = hash_password(password)
        revoke_tokens_of_user(self.store, user_id)

    def delete_user(self, user_id: str) -> None:
        """Delete a user, its grants and its tokens."""
        with self.store.session() as s:
            u = _user(s, user_id)
            s.execute(delete(RoleAssignment).where(RoleAssignment.user_id == user_id))
            s.delete(u)
        revoke_tokens_of_user(self.store, user_id)

    # -- roles ----------------------------------------------------------------------------
    def create_role(
        self, name: str, *, description: str = "", role_id: str | None = None
    ) -> dict[str, Any]:
        """A new role; 409 if the name is taken."""
        details = f"Duplicate entry found with name {name}"

        def write(s: Session) -> dict[str, Any]:
            if s.scalar(select(Role).where(Role.name == name)) is not None:
                raise _conflict("role", details)
            if role_id and s.get(Role, role_id) is not None:
                raise _conflict("role", f"Duplicate ID, {role_id}")
            r = Role(id=role_id or new_id(), name=name, description=description)
            s.add(r)
            s.flush()
            return role_dict(r)

        return self._write("role", details, write)

    def get_role(self, role_id: str) -> dict[str, Any]:
        """One role; 404 if it does not exist."""
        with self.store.session() as s:
            return role_dict(_role(s, role_id))

    def list_roles(self, *, name: str | None = None) -> list[dict[str, Any]]:
        """Roles, optionally filtered by name."""
        query = select(Role).order_by(Role.name)
        if name is not None:
            query = query.where(Role.name == name)
        with self.store.session() as s:
            return [role_dict(r) for r in s.scalars(query)]

    def update_role(self, role_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Change a role's name or description."""

        def write(s: Session) -> dict[str, Any]:
            r = _role(s, role_id)
            name = changes.get("name")
            if name is not None and name != r.name:
                if s.scalar(select(Role).where(Role.name == name)) is not None:
                    raise _conflict("role", f"Duplicate entry found with name {name}")
                r.name = name
            _apply(r, changes, ("description",))
            s.flush()
            return role_dict(r)

        return self._write("role", "Duplicate entry", write)

    def delete_role(self, role_id: str) -> None:
        """Delete a role, its grants and its implications."""
        with self.store.session() as s:
            r = _role(s, role_id)
            s.execute(delete(RoleAssignment).where(RoleAssignment.role_id == role_id))
            s.execute(
                delete(RoleImplication).where(
                    (RoleImplication.prior_role_id == role_id)
                    | (RoleImplication.implied_role_id == role_id)
                )
            )
            s.delete(r)


def _apply(obj: object, changes: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        if name in changes:
            setattr(obj, name, changes[name])


def _domain(s: Session, domain_id: str, *, status: type[Exception] = NotFound) -> Domain:
    d = s.get(Domain, domain_id)
    if d is None:
        raise status(f"Could not find domain: {domain_id}.")
    return d


def _project(s: Session, project_id: str) -> Project:
    p = s.get(Project, project_id)
    if p is None:
        raise NotFound(f"Could not find project: {project_id}.")
    return p


def _user(s: Session, user_id: str) -> User:
    u = s.get(User, user_id)
    if u is None:
        raise NotFound(f"Could not find user: {user_id}.")
    return u


def _role(s: Session, role_id: str) -> Role:
    r = s.get(Role, role_id)
    if r is None:
        raise NotFound(f"Could not find role: {role_id}.")
    return r
