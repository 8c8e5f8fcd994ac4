"""The Network API v2.0 (Neutron subset), mounted at ``/network``.

Routes (relative to the mount point): ``/`` (version document), ``/v2.0`` (resources),
``/v2.0/extensions``, and list/create/show/update/delete of ``/v2.0/networks``,
``/v2.0/subnets`` and ``/v2.0/ports``.  Lists take Neutron's query filters (any
attribute; repeated keys mean "any of"), ``fields``, ``sort_key``/``sort_dir`` and
``limit``/``marker`` (with ``<collection>_links``).  Errors are NeutronError bodies:
``{"NeutronError": {"type": "NetworkNotFound", "message": ..., "detail": ""}}``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from testbed.context import RequestContext
from testbed.exceptions import BadRequest, CloudError
from testbed.network.errors import neutron_type
from testbed.network.registry import NetworkRegistry
from testbed.service import Runtime
from testbed.web.app import ApiRequest, Authenticator, JsonApp, json_response

__all__ = ["build_app", "neutron_fault"]

_CONTROL_PARAMS = {"fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse"}
_COMMON_FILTERS = {
    "id",
    "name",
    "tenant_id",
    "project_id",
    "description",
    "created_at",
    "updated_at",
    "revision_number",
}
_EXTENSIONS = (
    ("binding", "Port Binding"),
    ("external-net", "Neutron external network"),
    ("net-mtu", "Network MTU"),
    ("project-id", "project_id field enabled"),
    ("standard-attr-description", "standard-attr-description"),
    ("standard-attr-revisions", "Resource revision numbers"),
    ("standard-attr-timestamp", "Resource timestamps"),
)


def neutron_fault(code: int, message: str, error: Exception | None = None) -> dict[str, Any]:
    """Neutron's error body."""
    return {"NeutronError": {"type": neutron_type(error, code), "message": message, "detail": ""}}


def _neutron_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Render the handler's CloudErrors with their Neutron type (JsonApp's own renderer
    only sees the status and message)."""

    @functools.wraps(fn)
    def wrapper(req: ApiRequest, **kwargs: Any) -> Any:
        try:
            return fn(req, **kwargs)
        except CloudError as exc:
            return json_response(exc.code, neutron_fault(exc.code, exc.message, exc))

    return wrapper


@dataclass(frozen=True)
class _Resource:
    """One collection of the API and the registry methods behind it."""

    member: str
    collection: str
    filters: frozenset[str]
    list: Callable[[RequestContext], list[dict[str, Any]]]
    get: Callable[[RequestContext, str], dict[str, Any]]
    create: Callable[[RequestContext, dict[str, Any]], dict[str, Any]]
    update: Callable[[RequestContext, str, dict[str, Any]], dict[str, Any]]
    delete: Callable[[RequestContext, str], None]


def _resources(registry: NetworkRegistry) -> list[_Resource]:
    return [
        _Resource(
            "network",
            "networks",
            frozenset(
                _COMMON_FILTERS
                | {"shared", "status", "admin_state_up", "router:external", "mtu", "subnets"}
            ),
            registry.list_networks,
            registry.get_network,
            registry.create_network,
            registry.update_network,
            registry.delete_network,
        ),
        _Resource(
            "subnet",
            "subnets",
            frozenset(
                _COMMON_FILTERS
                | {
                    "network_id",
                    "cidr",
                    "ip_version",
                    "gateway_ip",
                    "enable_dhcp",
                    "subnetpool_id",
                    "segment_id",
                }
            ),
            registry.list_subnets,
            registry.get_subnet,
            registry.create_subnet,
            registry.update_subnet,
            registry.delete_subnet,
        ),
        _Resource(
            "port",
            "ports",
            frozenset(
                _COMMON_FILTERS
                | {
                    "network_id",
                    "device_id",
                    "device_owner",
                    "mac_address",
                    "status",
                    "admin_state_up",
                    "fixed_ips",
                    "binding:host_id",
                    "binding:vnic_type",
                }
            ),
            registry.list_ports,
            registry.get_port,
            registry.create_port,
            registry.update_port,
            registry.delete_port,
        ),
    ]


def _matches(value: Any, wanted: list[str]) -> bool:
    if isinstance(value, bool):
        return str(value).lower() in {w.lower() for w in wanted}
    if isinstance(value, list):
        return any(str(v) in wanted for v in value)
    return ("" if value is None else str(value)) in wanted


def _fixed_ip_matches(port: dict[str, Any], wanted: list[str]) -> bool:
    for condition in wanted:
        key, _, value = condition.partition("=")
        if key == "ip_address_substr":
            ok = any(value in ip["ip_address"] for ip in port["fixed_ips"])
        else:
            ok = any(str(ip.get(key)) == value for ip in port["fixed_ips"])
        if not ok:
            return False
    return True


def _filtered(items: list[dict[str, Any]], req: ApiRequest, res: _Resource) -> list[dict[str, Any]]:
    for key in req.query.keys():  # noqa: SIM118 - a MultiDict
        if key in _CONTROL_PARAMS:
            continue
        if key not in res.filters:
            raise BadRequest(f"[{key}] is invalid attribute for filtering")
        wanted = req.query.getlist(key)
        if key == "fixed_ips":
            items = [i for i in items if _fixed_ip_matches(i, wanted)]
        else:
            items = [i for i in items if _matches(i.get(key), wanted)]
    return items


def _sorted(items: list[dict[str, Any]], req: ApiRequest) -> list[dict[str, Any]]:
    keys = req.query.getlist("sort_key")
    dirs = req.query.getlist("sort_dir")
    for n in range(len(keys) - 1, -1, -1):
        direction = dirs[n] if n < len(dirs) else "asc"
        if direction not in ("asc", "desc"):
            raise BadRequest(
                f"Invalid input for operation: sort_dir must be asc or desc (got {direction!r})."
            )
        items = sorted(
            items,
            key=lambda i, k=keys[n]: (i.get(k) is not None, str(i.get(k))),
            reverse=direction == "desc",
        )
    return items


def _page(
    items: list[dict[str, Any]], req: ApiRequest, res: _Resource
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    marker = req.query.get("marker")
    if marker:
        ids = [i["id"] for i in items]
        if marker not in ids:
            raise BadRequest(f"Invalid input for operation: marker {marker} not found.")
        items = items[ids.index(marker) + 1 :]
    raw_limit = req.query.get("limit")
    if not raw_limit:
        return items, []
    try:
        limit = int(raw_limit)
    except ValueError as exc:
        raise BadRequest(f"Invalid input for operation: '{raw_limit}' is not an integer.") from exc
    if limit <= 0:
        return items, []
    page, links = items[:limit], []
    base = f"{req.http.host_url.rstrip('/')}{req.http.script_root}/v2.0/{res.collection}"
    if len(items) > limit:
        query = [(k, v) for k, v in req.query.items(multi=True) if k != "marker"]
        query.append(("marker", page[-1]["id"]))
        links.append({"rel": "next", "href": f"{base}?{urlencode(query)}"})
    return page, links


def _only_fields(items: list[dict[str, Any]], req: ApiRequest) -> list[dict[str, Any]]:
    fields = req.query.getlist("fields")
    if not fields:
        return items
    return [{k: v for k, v in item.items() if k in fields} for item in items]


def _register(app: JsonApp, res: _Resource) -> None:
    collection, member = f"/v2.0/{res.collection}", f"/v2.0/{res.collection}/<item_id>"

    @_neutron_errors
    def list_items(req: ApiRequest) -> tuple[int, Any]:
        items = _sorted(_filtered(res.list(req.ctx), req, res), req)
        page, links = _page(items, req, res)
        body: dict[str, Any] = {res.collection: _only_fields(page, req)}
        if links:
            body[f"{res.collection}_links"] = links
        return 200, body

    @_neutron_errors
    def create_items(req: ApiRequest) -> tuple[int, Any]:
        body = req.json()
        if isinstance(body, dict) and isinstance(body.get(res.collection), list):
            created = [res.create(req.ctx, _member(item, res)) for item in body[res.collection]]
            return 201, {res.collection: created}
        if not isinstance(body, dict) or res.member not in body:
            raise BadRequest(f"Resource body required: '{res.member}' not found in the body")
        return 201, {res.member: res.create(req.ctx, _member(body[res.member], res))}

    @_neutron_errors
    def show_item(req: ApiRequest, item_id: str) -> tuple[int, Any]:
        return 200, {res.member: _only_fields([res.get(req.ctx, item_id)], req)[0]}

    @_neutron_errors
    def update_item(req: ApiRequest, item_id: str) -> tuple[int, Any]:
        body = req.json()
        if not isinstance(body, dict) or res.member not in body:
            raise BadRequest(f"Resource body required: '{res.member}' not found in the body")
        return 200, {res.member: res.update(req.ctx, item_id, _member(body[res.member], res))}

    @_neutron_errors
    def delete_item(req: ApiRequest, item_id: str) -> tuple[int, Any]:
        res.delete(req.ctx, item_id)
        return 204, None

    app.route(collection, ["GET"])(list_items)
    app.route(collection, ["POST"])(create_items)
    app.route(member, ["GET"])(show_item)
    app.route(member, ["PUT"])(update_item)
    app.route(member, ["DELETE"])(delete_item)


def _member(value: Any, res: _Resource) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest(f"Invalid input for operation: {res.member} must be a dictionary.")
    return value


def build_app(runtime: Runtime, *, authenticate: Authenticator | None = None) -> JsonApp:
    """The Network API as a WSGI app.  ``authenticate`` defaults to the identity
    service's token check (:func:`testbed.identity.auth.authenticate`)."""
    if authenticate is None:
        from testbed.identity.auth import authenticate as identity_authenticate

        authenticate = identity_authenticate
    app = JsonApp(
        runtime,
        lifeline="network",
        render_fault=lambda code, message: neutron_fault(code, message),
        authenticate=authenticate,
    )
    registry = NetworkRegistry(runtime)

    def root_href(req: ApiRequest) -> str:
        return f"{req.http.host_url.rstrip('/')}{req.http.script_root}"

    @app.route("/", ["GET"], public=True)
    def versions(req: ApiRequest) -> tuple[int, Any]:
        link = {"href": f"{root_href(req)}/v2.0/", "rel": "self"}
        return 200, {"versions": [{"status": "CURRENT", "id": "v2.0", "links": [link]}]}

    @app.route("/v2.0", ["GET"])
    def resources(req: ApiRequest) -> tuple[int, Any]:
        return 200, {
            "resources": [
                {
                    "name": r.member,
                    "collection": r.collection,
                    "links": [{"href": f"{root_href(req)}/v2.0/{r.collection}", "rel": "self"}],
                }
                for r in _resources(registry)
            ]
        }

    @app.route("/v2.0/extensions", ["GET"])
    def extensions(req: ApiRequest) -> tuple[int, Any]:
        return 200, {
            "extensions": [
                {
                    "alias": alias,
                    "name": name,
                    "description": name,
                    "links": [],
                    "updated": "2013-01-01T00:00:00-00:00",
                }
                for alias, name in _EXTENSIONS
            ]
        }

    for res in _resources(registry):
        _register(app, res)
    return app
