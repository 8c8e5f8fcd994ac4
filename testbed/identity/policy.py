"""Who may call what in the identity API: Keystone's default policies, simplified.

Holders of the ``admin`` role may do everything.  Others may read themselves, their own
projects and the project their token is scoped to, list their projects, validate and
revoke their own tokens and change their own password.
"""

from __future__ import annotations

from testbed.context import RequestContext
from testbed.exceptions import Forbidden

__all__ = ["enforce", "enforce_admin"]


def _denied(action: str) -> Forbidden:
    return Forbidden(f"You are not authorized to perform the requested action: {action}.")


def enforce_admin(ctx: RequestContext, action: str) -> None:
    """Admin only (``identity:<action>``)."""
    if not ctx.is_admin:
        raise _denied(f"identity:{action}")


def enforce(
    ctx: RequestContext,
    action: str,
    *,
    user_id: str | None = None,
    project_id: str | None = None,
) -> None:
    """Admin, or the subject itself: the caller's own user or the project it is scoped to."""
    if ctx.is_admin:
        return
    if user_id is not None and user_id == ctx.user_id:
        return
    if project_id is not None and project_id == ctx.project_id:
        return
    raise _denied(f"identity:{action}")
