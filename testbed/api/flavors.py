"""/flavors: list, detail, show; admin create / delete / description; os-extra_specs;
os-flavor-access (read-only: the test-bed keeps no per-project access lists)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from testbed.api.common import at_least, links, next_links, page_params, require_admin
from testbed.api.routing import RouteTable
from testbed.api.validation import BOOLEAN, NON_NEGATIVE_INT, POSITIVE_INT, as_bool, validate
from testbed.compute.models import Flavor
from testbed.exceptions import BadRequest, Conflict, NotFound
from testbed.store.base import new_uuid
from testbed.web.app import ApiRequest

__all__ = ["flavor_view", "routes"]

routes = RouteTable()

_KEY_PATTERN = "^[a-zA-Z0-9-_:. ]{1,255}$"
_SPEC_VALUE = {"type": ["string", "number", "boolean"], "minLength": 1, "maxLength": 255}
_EXTRA_SPECS = {
    "type": "object",
    "patternProperties": {_KEY_PATTERN: _SPEC_VALUE},
    "additionalProperties": False,
}


def _not_found(flavor_id: str) -> NotFound:
    return NotFound(f"Flavor {flavor_id} could not be found.")


def flavor_view(req: ApiRequest, flavor: Flavor) -> dict[str, Any]:
    """A flavor as GET /flavors/{id} shows it at the request's microversion."""
    swap: Any = flavor.swap
    if not at_least(req, "2.75") and not flavor.swap:
        swap = ""
    view: dict[str, Any] = {
        "id": flavor.flavorid,
        "name": flavor.name,
        "ram": flavor.memory_mb,
        "disk": flavor.root_gb,
        "vcpus": flavor.vcpus,
        "swap": swap,
        "rxtx_factor": flavor.rxtx_factor,
        "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral_gb,
        "OS-FLV-DISABLED:disabled": bool(flavor.disabled),
        "os-flavor-access:is_public": bool(flavor.is_public),
        "links": links(req, "flavors", flavor.flavorid),
    }
    if at_least(req, "2.55"):
        view["description"] = flavor.description
    if at_least(req, "2.61"):
        view["extra_specs"] = dict(flavor.extra_specs or {})
    return view


def _summary(req: ApiRequest, flavor: Flavor) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": flavor.flavorid,
        "name": flavor.name,
        "links": links(req, "flavors", flavor.flavorid),
    }
    if at_least(req, "2.55"):
        view["description"] = flavor.description
    return view


def _get(req: ApiRequest, flavor_id: str) -> Flavor:
    with req.runtime.store.session() as session:
        flavor = session.scalars(select(Flavor).where(Flavor.flavorid == flavor_id)).first()
    if flavor is None or (not flavor.is_public and not req.ctx.is_admin):
        raise _not_found(flavor_id)
    return flavor


def _int_filter(req: ApiRequest, name: str) -> int | None:
    raw = req.query.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"Invalid {name} filter [{raw}]") from None


def _public_filter(req: ApiRequest) -> bool | None:
    if not req.ctx.is_admin:
        return True
    raw = req.query.get("is_public")
    if raw is None:
        return True
    if raw.strip().lower() == "none":
        return None
    return raw.strip().lower() in ("1", "true", "t", "yes", "y", "on")


def _listing(req: ApiRequest, *, detail: bool) -> tuple[int, Any]:
    public = _public_filter(req)
    min_ram, min_disk = _int_filter(req, "minRam"), _int_filter(req, "minDisk")
    limit, marker = page_params(req)
    with req.runtime.store.session() as session:
        flavors = list(session.scalars(select(Flavor).order_by(Flavor.flavorid)))
    flavors = [
        f
        for f in flavors
        if (public is None or f.is_public == public)
        and (req.ctx.is_admin or not f.disabled)
        and (min_ram is None or f.memory_mb >= min_ram)
        and (min_disk is None or f.root_gb >= min_disk)
    ]
    if marker is not None:
        ids = [f.flavorid for f in flavors]
        if marker not in ids:
            raise BadRequest(f"marker [{marker}] not found")
        flavors = flavors[ids.index(marker) + 1 :]
    if limit is not None:
        flavors = flavors[:limit]
    render = flavor_view if detail else _summary
    body: dict[str, Any] = {"flavors": [render(req, f) for f in flavors]}
    last = flavors[-1].flavorid if flavors else None
    more = next_links(req, "flavors/detail" if detail else "flavors", flavors, limit, last)
    if more:
        body["flavors_links"] = more
    return 200, body


@routes.route("/v2.1/flavors", ["GET"])
def list_flavors(req: ApiRequest) -> tuple[int, Any]:
    """GET /flavors."""
    return _listing(req, detail=False)


@routes.route("/v2.1/flavors/detail", ["GET"])
def list_flavors_detail(req: ApiRequest) -> tuple[int, Any]:
    """GET /flavors/detail."""
    return _listing(req, detail=True)


@routes.route("/v2.1/flavors/<flavor_id>", ["GET"])
def show_flavor(req: ApiRequest, flavor_id: str) -> tuple[int, Any]:
    """GET /flavors/{id}."""
    return 200, {"flavor": flavor_view(req, _get(req, flavor_id))}


def _create_schema(req: ApiRequest) -> dict[str, Any]:
    props: dict[str, Any] = {
        "name": {"type": "string", "minLength": 1, "maxLength": 255},
        "id": {
            "type": ["string", "null"],
            "minLength": 1,
            "maxLength": 255,
            "pattern": r"^(?! )[a-zA-Z0-9. _-]+(?<! )$",
        },
        "ram": POSITIVE_INT,
        "vcpus": POSITIVE_INT,
        "disk": NON_NEGATIVE_INT,
        "OS-FLV-EXT-DATA:ephemeral": NON_NEGATIVE_INT,
        "swap": NON_NEGATIVE_INT,
        "rxtx_factor": {"type": ["number", "string"], "minimum": 0},
        "os-flavor-access:is_public": BOOLEAN,
    }
    if at_least(req, "2.55"):
        props["description"] = {"type": ["string", "null"], "maxLength": 65535}
    return {
        "type": "object",
        "properties": {
            "flavor": {
                "type": "object",
                "properties": props,
                "required": ["name", "ram", "vcpus", "disk"],
                "additionalProperties": False,
            }
        },
        "required": ["flavor"],
        "additionalProperties": False,
    }


@routes.route("/v2.1/flavors", ["POST"])
def create_flavor(req: ApiRequest) -> tuple[int, Any]:
    """POST /flavors (admin)."""
    require_admin(req, "os_compute_api:os-flavor-manage:create")
    body = req.json()
    validate(body, _create_schema(req))
    spec = body["flavor"]
    flavor_id = str(spec.get("id") or new_uuid())
    name = spec["name"].strip()
    with req.runtime.store.session() as session:
        if session.scalars(select(Flavor).where(Flavor.name == name)).first():
            raise Conflict(f"Flavor with name {name} already exists.")
        if session.scalars(select(Flavor).where(Flavor.flavorid == flavor_id)).first():
            raise Conflict(f"Flavor with ID {flavor_id} already exists.")
        flavor = Flavor(
            flavorid=flavor_id,
            name=name,
            vcpus=int(spec["vcpus"]),
            memory_mb=int(spec["ram"]),
            root_gb=int(spec["disk"]),
            ephemeral_gb=int(spec.get("OS-FLV-EXT-DATA:ephemeral", 0)),
            swap=int(spec.get("swap", 0)),
            rxtx_factor=float(spec.get("rxtx_factor", 1.0)),
            is_public=as_bool(spec.get("os-flavor-access:is_public", True)),
            description=spec.get("description"),
            extra_specs={},
        )
        session.add(flavor)
    return 200, {"flavor": flavor_view(req, flavor)}


@routes.route("/v2.1/flavors/<flavor_id>", ["PUT"], min_version="2.55")
def update_flavor(req: ApiRequest, flavor_id: str) -> tuple[int, Any]:
    """PUT /flavors/{id} (admin, 2.55): only the description changes."""
    require_admin(req, "os_compute_api:os-flavor-manage:update")
    body = req.json()
    validate(
        body,
        {
            "type": "object",
            "properties": {
                "flavor": {
                    "type": "object",
                    "properties": {"description": {"type": ["string", "null"]}},
                    "required": ["description"],
                    "additionalProperties": False,
                }
            },
            "required": ["flavor"],
        },
    )
    with req.runtime.store.session() as session:
        flavor = session.scalars(select(Flavor).where(Flavor.flavorid == flavor_id)).first()
        if flavor is None:
            raise _not_found(flavor_id)
        flavor.description = body["flavor"]["description"]
    return 200, {"flavor": flavor_view(req, flavor)}


@routes.route("/v2.1/flavors/<flavor_id>", ["DELETE"])
def delete_flavor(req: ApiRequest, flavor_id: str) -> tuple[int, Any]:
    """DELETE /flavors/{id} (admin); servers keep their flavor snapshot."""
    require_admin(req, "os_compute_api:os-flavor-manage:delete")
    with req.runtime.store.session() as session:
        flavor = session.scalars(select(Flavor).where(Flavor.flavorid == flavor_id)).first()
        if flavor is None:
            raise _not_found(flavor_id)
        session.delete(flavor)
    return 202, None


# -- extra specs ------------------------------------------------------------------------
def _update_specs(req: ApiRequest, flavor_id: str, changes: dict[str, Any]) -> dict[str, str]:
    require_admin(req, "os_compute_api:os-flavor-extra-specs:create")
    specs = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in changes.items()}
    try:
        with req.runtime.store.session() as session:
            flavor = session.scalars(select(Flavor).where(Flavor.flavorid == flavor_id)).first()
            if flavor is None:
                raise _not_found(flavor_id)
            flavor.extra_specs = {**(flavor.extra_specs or {}), **specs}
    except IntegrityError:  # pragma: no cover - concurrent delete
        raise _not_found(flavor_id) from None
    return specs


@routes.route("/v2.1/flavors/<flavor_id>/os-extra_specs", ["GET"])
def list_extra_specs(req: ApiRequest, flavor_id: str) -> tuple[int, Any]:
    """GET /flavors/{id}/os-extra_specs."""
    return 200, {"extra_specs": dict(_get(req, flavor_id).extra_specs or {})}


@routes.route("/v2.1/flavors/<flavor_id>/os-extra_specs", ["POST"])
def create_extra_specs(req: ApiRequest, flavor_id: str) -> tuple[int, Any]:
    """POST /flavors/{id}/os-extra_specs (admin): merge keys."""
    body = req.json()
    validate(
        body,
        {
            "type": "object",
            "properties": {"extra_specs": _EXTRA_SPECS},
            "required": ["extra_specs"],
            "additionalProperties": False,
        },
    )
    return 200, {"extra_specs": _update_specs(req, flavor_id, body["extra_specs"])}


@routes.route("/v2.1/flavors/<flavor_id>/os-extra_specs/<key>", ["GET"])
def show_extra_spec(req: ApiRequest, flavor_id: str, key: str) -> tuple[int, Any]:
    """GET /flavors/{id}/os-extra_specs/{key}."""
    specs = _get(req, flavor_id).extra_specs or {}
    if key not in specs:
        raise NotFound(f"Flavor {flavor_id} has no extra specs with key {key}.")
    return 200, {key: specs[key]}


@routes.route("/v2.1/flavors/<flavor_id>/os-extra_specs/<key>", ["PUT"])
def update_extra_spec(req: ApiRequest, flavor_id: str, key: str) -> tuple[int, Any]:
    """PUT /flavors/{id}/os-extra_specs/{key} (admin): body ``{key: value}``."""
    body = req.json()
    validate(body, {**_EXTRA_SPECS, "minProperties": 1, "maxProperties": 1})
    if key not in body:
        raise BadRequest("Request body and URI mismatch")
    return 200, _update_specs(req, flavor_id, body)


@routes.route("/v2.1/flavors/<flavor_id>/os-extra_specs/<key>", ["DELETE"])
def delete_extra_spec(req: ApiRequest, flavor_id: str, key: str) -> tuple[int, Any]:
    """DELETE /flavors/{id}/os-extra_specs/{key} (admin)."""
    require_admin(req, "os_compute_api:os-flavor-extra-specs:delete")
    with req.runtime.store.session() as session:
        flavor = session.scalars(select(Flavor).where(Flavor.flavorid == flavor_id)).first()
        if flavor is None:
            raise _not_found(flavor_id)
        specs = dict(flavor.extra_specs or {})
        if key not in specs:
            raise NotFound(f"Flavor {flavor_id} has no extra specs with key {key}.")
        del specs[key]
        flavor.extra_specs = specs
    return 202, None


# -- flavor access ------------------------------------------------------------------------
@routes.route("/v2.1/flavors/<flavor_id>/os-flavor-access", ["GET"])
def list_flavor_access(req: ApiRequest, flavor_id: str) -> tuple[int, Any]:
    """GET /flavors/{id}/os-flavor-access (admin): empty for private flavors."""
    require_admin(req, "os_compute_api:os-flavor-access")
    flavor = _get(req, flavor_id)
    if flavor.is_public:
        raise NotFound("Access list not available for public flavors.")
    return 200, {"flavor_access": []}


@routes.route("/v2.1/flavors/<flavor_id>/action", ["POST"])
def flavor_action(req: ApiRequest, flavor_id: str) -> tuple[int, Any]:
    """addTenantAccess / removeTenantAccess: not available in the test-bed yet."""
    require_admin(req, "os_compute_api:os-flavor-access:add_tenant_access")
    _get(req, flavor_id)
    body = req.json()
    name = next(iter(body), "") if isinstance(body, dict) else ""
    if name in ("addTenantAccess", "removeTenantAccess"):
        raise Conflict(f"The '{name}' action is not available in this test-bed yet.")
    raise BadRequest(f"There is no such action: {name}")
