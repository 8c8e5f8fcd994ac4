"""RPC client of the identity service (topic ``identity``)."""

from __future__ import annotations

from typing import Any

from testbed.context import RequestContext
from testbed.rpc import RpcClient


class IdentityAPI(RpcClient):
    """What other services ask of identity."""

    topic = "identity"

    def validate_token(self, ctx: RequestContext, token: str) -> dict[str, Any]:
        """The token's owner: ``{user_id, user_name, project_id, project_name, roles,
        expires_at}``.  Raises ``Unauthorized`` for an unknown, revoked or expired token.

        Also ``user_domain_id``, ``project_domain_id``, ``methods``, ``audit_ids`` and
        ``issued_at``; ``expires_at``/``issued_at`` are Keystone's ISO strings and
        ``expires`` is the expiry in clock seconds.  ``roles`` are names, implied roles
        included (``admin`` implies ``member`` implies ``reader``); ``project_*`` are None
        for an unscoped token."""
        result: dict[str, Any] = self._call(ctx, "validate_token", token=token)
        return result

    def get_project(self, ctx: RequestContext, project_id: str) -> dict[str, Any]:
        """``{id, name, domain_id, description, enabled}``; ``NotFound`` if missing."""
        result: dict[str, Any] = self._call(ctx, "get_project", project_id=project_id)
        return result

    def find_project(
        self, ctx: RequestContext, name: str, domain_id: str = "default"
    ) -> dict[str, Any]:
        """The project called ``name`` in the domain; ``NotFound`` if there is none."""
        result: dict[str, Any] = self._call(ctx, "find_project", name=name, domain_id=domain_id)
        return result

    def get_user(self, ctx: RequestContext, user_id: str) -> dict[str, Any]:
        """``{id, name, domain_id, enabled, default_project_id, email, description}``;
        ``NotFound`` if the user does not exist."""
        result: dict[str, Any] = self._call(ctx, "get_user", user_id=user_id)
        return result
