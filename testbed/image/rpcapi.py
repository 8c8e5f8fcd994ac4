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

    def create_image(self, ctx: RequestContext, image: dict[str, Any]) -> dict[str, Any]:
        """Create a ``queued`` image from Image API attributes (a snapshot's record);
        returns it as :meth:`get_image` does."""
        result: dict[str, Any] = self._call(ctx, "create_image", image=image)
        return result

    def activate_image(self, ctx: RequestContext, image_id: str, size: int) -> dict[str, Any]:
        """The hypervisor has written ``size`` bytes of the queued image: it is ``active``.
        ``Conflict`` unless the image is ``queued``."""
        result: dict[str, Any] = self._call(ctx, "activate_image", image_id=image_id, size=size)
        return result

    def delete_image(self, ctx: RequestContext, image_id: str) -> None:
        """Delete an image (``Forbidden`` if protected or not the caller's)."""
        self._call(ctx, "delete_image", image_id=image_id)
