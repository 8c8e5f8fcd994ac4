"""Identity entities as plain JSON-safe dicts (what managers return and the bus carries)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from testbed.identity.models import Domain, Project, Role, User

__all__ = ["domain_dict", "isotime", "project_dict", "role_dict", "user_dict"]


def domain_dict(d: Domain) -> dict[str, Any]:
    """A domain as plain data."""
    return {"id": d.id, "name": d.name, "description": d.description, "enabled": d.enabled}


def project_dict(p: Project) -> dict[str, Any]:
    """A project as plain data."""
    return {
        "id": p.id,
        "name": p.name,
        "domain_id": p.domain_id,
        "description": p.description,
        "enabled": p.enabled,
    }


def user_dict(u: User) -> dict[str, Any]:
    """A user as plain data (never the password)."""
    return {
        "id": u.id,
        "name": u.name,
        "domain_id": u.domain_id,
        "enabled": u.enabled,
        "default_project_id": u.default_project_id,
        "email": u.email,
        "description": u.description,
    }


def role_dict(r: Role) -> dict[str, Any]:
    """A role as plain data."""
    return {"id": r.id, "name": r.name, "description": r.description}


def isotime(seconds: float) -> str:
    """Keystone's timestamp format: ``2026-01-01T01:00:00.000000Z`` (UTC)."""
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
