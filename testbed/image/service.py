"""The image service on the bus (topic ``image``): what compute services ask of Glance."""

from __future__ import annotations

from typing import Any

from testbed.context import RequestContext
from testbed.image.registry import ImageRegistry
from testbed.service import Runtime, Service

__all__ = ["ImageEndpoint", "ImageService"]


class ImageEndpoint:
    """RPC methods of the image service (see :class:`testbed.image.rpcapi.ImageAPI`)."""

    def __init__(self, registry: ImageRegistry) -> None:
        self._registry = registry

    def get_image(self, ctx: RequestContext, image_id: str) -> dict[str, Any]:
        """The image (core attributes + ``properties``); NotFound if not visible."""
        return self._registry.get_for_rpc(ctx, image_id)

    def create_image(self, ctx: RequestContext, image: dict[str, Any]) -> dict[str, Any]:
        """A queued image, as ``POST /v2/images`` with body ``image`` would make it."""
        created = self._registry.create(ctx, image)
        return self._registry.get_for_rpc(ctx, created["id"])

    def activate_image(self, ctx: RequestContext, image_id: str, size: int) -> dict[str, Any]:
        """Mark a queued image's data as uploaded (``size`` bytes): it goes ``active``."""
        return self._registry.activate(ctx, image_id, size)

    def delete_image(self, ctx: RequestContext, image_id: str) -> None:
        """Delete the image (as ``DELETE /v2/images/{id}``)."""
        self._registry.delete(ctx, image_id)


class ImageService(Service):
    """Glance: serves the ``image`` topic."""

    binary = "glance-api"

    def __init__(self, runtime: Runtime, *, host: str = "controller") -> None:
        super().__init__(runtime, host=host)
        self.registry = ImageRegistry(runtime)

    @property
    def topic(self) -> str:
        return "image"

    def endpoint(self) -> object:
        return ImageEndpoint(self.registry)
