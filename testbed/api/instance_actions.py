"""/servers/{id}/os-instance-actions: what was asked of a server, and (for admins, and for
everyone from 2.51 without tracebacks) the events of each action."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from testbed.api.common import at_least, iso_micro, next_links, page_params, parse_time
from testbed.api.routing import RouteTable
from testbed.api.views import host_id
from testbed.compute.api import InstanceOperations
from testbed.compute.models import InstanceAction, InstanceActionEvent
from testbed.exceptions import BadRequest, NotFound
from testbed.web.app import ApiRequest

__all__ = ["routes"]

routes = RouteTable()


def _action_view(req: ApiRequest, action: InstanceAction) -> dict[str, Any]:
    view: dict[str, Any] = {
        "action": action.action,
        "instance_uuid": action.instance_uuid,
        "message": action.message,
        "project_id": action.project_id,
        "request_id": action.request_id,
        "start_time": iso_micro(action.start_time),
        "user_id": action.user_id,
    }
    if at_least(req, "2.58"):
        view["updated_at"] = iso_micro(action.updated_at or action.start_time)
    return view


def _event_view(req: ApiRequest, event: InstanceActionEvent, project_id: str) -> dict[str, Any]:
    view: dict[str, Any] = {
        "event": event.event,
        "start_time": iso_micro(event.start_time),
        "finish_time": iso_micro(event.finish_time),
        "result": event.result,
    }
    if req.ctx.is_admin:
        view["traceback"] = event.traceback
    if at_least(req, "2.62"):
        view["hostId"] = host_id(project_id, event.host)
        if req.ctx.is_admin:
            view["host"] = event.host
    if at_least(req, "2.84"):
        view["details"] = event.details
    return view


def _instance(req: ApiRequest, server_id: str) -> Any:
    # Actions of deleted servers are visible from 2.21.
    return InstanceOperations(req.runtime).get(
        req.ctx, server_id, include_deleted=at_least(req, "2.21")
    )


@routes.route("/v2.1/servers/<server_id>/os-instance-actions", ["GET"])
def list_actions(req: ApiRequest, server_id: str) -> tuple[int, Any]:
    """GET /servers/{id}/os-instance-actions: newest first (paged from 2.58)."""
    instance = _instance(req, server_id)
    query = (
        select(InstanceAction)
        .where(InstanceAction.instance_uuid == instance.uuid)
        .order_by(InstanceAction.start_time.desc(), InstanceAction.id.desc())
    )
    limit, marker = page_params(req) if at_least(req, "2.58") else (None, None)
    if at_least(req, "2.58") and "changes-since" in req.query:
        since = parse_time("changes-since", req.query["changes-since"])
        query = query.where(InstanceAction.updated_at >= since)
    if at_least(req, "2.66") and "changes-before" in req.query:
        before = parse_time("changes-before", req.query["changes-before"])
        query = query.where(InstanceAction.updated_at <= before)
    with req.runtime.store.session() as session:
        actions = list(session.scalars(query))
    if marker is not None:
        ids = [a.request_id for a in actions]
        if marker not in ids:
            raise BadRequest(f"Marker {marker} could not be found.")
        actions = actions[ids.index(marker) + 1 :]
    if limit is not None:
        actions = actions[:limit]
    body: dict[str, Any] = {"instanceActions": [_action_view(req, a) for a in actions]}
    last = actions[-1].request_id if actions else None
    more = next_links(req, f"servers/{server_id}/os-instance-actions", actions, limit, last)
    if more:
        body["links"] = more
    return 200, body


@routes.route("/v2.1/servers/<server_id>/os-instance-actions/<request_id>", ["GET"])
def show_action(req: ApiRequest, server_id: str, request_id: str) -> tuple[int, Any]:
    """GET /servers/{id}/os-instance-actions/{request_id}, with its events."""
    instance = _instance(req, server_id)
    with req.runtime.store.session() as session:
        action = session.scalars(
            select(InstanceAction)
            .options(selectinload(InstanceAction.events))
            .where(
                InstanceAction.instance_uuid == instance.uuid,
                InstanceAction.request_id == request_id,
            )
            .order_by(InstanceAction.id.desc())
        ).first()
        if action is None:
            raise NotFound(f"Action for request_id {request_id} on instance {server_id} not found")
        events = list(action.events)
    view = _action_view(req, action)
    if req.ctx.is_admin or at_least(req, "2.51"):
        view["events"] = [_event_view(req, e, instance.project_id) for e in events]
    return 200, {"instanceAction": view}
