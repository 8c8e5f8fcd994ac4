"""The errors services raise, and how they travel over the bus and out of the API.

Each error carries the HTTP status the API answers with; its class name is how the bus
re-raises it on the caller's side (only classes registered here travel; anything else
arrives as :class:`RemoteError`).  Messages follow Nova's wording where Nova has one.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "BadRequest",
    "CloudError",
    "Conflict",
    "Forbidden",
    "InstanceInvalidState",
    "MessagingTimeout",
    "NoValidHost",
    "NotFound",
    "QuotaExceeded",
    "RemoteError",
    "Unauthorized",
    "error_from_dict",
    "registered_errors",
]

_REGISTRY: dict[str, type[CloudError]] = {}


class CloudError(Exception):
    """Base of every error a service raises on purpose.  ``code`` is the HTTP status."""

    code: ClassVar[int] = 500
    msg_fmt: ClassVar[str] = "An unknown error occurred."

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        self.kwargs = kwargs
        if message is None:
            try:
                message = self.msg_fmt % kwargs if kwargs else self.msg_fmt
            except (KeyError, TypeError):
                message = self.msg_fmt
        self.message = message
        super().__init__(message)

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        _REGISTRY[_qualified(cls)] = cls

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form for the bus (the class travels by its qualified name)."""
        return {"class": _qualified(type(self)), "message": self.message, "code": self.code}


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def registered_errors() -> dict[str, type[CloudError]]:
    """Every error class that can travel over the bus, by qualified name."""
    return dict(_REGISTRY)


class RemoteError(CloudError):
    """An unexpected error in another service, re-raised on the caller's side."""

    code = 500


def error_from_dict(data: dict[str, Any]) -> CloudError:
    """Rebuild an error sent over the bus; unknown classes become :class:`RemoteError`."""
    name = str(data.get("class"))
    cls = _REGISTRY.get(name)
    message = str(data.get("message", ""))
    if cls is None:
        return RemoteError(f"{name.rpartition('.')[2]}: {message}")
    err = cls.__new__(cls)
    CloudError.__init__(err, message)
    return err


class BadRequest(CloudError):
    """The request is malformed or invalid (400)."""

    code = 400
    msg_fmt = "Invalid input received."


class Unauthorized(CloudError):
    """No valid token (401)."""

    code = 401
    msg_fmt = "The request you have made requires authentication."


class Forbidden(CloudError):
    """The caller may not do this (403)."""

    code = 403
    msg_fmt = "Policy doesn't allow this operation to be performed."


class NotFound(CloudError):
    """The resource does not exist or is not visible to the caller (404)."""

    code = 404
    msg_fmt = "Resource could not be found."


class Conflict(CloudError):
    """The request conflicts with the resource's current state (409)."""

    code = 409
    msg_fmt = "There was a conflict when trying to complete your request."


class InstanceInvalidState(Conflict):
    """An action asked of an instance in the wrong state (409, Nova's wording)."""

    msg_fmt = "Cannot '%(action)s' instance %(uuid)s while it is in %(attr)s %(state)s"


class QuotaExceeded(CloudError):
    """Over quota (403, as Nova answers for instance quota)."""

    code = 403
    msg_fmt = "Quota exceeded for %(resource)s."


class NoValidHost(CloudError):
    """The scheduler found no host for the request."""

    code = 400
    msg_fmt = "No valid host was found. %(reason)s"


class MessagingTimeout(CloudError):
    """An RPC call got no answer in time."""

    code = 504
    msg_fmt = "Timed out waiting for a reply to %(topic)s.%(method)s after %(timeout)s s"
