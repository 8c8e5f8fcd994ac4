"""/os-server-groups: create, list, show, delete.  ``policies`` (a one-element list) up to
2.63, ``policy`` + ``rules`` from 2.64; the soft policies from 2.15; members are the
group's live servers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from testbed.api.common import at_least, query_flag, require_admin
from testbed.api.routing import RouteTable
from testbed.api.validation import validate
from testbed.compute import api_quota
from testbed.compute.models import Instance, ServerGroup, ServerGroupMember
from testbed.exceptions import BadRequest, NotFound
from testbed.web.app import ApiRequest

__all__ = ["routes"]

routes = RouteTable()

_POLICIES = ["anti-affinity", "affinity"]
_SOFT = ["soft-anti-affinity", "soft-affinity"]


def _not_found(group_id: str) -> NotFound:
    return NotFound(f"Instance group {group_id} could not be found.")


def _members(req: ApiRequest, group_uuids: list[str]) -> dict[str, list[str]]:
    members: dict[str, list[str]] = {g: [] for g in group_uuids}
    with req.runtime.store.session() as session:
        rows = session.execute(
            select(ServerGroupMember.group_uuid, ServerGroupMember.instance_uuid)
            .join(Instance, Instance.uuid == ServerGroupMember.instance_uuid)
            .where(ServerGroupMember.group_uuid.in_(group_uuids), Instance.deleted.is_(False))
            .order_by(ServerGroupMember.id)
        ).all()
    for group_uuid, instance_uuid in rows:
        members[group_uuid].append(instance_uuid)
    return members


def _view(req: ApiRequest, group: ServerGroup, members: list[str]) -> dict[str, Any]:
    view: dict[str, Any] = {"id": group.uuid, "name": group.name, "members": members}
    if at_least(req, "2.64"):
        view["policy"] = group.policy
        view["rules"] = dict(group.rules or {})
    else:
        view["policies"] = [group.policy]
        view["metadata"] = {}
    if at_least(req, "2.13"):
        view["project_id"] = group.project_id
        view["user_id"] = group.user_id
    return view


def _create_schema(req: ApiRequest) -> dict[str, Any]:
    allowed = _POLICIES + (_SOFT if at_least(req, "2.15") else [])
    group: dict[str, Any] = {
        "type": "object",
        "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 255}},
        "additionalProperties": False,
    }
    if at_least(req, "2.64"):
        group["properties"]["policy"] = {"type": "string", "enum": allowed}
        group["properties"]["rules"] = {
            "type": "object",
            "properties": {
                "max_server_per_host": {
                    "type": ["integer", "string"],
                    "pattern": "^[0-9]*$",
                    "minimum": 1,
                }
            },
            "additionalProperties": False,
        }
        group["required"] = ["name", "policy"]
    else:
        group["properties"]["policies"] = {
            "type": "array",
            "items": {"type": "string", "enum": allowed},
            "minItems": 1,
            "maxItems": 1,
            "uniqueItems": True,
        }
        group["required"] = ["name", "policies"]
    return {
        "type": "object",
        "properties": {"server_group": group},
        "required": ["server_group"],
        "additionalProperties": False,
    }


@routes.route("/v2.1/os-server-groups", ["POST"])
def create_group(req: ApiRequest) -> tuple[int, Any]:
    """POST /os-server-groups."""
    body = req.json()
    validate(body, _create_schema(req))
    spec = body["server_group"]
    policy = spec["policy"] if "policy" in spec else spec["policies"][0]
    rules = {k: int(v) for k, v in (spec.get("rules") or {}).items()}
    if rules and policy != "anti-affinity":
        raise BadRequest("Only anti-affinity policy supports rules.")
    project_id = req.ctx.project_id or ""
    with req.runtime.store.session() as session:
        api_quota.check_server_groups(session, req.runtime.config, project_id)
        group = ServerGroup(
            name=spec["name"],
            project_id=project_id,
            user_id=req.ctx.user_id or "",
            policy=policy,
            rules=rules,
        )
        session.add(group)
    return 200, {"server_group": _view(req, group, [])}


@routes.route("/v2.1/os-server-groups", ["GET"])
def list_groups(req: ApiRequest) -> tuple[int, Any]:
    """GET /os-server-groups (all_projects for admins; limit/offset)."""
    query = select(ServerGroup).order_by(ServerGroup.id)
    if query_flag(req, "all_projects"):
        require_admin(req, "os_compute_api:os-server-groups:index:all_projects")
    else:
        query = query.where(ServerGroup.project_id == (req.ctx.project_id or ""))
    with req.runtime.store.session() as session:
        groups = list(session.scalars(query))
    offset = _non_negative(req, "offset") or 0
    limit = _non_negative(req, "limit")
    groups = groups[offset:]
    if limit is not None:
        groups = groups[: min(limit, req.runtime.config.osapi_max_limit)]
    members = _members(req, [g.uuid for g in groups])
    return 200, {"server_groups": [_view(req, g, members[g.uuid]) for g in groups]}


def _non_negative(req: ApiRequest, name: str) -> int | None:
    raw = req.query.get(name)
    if raw is None:
        return None
    if not raw.isdigit():
        raise BadRequest(
            f"Invalid input for query parameters {name}. Value: {raw}. "
            f"'{raw}' does not match '^[0-9]*$'"
        )
    return int(raw)


def _get(req: ApiRequest, group_id: str) -> ServerGroup:
    with req.runtime.store.session() as session:
        group = session.scalars(select(ServerGroup).where(ServerGroup.uuid == group_id)).first()
    if group is None or (not req.ctx.is_admin and group.project_id != req.ctx.project_id):
        raise _not_found(group_id)
    return group


@routes.route("/v2.1/os-server-groups/<group_id>", ["GET"])
def show_group(req: ApiRequest, group_id: str) -> tuple[int, Any]:
    """GET /os-server-groups/{id}."""
    group = _get(req, group_id)
    return 200, {"server_group": _view(req, group, _members(req, [group.uuid])[group.uuid])}


@routes.route("/v2.1/os-server-groups/<group_id>", ["DELETE"])
def delete_group(req: ApiRequest, group_id: str) -> tuple[int, Any]:
    """DELETE /os-server-groups/{id}: 204 (members leave the group)."""
    group = _get(req, group_id)
    with req.runtime.store.session() as session:
        session.execute(delete(ServerGroupMember).where(ServerGroupMember.group_uuid == group.uuid))
        session.execute(delete(ServerGroup).where(ServerGroup.uuid == group.uuid))
    return 204, None
