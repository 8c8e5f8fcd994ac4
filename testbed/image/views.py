"""How the Image API v2 shows an image (Glance's representation)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Row

from testbed.image.models import Image

__all__ = ["ImageRecord", "image", "isotime", "rpc_image"]

ImageRecord = Image | Row[Any]
"""An image as loaded (the ORM object), or as a Core row of its columns (read paths)."""


def isotime(seconds: float | None) -> str | None:
    """Glance's timestamp form: ``2026-01-01T00:00:00Z``."""
    if seconds is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _core(img: ImageRecord) -> dict[str, Any]:
    return {
        "id": img.id,
        "name": img.name,
        "status": img.status,
        "visibility": img.visibility,
        "protected": bool(img.protected),
        "os_hidden": bool(img.os_hidden),
        "owner": img.owner,
        "size": img.size,
        "virtual_size": img.virtual_size,
        "min_disk": img.min_disk,
        "min_ram": img.min_ram,
        "disk_format": img.disk_format,
        "container_format": img.container_format,
        "checksum": img.checksum,
        "os_hash_algo": img.os_hash_algo,
        "os_hash_value": img.os_hash_value,
        "tags": list(img.tags or []),
        "created_at": isotime(img.created_at),
        "updated_at": isotime(img.updated_at if img.updated_at is not None else img.created_at),
    }


def image(img: ImageRecord) -> dict[str, Any]:
    """The image as ``GET /v2/images/{id}`` returns it: core attributes, then the custom
    properties flattened beside them; links are relative, as Glance's are."""
    body = _core(img)
    body["self"] = f"/v2/images/{img.id}"
    body["file"] = f"/v2/images/{img.id}/file"
    body["schema"] = "/v2/schemas/image"
    for key, value in (img.properties or {}).items():
        body.setdefault(key, value)
    return body


def rpc_image(img: ImageRecord) -> dict[str, Any]:
    """The image as the RPC ``get_image`` returns it: core attributes and a separate
    ``properties`` dict (what Nova's ``ImageMeta`` is built from)."""
    body = _core(img)
    body["properties"] = dict(img.properties or {})
    return body
