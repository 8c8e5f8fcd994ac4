"""The ``evacuate`` and ``rebuild`` server actions (registered with
:func:`testbed.api.server_actions.action`).

evacuate (admin; Nova's ``os-evacuate``), body by microversion:

- 2.1-2.13: ``{host?, onSharedStorage (required), adminPass?}``; 200 ``{"adminPass"}``
  (generated unless the disk is on shared storage; ``adminPass`` with
  ``onSharedStorage`` true is a 400);
- 2.14-2.28: ``{host?, adminPass?}`` (shared storage is detected); 200, no body;
- 2.29-2.67: ``{host?, adminPass?, force?}`` (``force`` needs a host);
- 2.68+: ``{host?, adminPass?}``; from 2.95 the instance lands ``stopped``.

rebuild: ``{imageRef, name?, adminPass?, metadata?, preserve_ephemeral?,
OS-DCF:diskConfig?, accessIPv4?, accessIPv6?, personality? (< 2.57), description? (2.19),
key_name? (2.54), user_data? (2.57), trusted_image_certificates? (2.63), hostname?
(2.90)}``; 202 with the server and its ``adminPass``.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from testbed.api.common import at_least, require_admin
from testbed.api.server_actions import action
from testbed.api.validation import BOOLEAN, as_bool, name_schema, validate
from testbed.compute.evacuate_api import EvacuateOperations
from testbed.compute.rebuild_api import RebuildOperations
from testbed.exceptions import BadRequest
from testbed.web.app import ApiRequest

__all__ = ["evacuate_schema", "rebuild_schema"]

_HOST = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[a-zA-Z0-9-._]*$"}
_PASSWORD = {"type": "string"}


def _password() -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(12))


def evacuate_schema(req: ApiRequest) -> dict[str, Any]:
    """The evacuate body's schema at the request's microversion."""
    properties: dict[str, Any] = {"host": _HOST, "adminPass": _PASSWORD}
    required: list[str] = []
    if not at_least(req, "2.14"):
        properties["onSharedStorage"] = BOOLEAN
        required = ["onSharedStorage"]
    elif at_least(req, "2.29") and not at_least(req, "2.68"):
        properties["force"] = BOOLEAN
    body = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"evacuate": body},
        "required": ["evacuate"],
        "additionalProperties": False,
    }


@action("evacuate")
def _evacuate(req: ApiRequest, server_id: str, arg: Any) -> tuple[int, Any]:
    require_admin(req, "os_compute_api:os-evacuate")
    validate({"evacuate": arg}, evacuate_schema(req))
    host = arg.get("host")
    force = as_bool(arg["force"]) if "force" in arg else False
    if force and not host:
        raise BadRequest("Can't force to a non-provided destination")
    on_shared_storage: bool | None = None
    password: str | None = arg.get("adminPass")
    legacy = not at_least(req, "2.14")
    if legacy:
        on_shared_storage = as_bool(arg["onSharedStorage"])
        if password is not None and on_shared_storage:
            raise BadRequest("admin password can't be changed on existing disk")
        if password is None and not on_shared_storage:
            password = _password()
    EvacuateOperations(req.runtime).evacuate(
        req.ctx,
        server_id,
        host=host,
        on_shared_storage=on_shared_storage,
        force=force,
        target_state="stopped" if at_least(req, "2.95") else None,
    )
    return 200, ({"adminPass": password} if legacy else None)


_REBUILD_BASE: dict[str, Any] = {
    "imageRef": {"type": "string", "minLength": 1},
    "name": name_schema(),
    "adminPass": _PASSWORD,
    "metadata": {
        "type": "object",
        "patternProperties": {"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": "string", "maxLength": 255}},
        "additionalProperties": False,
    },
    "preserve_ephemeral": {"type": "boolean"},
    "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]},
    "accessIPv4": {"type": "string"},
    "accessIPv6": {"type": "string"},
}


def rebuild_schema(req: ApiRequest) -> dict[str, Any]:
    """The rebuild body's schema at the request's microversion."""
    properties = dict(_REBUILD_BASE)
    if not at_least(req, "2.57"):
        properties["personality"] = {"type": "array"}
    for version, name, schema in (
        ("2.19", "description", {"type": ["string", "null"], "maxLength": 255}),
        ("2.54", "key_name", {"type": ["string", "null"]}),
        ("2.57", "user_data", {"type": ["string", "null"]}),
        ("2.63", "trusted_image_certificates", {"type": ["array", "null"]}),
        ("2.90", "hostname", {"type": "string", "minLength": 1, "maxLength": 63}),
    ):
        if at_least(req, version):
            properties[name] = schema
    body = {
        "type": "object",
        "properties": properties,
        "required": ["imageRef"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"rebuild": body},
        "required": ["rebuild"],
        "additionalProperties": False,
    }


@action("rebuild")
def _rebuild(req: ApiRequest, server_id: str, arg: Any) -> tuple[int, Any]:
    validate({"rebuild": arg}, rebuild_schema(req))
    from testbed.api.servers import show_body

    RebuildOperations(req.runtime).rebuild(req.ctx, server_id, arg["imageRef"], dict(arg))
    body = show_body(req, server_id)
    body["server"]["adminPass"] = arg.get("adminPass") or _password()
    return 202, body
