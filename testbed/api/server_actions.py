"""POST /servers/{id}/action: one handler per action, looked up by the body's key.

An action is registered with :func:`action` (``@action("os-stop")``); a later issue adds
resize, migrate, live migration, evacuate and rebuild by registering their handlers (and
removing them from :data:`NOT_YET_AVAILABLE`).  Until then those answer 409 with a
message saying so; an action Nova does not have is a 400, as in Nova.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from testbed.api.common import at_least, require_admin
from testbed.api.routing import RouteTable
from testbed.api.validation import validate
from testbed.compute.api import InstanceOperations
from testbed.exceptions import BadRequest, Conflict
from testbed.web.app import ApiRequest

__all__ = ["ACTIONS", "NOT_YET_AVAILABLE", "action", "routes"]

routes = RouteTable()

ActionHandler = Callable[[ApiRequest, str, Any], tuple[int, Any]]
ACTIONS: dict[str, tuple[ActionHandler, str | None]] = {}

# Nova actions this test-bed recognises but does not perform yet.
NOT_YET_AVAILABLE = frozenset(
    {
        "resize",
        "confirmResize",
        "revertResize",
        "migrate",
        "os-migrateLive",
        "createImage",
        "createBackup",
        "shelve",
        "shelveOffload",
        "unshelve",
        "rescue",
        "unrescue",
        "changePassword",
        "restore",
        "trigger_crash_dump",
        "os-getConsoleOutput",
        "os-getVNCConsole",
        "os-getSPICEConsole",
        "os-getSerialConsole",
        "addSecurityGroup",
        "removeSecurityGroup",
        "addFloatingIp",
        "removeFloatingIp",
        "injectNetworkInfo",
        "resetNetwork",
    }
)


def action(
    name: str, *, min_version: str | None = None
) -> Callable[[ActionHandler], ActionHandler]:
    """Register the handler of the action whose body key is ``name``."""

    def register(fn: ActionHandler) -> ActionHandler:
        ACTIONS[name] = (fn, min_version)
        return fn

    return register


@routes.route("/v2.1/servers/<server_id>/action", ["POST"])
def server_action(req: ApiRequest, server_id: str) -> tuple[int, Any]:
    """Dispatch on the single key of the body."""
    body = req.json()
    if not isinstance(body, dict) or len(body) != 1:
        raise BadRequest("Malformed request body: an action body has exactly one key.")
    name, argument = next(iter(body.items()))
    entry = ACTIONS.get(name)
    if entry is not None and (entry[1] is None or at_least(req, entry[1])):
        return entry[0](req, server_id, argument)
    if name in NOT_YET_AVAILABLE:
        InstanceOperations(req.runtime).get(req.ctx, server_id)
        raise Conflict(
            f"Cannot '{name}' instance {server_id}: the '{name}' action is not available "
            "in this test-bed yet."
        )
    raise BadRequest(f"There is no such action: {name}")


def _ops(req: ApiRequest) -> InstanceOperations:
    return InstanceOperations(req.runtime)


@action("os-stop")
def _stop(req: ApiRequest, server_id: str, _arg: Any) -> tuple[int, Any]:
    _ops(req).stop(req.ctx, server_id)
    return 202, None


@action("os-start")
def _start(req: ApiRequest, server_id: str, _arg: Any) -> tuple[int, Any]:
    _ops(req).start(req.ctx, server_id)
    return 202, None


_REBOOT = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "enum": ["HARD", "Hard", "hard", "SOFT", "Soft", "soft"]}
    },
    "required": ["type"],
    "additionalProperties": False,
}


@action("reboot")
def _reboot(req: ApiRequest, server_id: str, arg: Any) -> tuple[int, Any]:
    validate({"reboot": arg}, {"type": "object", "properties": {"reboot": _REBOOT}})
    _ops(req).reboot(req.ctx, server_id, str(arg["type"]).upper())
    return 202, None


@action("pause")
def _pause(req: ApiRequest, server_id: str, _arg: Any) -> tuple[int, Any]:
    _ops(req).pause(req.ctx, server_id)
    return 202, None


@action("unpause")
def _unpause(req: ApiRequest, server_id: str, _arg: Any) -> tuple[int, Any]:
    _ops(req).unpause(req.ctx, server_id)
    return 202, None


@action("suspend")
def _suspend(req: ApiRequest, server_id: str, _arg: Any) -> tuple[int, Any]:
    _ops(req).suspend(req.ctx, server_id)
    return 202, None


@action("resume")
def _resume(req: ApiRequest, server_id: str, _arg: Any) -> tuple[int, Any]:
    _ops(req).resume(req.ctx, server_id)
    return 202, None


@action("forceDelete")
def _force_delete(req: ApiRequest, server_id: str, _arg: Any) -> tuple[int, Any]:
    _ops(req).delete(req.ctx, server_id, force=True)
    return 202, None


_RESET_STATE = {
    "type": "object",
    "properties": {
        "os-resetState": {
            "type": "object",
            "properties": {"state": {"type": "string", "enum": ["active", "error"]}},
            "required": ["state"],
            "additionalProperties": False,
        }
    },
}


@action("os-resetState")
def _reset_state(req: ApiRequest, server_id: str, arg: Any) -> tuple[int, Any]:
    require_admin(req, "os_compute_api:os-admin-actions:reset_state")
    validate({"os-resetState": arg}, _RESET_STATE)
    _ops(req).reset_state(req.ctx, server_id, arg["state"])
    return 202, None


@action("lock")
def _lock(req: ApiRequest, server_id: str, _arg: Any) -> tuple[int, Any]:
    _ops(req).set_locked(req.ctx, server_id, True)
    return 202, None


@action("unlock")
def _unlock(req: ApiRequest, server_id: str, _arg: Any) -> tuple[int, Any]:
    _ops(req).set_locked(req.ctx, server_id, False)
    return 202, None


# Actions registered by other modules (imported last: they use ``action`` above).
from testbed.api import ha_actions  # noqa: E402, F401  (evacuate, rebuild)
