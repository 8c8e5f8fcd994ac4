"""The images a compute host has fetched: Nova's cache of base images.

A Nova compute host downloads an image from the image service the first time it builds a
server from it and keeps the base file; later builds there use the file without asking
the image service again (even for an image deleted since, while the file is there).  The
image's metadata travels with the build request: the API read it when it accepted the
server.  So here the first build of an image on a host fetches it (a missing or hidden
image fails that build), later builds on the host take the request's copy.
"""

from __future__ import annotations

import threading
from typing import Any

from testbed.context import RequestContext
from testbed.image.rpcapi import ImageAPI

__all__ = ["ImageCache"]


class ImageCache:
    """The image ids one compute host holds base files of."""

    def __init__(self, image_api: ImageAPI) -> None:
        self._image_api = image_api
        self._held: set[str] = set()
        self._lock = threading.Lock()

    def image_for_build(
        self, ctx: RequestContext, image_id: str, requested: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The image to build from: the request's copy when the host holds the image and
        the request carries it, else fetched from the image service (errors propagate)."""
        with self._lock:
            held = image_id in self._held
        if held and requested is not None and requested.get("id") == image_id:
            return requested
        image = self._image_api.get_image(ctx, image_id)
        with self._lock:
            self._held.add(image_id)
        return image
