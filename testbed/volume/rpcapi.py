"""RPC client of the volume service (topic ``volume``): Cinder's attachment flow.

A volume is attached in two steps: ``attachment_create`` (reserve: the volume is
``reserved``, as in Cinder) then ``attachment_update`` with the host's connector (volume
``attaching``), which returns ``connection_info`` (``{driver_volume_type: "file", data:
{device_path}}`` on the shared volume storage); ``attachment_complete`` marks it
``in-use``; ``attachment_delete`` detaches (``available`` again when no attachment is
left).
"""

from __future__ import annotations

from typing import Any

from testbed.context import RequestContext
from testbed.rpc import RpcClient


class VolumeAPI(RpcClient):
    """What compute services ask of the volume service."""

    topic = "volume"

    def get_volume(self, ctx: RequestContext, volume_id: str) -> dict[str, Any]:
        """The volume as the Block Storage API shows it; ``NotFound`` if missing."""
        result: dict[str, Any] = self._call(ctx, "get_volume", volume_id=volume_id)
        return result

    def create_volume(
        self, ctx: RequestContext, size: int, *, name: str = "", image_id: str | None = None
    ) -> dict[str, Any]:
        """A new volume (from an image for boot-from-volume); ``available`` when returned."""
        result: dict[str, Any] = self._call(
            ctx, "create_volume", size=size, name=name, image_id=image_id
        )
        return result

    def delete_volume(self, ctx: RequestContext, volume_id: str) -> None:
        """Delete an available volume."""
        self._call(ctx, "delete_volume", volume_id=volume_id)

    def attachment_create(
        self, ctx: RequestContext, volume_id: str, instance_uuid: str
    ) -> dict[str, Any]:
        """Reserve the volume for the instance: ``{id, volume_id, instance_uuid, status}``.
        ``Conflict`` if the volume is not available (or multiattach does not allow it)."""
        result: dict[str, Any] = self._call(
            ctx, "attachment_create", volume_id=volume_id, instance_uuid=instance_uuid
        )
        return result

    def attachment_update(
        self, ctx: RequestContext, attachment_id: str, connector: dict[str, Any]
    ) -> dict[str, Any]:
        """Give the host's connector (``{host, ...}``); returns the attachment with
        ``connection_info``."""
        result: dict[str, Any] = self._call(
            ctx, "attachment_update", attachment_id=attachment_id, connector=connector
        )
        return result

    def attachment_complete(self, ctx: RequestContext, attachment_id: str) -> None:
        """The host has connected the volume: it is ``in-use``."""
        self._call(ctx, "attachment_complete", attachment_id=attachment_id)

    def attachment_delete(self, ctx: RequestContext, attachment_id: str) -> None:
        """Detach: the attachment goes; the volume is ``available`` when none is left."""
        self._call(ctx, "attachment_delete", attachment_id=attachment_id)

    def attachment_get(self, ctx: RequestContext, attachment_id: str) -> dict[str, Any]:
        """One attachment (``connection_info`` once a connector was given);
        ``NotFound`` if it does not exist."""
        result: dict[str, Any] = self._call(ctx, "attachment_get", attachment_id=attachment_id)
        return result

    def build_volume(self, ctx: RequestContext, volume_id: str) -> None:
        """Cast: make the storage of a volume recorded as ``creating`` (the Block Storage
        API's create); it goes ``available``, or ``error`` if the backend fails."""
        self._cast(ctx, "build_volume", volume_id=volume_id)

    def destroy_volume(self, ctx: RequestContext, volume_id: str) -> None:
        """Cast: remove a volume the Block Storage API marked ``deleting``."""
        self._cast(ctx, "destroy_volume", volume_id=volume_id)
