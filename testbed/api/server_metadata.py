"""/servers/{id}/metadata and /servers/{id}/ips."""

from __future__ import annotations

from typing import Any

from testbed.api.routing import RouteTable
from testbed.api.server_schemas import METADATA
from testbed.api.validation import validate
from testbed.api.views import ServerExtras, server_view
from testbed.compute import api_quota
from testbed.compute.api import InstanceOperations
from testbed.exceptions import BadRequest, Forbidden, NotFound
from testbed.web.app import ApiRequest

__all__ = ["routes"]

routes = RouteTable()

_BODY = {
    "type": "object",
    "properties": {"metadata": METADATA},
    "required": ["metadata"],
    "additionalProperties": False,
}


def _ops(req: ApiRequest) -> InstanceOperations:
    return InstanceOperations(req.runtime)


def _check_count(req: ApiRequest, metadata: dict[str, str]) -> None:
    with req.runtime.store.session() as session:
        limit = api_quota.project_limits(session, req.runtime.config, req.ctx.project_id or "")
    if 0 <= limit["metadata_items"] < len(metadata):
        raise Forbidden(f"Maximum number of metadata items exceeds {limit['metadata_items']}")


@routes.route("/v2.1/servers/<server_id>/metadata", ["GET"])
def list_metadata(req: ApiRequest, server_id: str) -> tuple[int, Any]:
    """GET /servers/{id}/metadata."""
    return 200, {"metadata": dict(_ops(req).get(req.ctx, server_id).metadata_ or {})}


@routes.route("/v2.1/servers/<server_id>/metadata", ["PUT", "POST"])
def set_metadata(req: ApiRequest, server_id: str) -> tuple[int, Any]:
    """PUT replaces every item; POST merges."""
    body = req.json()
    validate(body, _BODY)
    replace = req.http.method == "PUT"
    current = {} if replace else dict(_ops(req).get(req.ctx, server_id).metadata_ or {})
    _check_count(req, {**current, **body["metadata"]})
    merged = _ops(req).set_metadata(req.ctx, server_id, body["metadata"], replace=replace)
    return 200, {"metadata": merged}


@routes.route("/v2.1/servers/<server_id>/metadata/<key>", ["GET"])
def show_metadata_item(req: ApiRequest, server_id: str, key: str) -> tuple[int, Any]:
    """GET /servers/{id}/metadata/{key}."""
    metadata = _ops(req).get(req.ctx, server_id).metadata_ or {}
    if key not in metadata:
        raise NotFound("Metadata item was not found")
    return 200, {"meta": {key: metadata[key]}}


@routes.route("/v2.1/servers/<server_id>/metadata/<key>", ["PUT"])
def set_metadata_item(req: ApiRequest, server_id: str, key: str) -> tuple[int, Any]:
    """PUT /servers/{id}/metadata/{key}: ``{"meta": {key: value}}``."""
    body = req.json()
    validate(
        body,
        {
            "type": "object",
            "properties": {"meta": {**METADATA, "minProperties": 1, "maxProperties": 1}},
            "required": ["meta"],
            "additionalProperties": False,
        },
    )
    if key not in body["meta"]:
        raise BadRequest("Request body and URI mismatch")
    current = dict(_ops(req).get(req.ctx, server_id).metadata_ or {})
    _check_count(req, {**current, **body["meta"]})
    _ops(req).set_metadata(req.ctx, server_id, body["meta"], replace=False)
    return 200, {"meta": body["meta"]}


@routes.route("/v2.1/servers/<server_id>/metadata/<key>", ["DELETE"])
def delete_metadata_item(req: ApiRequest, server_id: str, key: str) -> tuple[int, Any]:
    """DELETE /servers/{id}/metadata/{key}: 204."""
    _ops(req).delete_metadata_key(req.ctx, server_id, key)
    return 204, None


@routes.route("/v2.1/servers/<server_id>/ips", ["GET"])
def list_ips(req: ApiRequest, server_id: str) -> tuple[int, Any]:
    """GET /servers/{id}/ips: the addresses by network."""
    instance = _ops(req).get(req.ctx, server_id)
    return 200, {"addresses": server_view(req, instance, ServerExtras())["addresses"]}


@routes.route("/v2.1/servers/<server_id>/ips/<network>", ["GET"])
def show_ips(req: ApiRequest, server_id: str, network: str) -> tuple[int, Any]:
    """GET /servers/{id}/ips/{network}."""
    _status, body = list_ips(req, server_id)
    if network not in body["addresses"]:
        raise NotFound("Instance is not a member of specified network")
    return 200, {network: body["addresses"][network]}
