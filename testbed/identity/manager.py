"""The identity service's RPC endpoint, and the managers its HTTP API uses in-process.

Other services reach identity only over the bus (:class:`testbed.identity.rpcapi.IdentityAPI`);
the identity HTTP API is the same process as the service in Keystone, so it calls the
managers directly instead of sending itself messages.
"""

from __future__ import annotations

from typing import Any

from testbed.context import RequestContext
from testbed.exceptions import NotFound
from testbed.identity.assignments import AssignmentManager
from testbed.identity.records import isotime
from testbed.identity.resources import DEFAULT_DOMAIN_ID, ResourceManager
from testbed.identity.tokens import TokenManager
from testbed.service import Runtime

__all__ = ["IdentityManager", "token_summary"]


def token_summary(data: dict[str, Any]) -> dict[str, Any]:
    """What other services need of a validated token (see ``IdentityAPI.validate_token``)."""
    project = data.get("project") or {}
    return {
        "user_id": data["user"]["id"],
        "user_name": data["user"]["name"],
        "user_domain_id": data["user"]["domain"]["id"],
        "project_id": project.get("id"),
        "project_name": project.get("name"),
        "project_domain_id": (project.get("domain") or {}).get("id"),
        "roles": [role["name"] for role in data["roles"]],
        "methods": list(data["methods"]),
        "audit_ids": list(data["audit_ids"]),
        "issued_at": isotime(data["issued_at"]),
        "expires_at": isotime(data["expires_at"]),
        "expires": data["expires_at"],
    }


class IdentityManager:
    """RPC methods of topic ``identity``; ``resources``, ``assignments`` and ``tokens`` are
    the managers behind them (also used by the identity HTTP API)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.resources = ResourceManager(runtime.store)
        self.assignments = AssignmentManager(runtime.store)
        self.tokens = TokenManager(
            runtime.store, runtime.clock, lifetime=runtime.config.token_expiration
        )

    def validate_token(self, ctx: RequestContext, token: str) -> dict[str, Any]:
        """The token's owner, scope and roles; ``Unauthorized`` if it is not valid."""
        return token_summary(self.tokens.validate(token))

    def get_project(self, ctx: RequestContext, project_id: str) -> dict[str, Any]:
        """``{id, name, domain_id, description, enabled}``; ``NotFound`` if missing."""
        return self.resources.get_project(project_id)

    def find_project(
        self, ctx: RequestContext, name: str, domain_id: str = DEFAULT_DOMAIN_ID
    ) -> dict[str, Any]:
        """The project of that name in the domain; ``NotFound`` if there is none."""
        found = self.resources.list_projects(name=name, domain_id=domain_id)
        if not found:
            raise NotFound(f"Could not find project: {name}.")
        return found[0]

    def get_user(self, ctx: RequestContext, user_id: str) -> dict[str, Any]:
        """``{id, name, domain_id, enabled, default_project_id, email, description}``."""
        return self.resources.get_user(user_id)
