"""Request-body and query checks for the identity API, with Keystone-style 400 messages."""

from __future__ import annotations

from typing import Any

from testbed.exceptions import BadRequest
from testbed.web.app import ApiRequest

__all__ = ["bool_filter", "entity_body", "optional_bool", "optional_str", "required_name"]

_MAX_NAME = 255


def _invalid(field: str, value: Any, reason: str) -> BadRequest:
    return BadRequest(f"Invalid input for field '{field}': {value!r} {reason}")


def entity_body(req: ApiRequest, key: str) -> dict[str, Any]:
    """``body[key]`` as a dict (``{"project": {...}}``)."""
    body = req.json()
    if not isinstance(body, dict) or key not in body:
        raise BadRequest(
            f"Expecting to find {key} in request body. The server could not comply with the "
            "request since it is either malformed or otherwise incorrect. The client is "
            "assumed to be in error."
        )
    value = body[key]
    if not isinstance(value, dict):
        raise _invalid(key, value, "is not of type 'object'")
    return value


def required_name(entity: dict[str, Any], field: str = "name") -> str:
    """A non-empty string of at most 255 characters."""
    if field not in entity:
        raise BadRequest(f"Invalid input for field '{field}': '{field}' is a required property")
    return _checked_str(entity[field], field, allow_empty=False)


def optional_str(entity: dict[str, Any], field: str, default: str | None = None) -> str | None:
    """A string (or null) if present."""
    if field not in entity or entity[field] is None:
        return default
    return _checked_str(entity[field], field, allow_empty=True)


def optional_bool(entity: dict[str, Any], field: str, default: bool | None = None) -> bool | None:
    """A boolean if present."""
    if field not in entity:
        return default
    value = entity[field]
    if not isinstance(value, bool):
        raise _invalid(field, value, "is not of type 'boolean'")
    return value


def bool_filter(value: str | None) -> bool | None:
    """A query filter such as ``?enabled=false`` (Keystone: "0"/"false" are false)."""
    if value is None:
        return None
    return value.strip().lower() not in ("0", "false", "no", "off")


def _checked_str(value: Any, field: str, *, allow_empty: bool) -> str:
    if not isinstance(value, str):
        raise _invalid(field, value, "is not of type 'string'")
    if not allow_empty and not value.strip():
        raise _invalid(field, value, "is too short")
    if len(value) > _MAX_NAME and field in ("name", "password"):
        raise _invalid(field, value[:20] + "...", f"is too long (more than {_MAX_NAME})")
    return value
