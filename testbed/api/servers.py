"""/servers: create, list, detail, show, update, delete (Nova's servers controller)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from testbed.api.common import (
    at_least,
    links,
    next_links,
    page_params,
    parse_time,
    query_flag,
    require_admin,
    version_of,
)
from testbed.api.routing import RouteTable
from testbed.api.server_schemas import create_schema, update_schema
from testbed.api.validation import as_bool, as_int, validate
from testbed.api.views import load_extras, server_summary, server_view
from testbed.compute.api import InstanceOperations
from testbed.compute.api_create import BuildRequest, ServerBuilder
from testbed.compute.api_search import InstanceFilters, search_instances
from testbed.exceptions import BadRequest
from testbed.web.app import ApiRequest

__all__ = ["routes"]

routes = RouteTable()


def _version_tuple(req: ApiRequest) -> tuple[int, int]:
    version = version_of(req)
    return (version.major, version.minor)


# -- list -----------------------------------------------------------------------------------
def _filters(req: ApiRequest, *, detail: bool) -> InstanceFilters:
    query = req.query
    all_tenants = query_flag(req, "all_tenants")
    if all_tenants:
        kind = "detail" if detail else "index"
        require_admin(req, f"os_compute_api:servers:{kind}:get_all_tenants")
    filters = InstanceFilters(project_id=None if all_tenants else req.ctx.project_id)
    if all_tenants:
        filters.project_id = query.get("project_id") or query.get("tenant_id") or None
    filters.name = query.get("name")
    statuses = [s.strip().upper() for s in query.getlist("status") if s.strip()]
    filters.statuses = statuses or None
    filters.reservation_id = query.get("reservation_id")
    filters.image = query.get("image")
    filters.flavor = query.get("flavor")
    filters.ip = query.get("ip")
    if "changes-since" in query:
        filters.changes_since = parse_time("changes-since", query["changes-since"])
    if "changes-before" in query and at_least(req, "2.66"):
        filters.changes_before = parse_time("changes-before", query["changes-before"])
    if "locked" in query and at_least(req, "2.73"):
        filters.locked = query_flag(req, "locked")
    if req.ctx.is_admin:
        filters.host = query.get("host")
        filters.node = query.get("node")
        filters.uuid = query.get("uuid")
        filters.user_id = query.get("user_id")
        filters.availability_zone = query.get("availability_zone")
    filters.limit, filters.marker = page_params(req)
    return filters


def _listing(req: ApiRequest, *, detail: bool) -> tuple[int, Any]:
    filters = _filters(req, detail=detail)
    instances = search_instances(req.runtime.store, filters)
    if detail:
        extras = load_extras(req, instances)
        servers = [server_view(req, i, extras[i.uuid]) for i in instances]
    else:
        servers = [server_summary(req, i) for i in instances]
    body: dict[str, Any] = {"servers": servers}
    last = instances[-1].uuid if instances else None
    path = "servers/detail" if detail else "servers"
    next_page = next_links(req, path, instances, filters.limit, last)
    if next_page:
        body["servers_links"] = next_page
    return 200, body


@routes.route("/v2.1/servers", ["GET"])
def list_servers(req: ApiRequest) -> tuple[int, Any]:
    """GET /servers: id, name and links of the caller's servers."""
    return _listing(req, detail=False)


@routes.route("/v2.1/servers/detail", ["GET"])
def list_servers_detail(req: ApiRequest) -> tuple[int, Any]:
    """GET /servers/detail: full views."""
    return _listing(req, detail=True)


# -- show / update / delete ---------------------------------------------------------------
def show_body(req: ApiRequest, server_id: str) -> dict[str, Any]:
    """``{"server": <view>}`` of one server the caller may see."""
    instance = InstanceOperations(req.runtime).get(req.ctx, server_id)
    extras = load_extras(req, [instance])
    return {"server": server_view(req, instance, extras[instance.uuid], show=True)}


@routes.route("/v2.1/servers/<server_id>", ["GET"])
def show_server(req: ApiRequest, server_id: str) -> tuple[int, Any]:
    """GET /servers/{id}."""
    return 200, show_body(req, server_id)


_UPDATABLE = {
    "name": "display_name",
    "accessIPv4": "access_ip_v4",
    "accessIPv6": "access_ip_v6",
    "description": "description",
    "hostname": "hostname",
}


@routes.route("/v2.1/servers/<server_id>", ["PUT"])
def update_server(req: ApiRequest, server_id: str) -> tuple[int, Any]:
    """PUT /servers/{id}: name, access IPs, description (2.19), hostname (2.90)."""
    body = req.json()
    validate(body, update_schema(_version_tuple(req)))
    changes = {_UPDATABLE[k]: v for k, v in body["server"].items() if k in _UPDATABLE}
    InstanceOperations(req.runtime).update(req.ctx, server_id, changes)
    return 200, show_body(req, server_id)


@routes.route("/v2.1/servers/<server_id>", ["DELETE"])
def delete_server(req: ApiRequest, server_id: str) -> tuple[int, Any]:
    """DELETE /servers/{id}: 204; the compute host (or the api, for a server without a
    live host) finishes it."""
    InstanceOperations(req.runtime).delete(req.ctx, server_id)
    return 204, None


# -- create -------------------------------------------------------------------------------
def _user_data(server: dict[str, Any]) -> str | None:
    data = server.get("user_data")
    if data is None:
        return None
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("Userdata content cannot be decoded") from None
    return str(data)


def _build_request(req: ApiRequest, body: dict[str, Any]) -> BuildRequest:
    server = body["server"]
    if server.get("block_device_mapping"):
        raise BadRequest(
            "block_device_mapping (the legacy v1 form) is not available in this test-bed; "
            "use block_device_mapping_v2."
        )
    if "host" in server or "hypervisor_hostname" in server:
        raise BadRequest(
            "Requesting a destination with 'host' / 'hypervisor_hostname' is not available "
            "in this test-bed yet; admins can use availability_zone 'zone:host'."
        )
    for group in server.get("security_groups", []):
        if group.get("name", "default") != "default":
            raise BadRequest(f"Unable to find security_group with name or id {group['name']}")
    hints = body.get("os:scheduler_hints") or body.get("OS-SCH-HNT:scheduler_hints") or {}
    min_count = as_int(server.get("min_count", 1))
    max_count = as_int(server.get("max_count", min_count))
    return BuildRequest(
        name=server["name"],
        flavor_ref=str(server["flavorRef"]),
        image_ref=server.get("imageRef") or None,
        networks=server.get("networks", "auto"),
        block_devices=list(server.get("block_device_mapping_v2", [])),
        availability_zone=server.get("availability_zone"),
        metadata=dict(server.get("metadata", {})),
        user_data=_user_data(server),
        min_count=min_count,
        max_count=max_count,
        key_name=server.get("key_name"),
        description=server.get("description"),
        scheduler_hints=dict(hints),
        access_ip_v4=server.get("accessIPv4"),
        access_ip_v6=server.get("accessIPv6"),
        hostname=server.get("hostname"),
    )


@routes.route("/v2.1/servers", ["POST"])
def create_server(req: ApiRequest) -> tuple[int, Any]:
    """POST /servers: 202 with the first server's id, links and admin password."""
    body = req.json()
    validate(body, create_schema(_version_tuple(req)))
    request = _build_request(req, body)
    result = ServerBuilder(req.runtime).create(req.ctx, request)
    if as_bool(body["server"].get("return_reservation_id", False)):
        return 202, {"reservation_id": result.reservation_id}
    first = result.instance_uuids[0]
    server = {
        "id": first,
        "links": links(req, "servers", first),
        "OS-DCF:diskConfig": body["server"].get("OS-DCF:diskConfig", "MANUAL"),
        "security_groups": [{"name": "default"}],
        "adminPass": body["server"].get("adminPass") or result.admin_password,
    }
    return 202, {"server": server}
