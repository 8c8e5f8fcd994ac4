"""/os-services (admin): list; enable / disable / force down in both Nova forms
(PUT /os-services/{action} with host + binary up to 2.52, PUT /os-services/{uuid} from
2.53); delete."""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

from sqlalchemy import delete, func, select

from testbed.api.common import at_least, iso_micro, require_admin
from testbed.api.routing import RouteTable
from testbed.api.validation import BOOLEAN, as_bool, validate
from testbed.compute.api_hosts import COMPUTE_BINARY, service_is_up
from testbed.compute.models import ComputeNode, Instance, Service
from testbed.exceptions import BadRequest, Conflict, NotFound
from testbed.web.app import ApiRequest

__all__ = ["routes", "service_view"]

routes = RouteTable()

_HOST_BINARY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "host": {"type": "string", "minLength": 1, "maxLength": 255},
        "binary": {"type": "string", "minLength": 1, "maxLength": 255},
    },
    "required": ["host", "binary"],
    "additionalProperties": False,
}


def service_view(req: ApiRequest, service: Service) -> dict[str, Any]:
    """One service at the request's microversion."""
    up = service_is_up(service, req.runtime.clock.now(), req.runtime.config.service_down_time)
    view: dict[str, Any] = {
        "id": service.uuid if at_least(req, "2.53") else service.id,
        "binary": service.binary,
        "host": service.host,
        "zone": service.availability_zone if service.binary == COMPUTE_BINARY else "internal",
        "status": "disabled" if service.disabled else "enabled",
        "state": "up" if up else "down",
        "updated_at": iso_micro(service.last_seen_up or service.updated_at),
        "disabled_reason": service.disabled_reason,
    }
    if at_least(req, "2.11"):
        view["forced_down"] = bool(service.forced_down)
    return view


@routes.route("/v2.1/os-services", ["GET"])
def list_services(req: ApiRequest) -> tuple[int, Any]:
    """GET /os-services?host=&binary=."""
    require_admin(req, "os_compute_api:os-services:list")
    query = select(Service).order_by(Service.id)
    if req.query.get("host"):
        query = query.where(Service.host == req.query["host"])
    if req.query.get("binary"):
        query = query.where(Service.binary == req.query["binary"])
    with req.runtime.store.session() as session:
        services = list(session.scalars(query))
    return 200, {"services": [service_view(req, s) for s in services]}


def _only_compute(service: Service) -> None:
    if service.binary != COMPUTE_BINARY:
        raise BadRequest(
            f"Updating a {service.binary} service is not supported. Only nova-compute "
            "services can be updated."
        )


@routes.route("/v2.1/os-services/<service_id>", ["PUT"])
def update_service(req: ApiRequest, service_id: str) -> tuple[int, Any]:
    """PUT /os-services/{uuid} (>= 2.53) or /os-services/{enable|disable|...} (< 2.53)."""
    require_admin(req, "os_compute_api:os-services:update")
    if at_least(req, "2.53"):
        return _update_by_uuid(req, service_id)
    return _update_by_action(req, service_id)


def _update_by_action(req: ApiRequest, action: str) -> tuple[int, Any]:
    body = req.json()
    schema = dict(_HOST_BINARY)
    if action == "disable-log-reason":
        schema = {
            **_HOST_BINARY,
            "properties": {
                **_HOST_BINARY["properties"],
                "disabled_reason": {"type": "string", "minLength": 1, "maxLength": 255},
            },
            "required": ["host", "binary", "disabled_reason"],
        }
    elif action == "force-down" and at_least(req, "2.11"):
        schema = {
            **_HOST_BINARY,
            "properties": {**_HOST_BINARY["properties"], "forced_down": BOOLEAN},
            "required": ["host", "binary", "forced_down"],
        }
    elif action not in ("enable", "disable"):
        raise NotFound("Unknown action")
    validate(body, schema)
    host, binary = body["host"], body["binary"]
    with req.runtime.store.session() as session:
        service = session.scalars(
            select(Service).where(Service.host == host, Service.binary == binary)
        ).first()
        if service is None:
            raise NotFound(f"Could not find binary {binary} on host {host}.")
        _only_compute(service)
        result: dict[str, Any] = {"host": host, "binary": binary}
        if action == "force-down":
            service.forced_down = as_bool(body["forced_down"])
            result["forced_down"] = service.forced_down
        else:
            service.disabled = action != "enable"
            service.disabled_reason = body.get("disabled_reason") if service.disabled else None
            result["status"] = "disabled" if service.disabled else "enabled"
            if action == "disable-log-reason":
                result["disabled_reason"] = service.disabled_reason
    return 200, {"service": result}


_UPDATE_253 = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["enabled", "disabled"]},
        "disabled_reason": {"type": "string", "minLength": 1, "maxLength": 255},
        "forced_down": BOOLEAN,
    },
    "additionalProperties": False,
}


def _check_uuid(value: str) -> None:
    try:
        uuidlib.UUID(value)
    except ValueError:
        raise BadRequest(f"Invalid uuid {value}") from None


def _update_by_uuid(req: ApiRequest, service_id: str) -> tuple[int, Any]:
    _check_uuid(service_id)
    body = req.json()
    validate(body, _UPDATE_253)
    status = body.get("status")
    if "disabled_reason" in body and status != "disabled":
        raise BadRequest(f"Specifying 'disabled_reason' with status '{status}' is invalid.")
    if status is None and "forced_down" not in body:
        raise BadRequest(
            "No updates were requested. Fields 'status' or 'forced_down' should be specified."
        )
    with req.runtime.store.session() as session:
        service = session.scalars(select(Service).where(Service.uuid == service_id)).first()
        if service is None:
            raise NotFound(f"Service {service_id} could not be found.")
        _only_compute(service)
        if status is not None:
            service.disabled = status == "disabled"
            service.disabled_reason = body.get("disabled_reason") if service.disabled else None
        if "forced_down" in body:
            service.forced_down = as_bool(body["forced_down"])
    return 200, {"service": service_view(req, service)}


@routes.route("/v2.1/os-services/<service_id>", ["DELETE"])
def delete_service(req: ApiRequest, service_id: str) -> tuple[int, Any]:
    """DELETE /os-services/{id}: refused while a compute service still hosts servers."""
    require_admin(req, "os_compute_api:os-services:delete")
    if at_least(req, "2.53"):
        _check_uuid(service_id)
        where = Service.uuid == service_id
    elif service_id.isdigit():
        where = Service.id == int(service_id)
    else:
        raise BadRequest(f"Invalid ID {service_id}")
    with req.runtime.store.session() as session:
        service = session.scalars(select(Service).where(where)).first()
        if service is None:
            raise NotFound(f"Service {service_id} could not be found.")
        if service.binary == COMPUTE_BINARY:
            hosted = session.scalar(
                select(func.count())
                .select_from(Instance)
                .where(Instance.host == service.host, Instance.deleted.is_(False))
            )
            if hosted:
                raise Conflict(
                    "Unable to delete compute service that is hosting instances. "
                    "Migrate or delete the instances first."
                )
            session.execute(delete(ComputeNode).where(ComputeNode.host == service.host))
        session.delete(service)
    return 204, None
