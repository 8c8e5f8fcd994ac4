"""RPC client of the image service (topic ``image``)."""

from __future__ import annotations

from typing import Any

from testbed.context import RequestContext
from testbed.rpc import RpcClient


class ImageAPI(RpcClient):
    """What compute services ask of the image service."""

    topic = "image"

    def get_image(self, ctx: RequestContext, image_id: str) -> dict[str, Any]:
        """The image as the Image API shows it (id, name, status, size, min_disk,
        min_ram, disk_format, container_format, visibility, owner, properties).
        ``NotFound`` if missing or not visible to ``ctx``'s project."""
        result: dict[str, Any] = self._call(ctx, "get_image", image_id=image_id)
        return result
