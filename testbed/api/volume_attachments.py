"""/servers/{id}/os-volume_attachments: list, show, attach, detach (swap is not available
in the test-bed yet)."""

from __future__ import annotations

from typing import Any

from testbed.api.common import at_least
from testbed.api.routing import RouteTable
from testbed.api.validation import BOOLEAN, UUID, as_bool, validate
from testbed.compute.api_volumes import VolumeAttachments
from testbed.compute.models import BlockDeviceMapping
from testbed.exceptions import Conflict
from testbed.web.app import ApiRequest

__all__ = ["routes"]

routes = RouteTable()


def _view(req: ApiRequest, server_id: str, bdm: BlockDeviceMapping) -> dict[str, Any]:
    view: dict[str, Any] = {
        "device": bdm.device_name,
        "serverId": server_id,
        "volumeId": bdm.volume_id,
    }
    if not at_least(req, "2.89"):
        view["id"] = bdm.volume_id
    if at_least(req, "2.70"):
        view["tag"] = None
    if at_least(req, "2.79"):
        view["delete_on_termination"] = bool(bdm.delete_on_termination)
    if at_least(req, "2.89"):
        view["attachment_id"] = bdm.attachment_id
        view["bdm_uuid"] = bdm.uuid
    return view


def _attach_schema(req: ApiRequest) -> dict[str, Any]:
    props: dict[str, Any] = {
        "volumeId": UUID,
        "device": {
            "type": ["string", "null"],
            "pattern": "^/dev/x{0,1}[a-z]{0,1}d{0,1}[a-z]+[0-9]*$",
        },
    }
    if at_least(req, "2.49"):
        props["tag"] = {"type": "string", "maxLength": 60}
    if at_least(req, "2.79"):
        props["delete_on_termination"] = BOOLEAN
    return {
        "type": "object",
        "properties": {
            "volumeAttachment": {
                "type": "object",
                "properties": props,
                "required": ["volumeId"],
                "additionalProperties": False,
            }
        },
        "required": ["volumeAttachment"],
        "additionalProperties": False,
    }


@routes.route("/v2.1/servers/<server_id>/os-volume_attachments", ["GET"])
def list_attachments(req: ApiRequest, server_id: str) -> tuple[int, Any]:
    """GET /servers/{id}/os-volume_attachments."""
    bdms = VolumeAttachments(req.runtime).list(req.ctx, server_id)
    return 200, {"volumeAttachments": [_view(req, server_id, b) for b in bdms]}


@routes.route("/v2.1/servers/<server_id>/os-volume_attachments", ["POST"])
def attach_volume(req: ApiRequest, server_id: str) -> tuple[int, Any]:
    """POST /servers/{id}/os-volume_attachments: ``{"volumeAttachment": {"volumeId"}}``."""
    body = req.json()
    validate(body, _attach_schema(req))
    spec = body["volumeAttachment"]
    bdm = VolumeAttachments(req.runtime).attach(
        req.ctx,
        server_id,
        spec["volumeId"],
        spec.get("device"),
        as_bool(spec.get("delete_on_termination", False)),
    )
    return 200, {"volumeAttachment": _view(req, server_id, bdm)}


@routes.route("/v2.1/servers/<server_id>/os-volume_attachments/<volume_id>", ["GET"])
def show_attachment(req: ApiRequest, server_id: str, volume_id: str) -> tuple[int, Any]:
    """GET /servers/{id}/os-volume_attachments/{volume_id}."""
    bdm = VolumeAttachments(req.runtime).find(req.ctx, server_id, volume_id)
    return 200, {"volumeAttachment": _view(req, server_id, bdm)}


@routes.route("/v2.1/servers/<server_id>/os-volume_attachments/<volume_id>", ["PUT"])
def swap_volume(req: ApiRequest, server_id: str, volume_id: str) -> tuple[int, Any]:
    """Swapping a volume is not available in the test-bed yet."""
    VolumeAttachments(req.runtime).find(req.ctx, server_id, volume_id)
    raise Conflict(
        "Swapping or updating a volume attachment is not available in this test-bed yet."
    )


@routes.route("/v2.1/servers/<server_id>/os-volume_attachments/<volume_id>", ["DELETE"])
def detach_volume(req: ApiRequest, server_id: str, volume_id: str) -> tuple[int, Any]:
    """DELETE /servers/{id}/os-volume_attachments/{volume_id}: 202."""
    VolumeAttachments(req.runtime).detach(req.ctx, server_id, volume_id)
    return 202, None
