"""/os-quota-sets/{project_id}: show (and /detail with usage), defaults, admin update and
delete (back to the defaults)."""

from __future__ import annotations

from typing import Any

from testbed.api.common import at_least, require_admin
from testbed.api.routing import RouteTable
from testbed.api.validation import BOOLEAN, as_bool, validate
from testbed.compute import api_quota
from testbed.exceptions import BadRequest
from testbed.web.app import ApiRequest

__all__ = ["routes"]

routes = RouteTable()

_NETWORK_QUOTAS = {
    "fixed_ips": -1,
    "floating_ips": 10,
    "security_group_rules": 20,
    "security_groups": 10,
}
_FILE_QUOTAS = ("injected_files", "injected_file_content_bytes", "injected_file_path_bytes")
_LIMIT = {"type": ["integer", "string"], "pattern": "^-?[0-9]+$", "minimum": -1}


def _resources(req: ApiRequest) -> list[str]:
    names = [r for r in api_quota.QUOTA_RESOURCES if r not in _FILE_QUOTAS]
    if not at_least(req, "2.57"):
        names += list(_FILE_QUOTAS)
    return names


def _visible(req: ApiRequest, project_id: str, rule: str) -> None:
    if project_id != req.ctx.project_id:
        require_admin(req, rule)


def _quota_set(
    req: ApiRequest, limits: dict[str, Any], project_id: str | None, *, detail: bool = False
) -> dict[str, Any]:
    body: dict[str, Any] = {name: limits[name] for name in _resources(req)}
    if not at_least(req, "2.36"):
        for name, limit in _NETWORK_QUOTAS.items():
            body[name] = {"limit": limit, "in_use": 0, "reserved": 0} if detail else limit
    if project_id is not None:
        body["id"] = project_id
    return body


@routes.route("/v2.1/os-quota-sets/<project_id>", ["GET"])
def show_quota_set(req: ApiRequest, project_id: str) -> tuple[int, Any]:
    """GET /os-quota-sets/{project_id}."""
    _visible(req, project_id, "os_compute_api:os-quota-sets:show")
    with req.runtime.store.session() as session:
        limits = api_quota.project_limits(session, req.runtime.config, project_id)
    return 200, {"quota_set": _quota_set(req, limits, project_id)}


@routes.route("/v2.1/os-quota-sets/<project_id>/detail", ["GET"])
def show_quota_detail(req: ApiRequest, project_id: str) -> tuple[int, Any]:
    """GET /os-quota-sets/{project_id}/detail: limit, in_use, reserved."""
    _visible(req, project_id, "os_compute_api:os-quota-sets:detail")
    with req.runtime.store.session() as session:
        limits = api_quota.project_limits(session, req.runtime.config, project_id)
        used = api_quota.usages(session, project_id)
    detailed = {
        name: {"limit": limit, "in_use": used.get(name, 0), "reserved": 0}
        for name, limit in limits.items()
    }
    return 200, {"quota_set": _quota_set(req, detailed, project_id, detail=True)}


@routes.route("/v2.1/os-quota-sets/<project_id>/defaults", ["GET"])
def show_defaults(req: ApiRequest, project_id: str) -> tuple[int, Any]:
    """GET /os-quota-sets/{project_id}/defaults."""
    defaults = api_quota.default_limits(req.runtime.config)
    return 200, {"quota_set": _quota_set(req, defaults, project_id)}


@routes.route("/v2.1/os-quota-sets/<project_id>", ["PUT"])
def update_quota_set(req: ApiRequest, project_id: str) -> tuple[int, Any]:
    """PUT /os-quota-sets/{project_id} (admin): new limits, at least what is in use
    unless ``force``."""
    require_admin(req, "os_compute_api:os-quota-sets:update")
    properties: dict[str, Any] = {name: _LIMIT for name in _resources(req)}
    if not at_least(req, "2.36"):
        properties.update({name: _LIMIT for name in _NETWORK_QUOTAS})
    properties["force"] = BOOLEAN
    body = req.json()
    validate(
        body,
        {
            "type": "object",
            "properties": {
                "quota_set": {
                    "type": "object",
                    "properties": properties,
                    "additionalProperties": False,
                }
            },
            "required": ["quota_set"],
            "additionalProperties": False,
        },
    )
    spec = dict(body["quota_set"])
    force = as_bool(spec.pop("force", False))
    values = {k: int(v) for k, v in spec.items() if k in api_quota.QUOTA_RESOURCES}
    with req.runtime.store.session() as session:
        used = api_quota.usages(session, project_id)
        for name, limit in values.items():
            minimum = used.get(name, 0)
            if not force and limit != -1 and limit < minimum:
                raise BadRequest(
                    f"Quota limit {limit} for {name} must be greater than or equal to "
                    f"already used and reserved {minimum}."
                )
        api_quota.set_overrides(session, project_id, values)
    with req.runtime.store.session() as session:
        limits = api_quota.project_limits(session, req.runtime.config, project_id)
    return 200, {"quota_set": _quota_set(req, limits, None)}


@routes.route("/v2.1/os-quota-sets/<project_id>", ["DELETE"])
def delete_quota_set(req: ApiRequest, project_id: str) -> tuple[int, Any]:
    """DELETE /os-quota-sets/{project_id} (admin): back to the defaults."""
    require_admin(req, "os_compute_api:os-quota-sets:delete")
    with req.runtime.store.session() as session:
        api_quota.delete_overrides(session, project_id)
    return 202, None
