"""The request context: who asks, in which project, under which request id.

It travels with every bus message (as a plain dict) so each service acts for the same
user and every trace event can be tied to the request that caused it.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field, fields, replace
from typing import Any

__all__ = ["RequestContext", "current_context", "current_service", "service_scope"]


def _request_id() -> str:
    return f"req-{uuid.uuid4()}"


@dataclass(frozen=True)
class RequestContext:
    """Who is acting: user, project, roles, and the request id every event is traced to."""

    user_id: str | None = None
    project_id: str | None = None
    roles: tuple[str, ...] = ()
    request_id: str = field(default_factory=_request_id)
    global_request_id: str | None = None
    auth_token: str | None = None
    user_name: str | None = None
    project_name: str | None = None

    @property
    def is_admin(self) -> bool:
        """True for holders of the admin role."""
        return "admin" in self.roles

    @classmethod
    def admin(cls, request_id: str | None = None) -> RequestContext:
        """A context for the cloud's own housekeeping (periodic tasks, the HA engine)."""
        return cls(
            user_id="testbed",
            project_id=None,
            roles=("admin",),
            request_id=request_id or _request_id(),
        )

    def elevated(self) -> RequestContext:
        """The same request, with admin rights (for internal look-ups)."""
        roles = self.roles if self.is_admin else (*self.roles, "admin")
        return replace(self, roles=roles)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form for the bus (every message carries one, so the fields are read
        directly: ``dataclasses.asdict`` deep-copies)."""
        data = {name: getattr(self, name) for name in _FIELDS}
        data["roles"] = list(self.roles)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestContext:
        """The inverse of :meth:`to_dict`."""
        values = dict(data)
        values["roles"] = tuple(values.get("roles") or ())
        return cls(**values)


_FIELDS = tuple(f.name for f in fields(RequestContext))

_current = threading.local()


def current_service() -> str:
    """The lifeline name of the service running on this thread ("client" outside)."""
    name: str = getattr(_current, "service", "client")
    return name


def current_context() -> RequestContext | None:
    """The request being served on this thread, if any."""
    ctx: RequestContext | None = getattr(_current, "ctx", None)
    return ctx


class service_scope:
    """Mark the calling thread as serving ``ctx`` inside ``service`` for a ``with`` block."""

    def __init__(self, service: str, ctx: RequestContext | None = None) -> None:
        self._service = service
        self._ctx = ctx
        self._previous: tuple[str, RequestContext | None] = ("client", None)

    def __enter__(self) -> None:
        self._previous = (current_service(), current_context())
        _current.service = self._service
        _current.ctx = self._ctx or self._previous[1]

    def __exit__(self, *exc: object) -> None:
        _current.service, _current.ctx = self._previous
