"""Seed the image service from a topology file's ``images`` section."""

from __future__ import annotations

from typing import Any

from testbed.image.registry import ImageRegistry
from testbed.service import Runtime

__all__ = ["seed_image"]


def seed_image(runtime: Runtime, images: list[dict[str, Any]]) -> None:
    """Insert each image as ``active`` (default visibility ``public``).

    Entries take the Image API's attributes (``id, name, disk_format, container_format,
    size, min_disk, min_ram, visibility, properties``, optionally ``owner`` or
    ``project_id`` and ``checksum``); unknown keys become custom properties.  Seeding is
    idempotent: an image whose id exists is left as it is.
    """
    registry = ImageRegistry(runtime)
    for spec in images or []:
        registry.seed(spec)
