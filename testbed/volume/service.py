"""The volume service on the bus (topic ``volume``): Cinder's volume manager and the
attachment API Nova uses."""

from __future__ import annotations

from typing import Any

from testbed.context import RequestContext
from testbed.exceptions import BadRequest
from testbed.service import Runtime, Service
from testbed.volume.attachments import Attachments
from testbed.volume.volumes import VolumeRegistry

__all__ = ["VolumeEndpoint", "VolumeService"]


class VolumeEndpoint:
    """RPC methods of the volume service (see :class:`testbed.volume.rpcapi.VolumeAPI`)."""

    def __init__(self, volumes: VolumeRegistry) -> None:
        self._volumes = volumes
        self._attachments = Attachments(volumes)

    def get_volume(self, ctx: RequestContext, volume_id: str) -> dict[str, Any]:
        """The volume (detailed, without links)."""
        return self._volumes.get(ctx, volume_id)

    def create_volume(
        self, ctx: RequestContext, size: int, name: str = "", image_id: str | None = None
    ) -> dict[str, Any]:
        """A new volume, built before the answer: ``available`` when returned."""
        body: dict[str, Any] = {"size": size, "name": name or None}
        if image_id:
            body["imageRef"] = image_id
        volume_id, _ = self._volumes.create(ctx, body)
        self._volumes.build(volume_id)
        return self._volumes.get(ctx, volume_id)

    def delete_volume(self, ctx: RequestContext, volume_id: str) -> None:
        """Delete an available (or failed) volume now."""
        self._volumes.begin_delete(ctx, volume_id)
        self._volumes.destroy(volume_id)

    def build_volume(self, ctx: RequestContext, volume_id: str) -> None:
        """Make the storage of a volume the API recorded as ``creating``."""
        self._volumes.build(volume_id)

    def destroy_volume(self, ctx: RequestContext, volume_id: str) -> None:
        """Remove a volume the API marked ``deleting``."""
        self._volumes.destroy(volume_id)

    def attachment_create(
        self, ctx: RequestContext, volume_id: str, instance_uuid: str
    ) -> dict[str, Any]:
        """Reserve the volume for the instance."""
        return self._attachments.create(ctx, volume_id, instance_uuid)

    def attachment_update(
        self, ctx: RequestContext, attachment_id: str, connector: dict[str, Any]
    ) -> dict[str, Any]:
        """Take the host's connector; returns the attachment with ``connection_info``."""
        if not isinstance(connector, dict):
            raise BadRequest("Invalid input received: connector must be an object.")
        return self._attachments.update(ctx, attachment_id, connector)

    def attachment_complete(self, ctx: RequestContext, attachment_id: str) -> None:
        """The volume is connected: ``in-use``."""
        self._attachments.complete(ctx, attachment_id)

    def attachment_delete(self, ctx: RequestContext, attachment_id: str) -> None:
        """Detach."""
        self._attachments.delete(ctx, attachment_id)

    def attachment_get(self, ctx: RequestContext, attachment_id: str) -> dict[str, Any]:
        """One attachment (with ``connection_info`` once a connector was given)."""
        return self._attachments.get(ctx, attachment_id)


class VolumeService(Service):
    """Cinder: serves the ``volume`` topic."""

    binary = "cinder-volume"

    def __init__(self, runtime: Runtime, *, host: str = "controller") -> None:
        super().__init__(runtime, host=host)
        self.volumes = VolumeRegistry(runtime)

    @property
    def topic(self) -> str:
        return "volume"

    def endpoint(self) -> object:
        return VolumeEndpoint(self.volumes)
