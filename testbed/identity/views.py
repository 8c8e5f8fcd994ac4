"""Keystone's JSON shapes: entities with their links, collections, tokens, assignments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request

from testbed.identity.catalog import build_catalog
from testbed.identity.records import isotime

__all__ = [
    "MOUNT",
    "Urls",
    "assignment_view",
    "collection",
    "domain_view",
    "project_view",
    "role_view",
    "token_view",
    "user_view",
]

MOUNT = "/identity"


@dataclass(frozen=True)
class Urls:
    """Absolute URLs of one request: where identity answers, the cloud's base, the request."""

    identity: str
    cloud: str
    request: str

    @classmethod
    def of(cls, http: Request) -> Urls:
        """From the request's host and script root (the prefix the app is mounted at)."""
        host = http.host_url.rstrip("/")
        root = http.script_root.rstrip("/")
        cloud_root = root[: -len(MOUNT)] if root.endswith(MOUNT) else root
        return cls(identity=host + root, cloud=host + cloud_root, request=http.url)

    @property
    def v3(self) -> str:
        """``…/identity/v3``."""
        return self.identity + "/v3"

    def catalog(self) -> list[dict[str, Any]]:
        """The service catalog as seen from this request."""
        return build_catalog(self.cloud, identity_url=self.identity)


def _self_link(urls: Urls, collection_name: str, entity_id: str) -> dict[str, str]:
    return {"self": f"{urls.v3}/{collection_name}/{entity_id}"}


def collection(key: str, items: list[dict[str, Any]], urls: Urls) -> dict[str, Any]:
    """``{key: items, links: {self, previous, next}}``."""
    return {key: items, "links": {"self": urls.request, "previous": None, "next": None}}


def domain_view(d: dict[str, Any], urls: Urls) -> dict[str, Any]:
    """A domain as Keystone shows it."""
    return {**d, "tags": [], "options": {}, "links": _self_link(urls, "domains", d["id"])}


def project_view(p: dict[str, Any], urls: Urls) -> dict[str, Any]:
    """A project as Keystone shows it (top-level: its parent is its domain)."""
    return {
        **p,
        "parent_id": p["domain_id"],
        "is_domain": False,
        "tags": [],
        "options": {},
        "links": _self_link(urls, "projects", p["id"]),
    }


def user_view(u: dict[str, Any], urls: Urls) -> dict[str, Any]:
    """A user as Keystone shows it: optional attributes only when set, never a password."""
    view: dict[str, Any] = {
        "id": u["id"],
        "name": u["name"],
        "domain_id": u["domain_id"],
        "enabled": u["enabled"],
        "password_expires_at": None,
        "options": {},
        "links": _self_link(urls, "users", u["id"]),
    }
    for optional in ("default_project_id", "email", "description"):
        if u.get(optional):
            view[optional] = u[optional]
    return view


def role_view(r: dict[str, Any], urls: Urls) -> dict[str, Any]:
    """A (global) role as Keystone shows it."""
    return {
        "id": r["id"],
        "name": r["name"],
        "domain_id": None,
        "description": r.get("description") or None,
        "options": {},
        "links": _self_link(urls, "roles", r["id"]),
    }


def token_view(data: dict[str, Any], urls: Urls, *, catalog: bool = True) -> dict[str, Any]:
    """The body of ``POST``/``GET /v3/auth/tokens``."""
    token: dict[str, Any] = {
        "methods": data["methods"],
        "user": data["user"],
        "audit_ids": data["audit_ids"],
        "expires_at": isotime(data["expires_at"]),
        "issued_at": isotime(data["issued_at"]),
    }
    if data["project"] is not None:
        token["project"] = data["project"]
        token["is_domain"] = False
        token["roles"] = data["roles"]
        if catalog:
            token["catalog"] = urls.catalog()
    return {"token": token}


def assignment_view(
    a: dict[str, Any], urls: Urls, names: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """One entry of ``GET /v3/role_assignments``; ``names`` (ids to entities, with
    ``domain`` filled in) adds names as ``include_names`` asks."""
    names = names or {}
    prior = a.get("prior_role_id")
    granted = prior or a["role_id"]
    links: dict[str, str] = {
        "assignment": (f"{urls.v3}/projects/{a['project_id']}/users/{a['user_id']}/roles/{granted}")
    }
    if prior:
        links["prior_role"] = f"{urls.v3}/roles/{prior}"
    return {
        "role": _named(a["role_id"], names, with_domain=False),
        "user": _named(a["user_id"], names, with_domain=True),
        "scope": {"project": _named(a["project_id"], names, with_domain=True)},
        "links": links,
    }


def _named(
    entity_id: str, names: dict[str, dict[str, Any]], *, with_domain: bool
) -> dict[str, Any]:
    entity = names.get(entity_id)
    if entity is None:
        return {"id": entity_id}
    view: dict[str, Any] = {"id": entity_id, "name": entity["name"]}
    if with_domain and "domain" in entity:
        view["domain"] = entity["domain"]
    return view
