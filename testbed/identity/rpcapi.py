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
        expires_at}``.  Raises ``Unauthorized`` for an unknown, revoked or expired token."""
        result: dict[str, Any] = self._call(ctx, "validate_token", token=token)
        return result

    def get_project(self, ctx: RequestContext, project_id: str) -> dict[str, Any]:
        """``{id, name, domain_id, enabled}``; ``NotFound`` if it does not exist."""
        result: dict[str, Any] = self._call(ctx, "get_project", project_id=project_id)
        return result
