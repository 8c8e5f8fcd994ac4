"""What the compute API's resource modules share: versions, policy, links, times, paging."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from testbed.api.microversions import APIVersion, requested_version
from testbed.exceptions import BadRequest, Forbidden
from testbed.web.app import ApiRequest

__all__ = [
    "at_least",
    "base_url",
    "bookmark_link",
    "iso_micro",
    "iso_seconds",
    "links",
    "next_links",
    "page_params",
    "parse_time",
    "query_flag",
    "require_admin",
    "version_of",
]


# -- versions and policy ---------------------------------------------------------------
def version_of(req: ApiRequest) -> APIVersion:
    """The microversion the request is served at."""
    return requested_version(req)


def at_least(req: ApiRequest, version: str) -> bool:
    """Whether the request's microversion is ``version`` or newer."""
    return requested_version(req) >= APIVersion.parse(version)


def require_admin(req: ApiRequest, rule: str) -> None:
    """Refuse non-admins with Nova's policy message (403)."""
    if not req.ctx.is_admin:
        raise Forbidden(f"Policy doesn't allow {rule} to be performed.")


# -- links --------------------------------------------------------------------------------
def base_url(req: ApiRequest) -> str:
    """The compute endpoint's root, e.g. ``http://cloud/compute`` (no version)."""
    return req.http.host_url.rstrip("/") + req.http.script_root


def links(req: ApiRequest, collection: str, item_id: str | int) -> list[dict[str, str]]:
    """Nova's ``self`` (versioned) and ``bookmark`` (unversioned) links."""
    root = base_url(req)
    return [
        {"rel": "self", "href": f"{root}/v2.1/{collection}/{item_id}"},
        {"rel": "bookmark", "href": f"{root}/{collection}/{item_id}"},
    ]


def bookmark_link(req: ApiRequest, collection: str, item_id: str) -> list[dict[str, str]]:
    """Only the bookmark link (how a server refers to its image and flavor)."""
    return [{"rel": "bookmark", "href": f"{base_url(req)}/{collection}/{item_id}"}]


def next_links(
    req: ApiRequest, path: str, items: list[Any], limit: int | None, last_id: str | None
) -> list[dict[str, str]]:
    """A ``next`` link when a page came back full, as Nova's ``*_links``."""
    if limit is None or len(items) < limit or last_id is None:
        return []
    params = [(k, v) for k, v in req.query.items(multi=True) if k != "marker"]
    params.append(("marker", last_id))
    return [{"rel": "next", "href": f"{base_url(req)}/v2.1/{path}?{urlencode(params)}"}]


# -- times --------------------------------------------------------------------------------
def _utc(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


def iso_seconds(seconds: float | None) -> str | None:
    """``2026-01-01T00:00:00Z`` (server created/updated)."""
    if seconds is None:
        return None
    return _utc(seconds).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_micro(seconds: float | None) -> str | None:
    """``2026-01-01T00:00:00.000000`` (launched_at, actions, migrations, services)."""
    if seconds is None:
        return None
    return _utc(seconds).strftime("%Y-%m-%dT%H:%M:%S.%f")


def parse_time(name: str, text: str) -> float:
    """An ISO 8601 query value as clock seconds (naive times are UTC); 400 otherwise."""
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"Invalid input for query parameters {name}. Value: {text}. "
            f"'{text}' is not a 'date-time'"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()


# -- query parameters --------------------------------------------------------------------
_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off"}


def query_flag(req: ApiRequest, name: str, default: bool = False) -> bool:
    """A boolean query parameter (``all_tenants`` present without a value is true)."""
    if name not in req.query:
        return default
    value = str(req.query.get(name, "")).strip().lower()
    if value == "" or value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise BadRequest(f"Invalid input for query parameters {name}. Value: {value}.")


def page_params(req: ApiRequest) -> tuple[int | None, str | None]:
    """``limit`` (capped at osapi_max_limit) and ``marker`` from the query."""
    marker = req.query.get("marker") or None
    raw = req.query.get("limit")
    if raw is None:
        return None, marker
    try:
        limit = int(raw)
    except ValueError:
        raise BadRequest(
            f"Invalid input for query parameters limit. Value: {raw}. "
            f"'{raw}' does not match '^[0-9]*$'"
        ) from None
    if limit < 0:
        raise BadRequest(
            f"Invalid input for query parameters limit. Value: {raw}. "
            f"{limit} is less than the minimum of 0"
        )
    return min(limit, req.runtime.config.osapi_max_limit), marker
