"""Token authentication for every API of the cloud (what keystonemiddleware does).

:func:`authenticate` reads ``X-Auth-Token``, asks identity over the bus to validate it
and returns the caller's :class:`~testbed.context.RequestContext`.  No token: None (the
API answers 401 unless the route is public).  An invalid, revoked or expired token:
``Unauthorized`` (401, in the calling API's own fault format).
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request

from testbed.context import RequestContext, current_context
from testbed.exceptions import Unauthorized
from testbed.identity.rpcapi import IdentityAPI
from testbed.service import Runtime

__all__ = ["AUTH_TOKEN_HEADER", "authenticate", "context_from_token"]

AUTH_TOKEN_HEADER = "X-Auth-Token"


def context_from_token(summary: dict[str, Any], token: str) -> RequestContext:
    """The context of the holder of a validated token (``IdentityAPI.validate_token``)."""
    return RequestContext(
        user_id=summary["user_id"],
        project_id=summary.get("project_id"),
        roles=tuple(summary.get("roles") or ()),
        auth_token=token,
        user_name=summary.get("user_name"),
        project_name=summary.get("project_name"),
    )


def authenticate(request: Request, runtime: Runtime) -> RequestContext | None:
    """The caller's context from its ``X-Auth-Token``, validated by identity over the bus."""
    token = request.headers.get(AUTH_TOKEN_HEADER)
    if not token:
        return None
    asking = current_context() or RequestContext()
    try:
        summary = IdentityAPI(runtime.bus).validate_token(asking, token)
    except Unauthorized:
        raise Unauthorized("The request you have made requires authentication.") from None
    return context_from_token(summary, token)
