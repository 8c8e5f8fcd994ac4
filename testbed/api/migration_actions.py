"""The move actions of POST /servers/{id}/action: resize, confirmResize, revertResize,
migrate and os-migrateLive (registered in testbed/api/server_actions.py's table).

``migrate`` and ``os-migrateLive`` are admin actions (Nova's default policy); a target
``host`` for ``migrate`` needs 2.56; ``block_migration`` "auto" needs 2.25 (before it,
a boolean and ``disk_over_commit`` are required).  The work itself is in
testbed/compute/migrate_api.py.
"""

from __future__ import annotations

from typing import Any

from testbed.api.common import at_least, require_admin
from testbed.api.routing import RouteTable
from testbed.api.server_actions import action
from testbed.api.validation import validate
from testbed.compute.migrate_api import MigrationOperations
from testbed.exceptions import BadRequest
from testbed.web.app import ApiRequest

__all__ = ["routes"]

#: No routes of its own: importing the module registers its actions.
routes = RouteTable()

_HOST = {"type": ["string", "null"], "minLength": 1, "maxLength": 255}
_BOOL = {"type": ["boolean", "string"], "enum": [True, False, "true", "false", "True", "False"]}


def _ops(req: ApiRequest) -> MigrationOperations:
    return MigrationOperations(req.runtime)


@action("resize")
def _resize(req: ApiRequest, server_id: str, arg: Any) -> tuple[int, Any]:
    schema = {
        "type": "object",
        "properties": {
            "resize": {
                "type": "object",
                "properties": {
                    "flavorRef": {"type": ["string", "integer"], "minLength": 1},
                    "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]},
                },
                "required": ["flavorRef"],
                "additionalProperties": False,
            }
        },
    }
    validate({"resize": arg}, schema)
    _ops(req).resize(req.ctx, server_id, str(arg["flavorRef"]))
    return 202, None


@action("confirmResize")
def _confirm(req: ApiRequest, server_id: str, _arg: Any) -> tuple[int, Any]:
    _ops(req).confirm(req.ctx, server_id)
    return 204, None


@action("revertResize")
def _revert(req: ApiRequest, server_id: str, _arg: Any) -> tuple[int, Any]:
    _ops(req).revert(req.ctx, server_id)
    return 202, None


@action("migrate")
def _migrate(req: ApiRequest, server_id: str, arg: Any) -> tuple[int, Any]:
    require_admin(req, "os_compute_api:os-migrate-server:migrate")
    host = None
    if arg is not None:
        properties: dict[str, Any] = {"host": _HOST} if at_least(req, "2.56") else {}
        schema = {
            "type": "object",
            "properties": {
                "migrate": {
                    "type": ["object", "null"],
                    "properties": properties,
                    "additionalProperties": False,
                }
            },
        }
        validate({"migrate": arg}, schema)
        host = arg.get("host")
    _ops(req).resize(req.ctx, server_id, None, host)
    return 202, None


def _as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise BadRequest(f"Invalid input for field/attribute {name}. Value: {value}.")


@action("os-migrateLive")
def _live_migrate(req: ApiRequest, server_id: str, arg: Any) -> tuple[int, Any]:
    require_admin(req, "os_compute_api:os-migrate-server:migrate_live")
    if not isinstance(arg, dict):
        raise BadRequest("Invalid input for field/attribute os-migrateLive.")
    allowed = {"host", "block_migration"}
    if at_least(req, "2.30") and not at_least(req, "2.68"):
        allowed.add("force")
    if not at_least(req, "2.25"):
        allowed.add("disk_over_commit")
    extra = set(arg) - allowed
    if extra:
        raise BadRequest(
            "Invalid input for field/attribute os-migrateLive. Additional properties are not "
            f"allowed ({', '.join(sorted(repr(e) for e in extra))} were unexpected)"
        )
    if "host" not in arg or "block_migration" not in arg:
        raise BadRequest(
            "Invalid input for field/attribute os-migrateLive: 'host' and "
            "'block_migration' are required properties."
        )
    host = arg.get("host")
    if host is not None and (not isinstance(host, str) or not host):
        raise BadRequest(f"Invalid input for field/attribute host. Value: {host}.")
    raw = arg.get("block_migration")
    auto = raw == "auto" and at_least(req, "2.25")
    block = None if auto else _as_bool(raw, "block_migration")
    _ops(req).live_migrate(req.ctx, server_id, host, block)
    return 202, None
