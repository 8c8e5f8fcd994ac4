"""The volume registry: Cinder's rules for creating, showing, listing, changing and
deleting volumes, and the storage behind them.

A project sees its own volumes; admins see every volume with ``all_tenants``.  The
storage itself is the hypervisor backend's: ``runtime.virt.create_volume(id, size_gb)``
returns the device path, ``runtime.virt.delete_volume(id)`` removes it (both skipped
when the runtime has no backend).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from testbed.context import RequestContext
from testbed.exceptions import BadRequest, NotFound
from testbed.image.rpcapi import ImageAPI
from testbed.service import Runtime
from testbed.store.base import new_uuid
from testbed.volume import views
from testbed.volume.models import Volume, VolumeAttachment

__all__ = ["DELETABLE", "VolumeRegistry", "volume_not_found"]

LOG = logging.getLogger(__name__)

#: Statuses a volume may be deleted in (Cinder's list).
DELETABLE = ("available", "error", "error_restoring", "error_extending", "error_managing")
_SORTABLE = ("created_at", "updated_at", "id", "name", "size", "status", "bootable")
_GIB = 1024**3


def volume_not_found(volume_id: str) -> NotFound:
    """Cinder's wording for a missing (or invisible) volume."""
    return NotFound(f"Volume {volume_id} could not be found.")


def invalid_volume(reason: str) -> BadRequest:
    """Cinder's ``InvalidVolume`` (400)."""
    return BadRequest(f"Invalid volume: {reason}")


class VolumeRegistry:
    """Cinder's volume operations on the store."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    # -- reads ----------------------------------------------------------------------------
    @staticmethod
    def load(s: Session, ctx: RequestContext, volume_id: str) -> Volume:
        """The volume, or ``NotFound`` when missing or another project's."""
        vol = s.get(Volume, volume_id)
        if vol is None or not (ctx.is_admin or vol.project_id == ctx.project_id):
            raise volume_not_found(volume_id)
        return vol

    @staticmethod
    def attachments_of(s: Session, volume_id: str) -> list[VolumeAttachment]:
        """The volume's attachments, oldest first."""
        return list(
            s.scalars(
                select(VolumeAttachment)
                .where(VolumeAttachment.volume_id == volume_id)
                .order_by(VolumeAttachment.created_at, VolumeAttachment.id)
            )
        )

    def render(
        self, s: Session, vol: Volume, ctx: RequestContext, base: str | None = None
    ) -> dict[str, Any]:
        """The detailed API body of ``vol``."""
        return views.volume_detail(vol, self.attachments_of(s, vol.id), base, admin=ctx.is_admin)

    def get(self, ctx: RequestContext, volume_id: str, base: str | None = None) -> dict[str, Any]:
        """One volume (detailed)."""
        with self.runtime.store.session() as s:
            return self.render(s, self.load(s, ctx, volume_id), ctx, base)

    def list_volumes(
        self,
        ctx: RequestContext,
        params: dict[str, str],
        *,
        detail: bool,
        base: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """``GET /volumes[/detail]``: filters (name, status, bootable, availability_zone,
        metadata), ``all_tenants`` for admins, sort and marker/limit.  Returns the page
        and the marker of the next page (None on the last)."""
        all_tenants = ctx.is_admin and params.get("all_tenants", "0").lower() in ("1", "true")
        with self.runtime.store.session() as s:
            vols = [
                v
                for v in s.scalars(select(Volume))
                if (all_tenants or v.project_id == ctx.project_id) and _matches(v, params)
            ]
            for key, direction in reversed(_sort_keys(params)):
                vols.sort(key=_sort_by(key), reverse=direction == "desc")
            marker = params.get("marker")
            if marker:
                ids = [v.id for v in vols]
                if marker not in ids:
                    raise BadRequest(f"Marker {marker} could not be found.")
                vols = vols[ids.index(marker) + 1 :]
            limit = _limit(params, self.runtime.config.osapi_max_limit)
            page = vols[:limit]
            next_marker = page[-1].id if len(vols) > limit and page else None
            if detail:
                return [self.render(s, v, ctx, base) for v in page], next_marker
            return [views.volume_summary(v, base) for v in page], next_marker

    # -- create ---------------------------------------------------------------------------
    def create(
        self, ctx: RequestContext, body: Any, base: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Record a new volume in ``creating`` (``POST /volumes``); the caller then has
        it built (:meth:`build`).  Returns its id and body."""
        if not isinstance(body, dict):
            raise BadRequest("Invalid input for field/attribute volume. Value must be an object.")
        size = _size(body.get("size"))
        image = self._image_for(ctx, body.get("imageRef") or body.get("image_id"), size)
        metadata = body.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise BadRequest("Invalid input for field/attribute metadata. Value must be an object.")
        vol = Volume(
            id=new_uuid(),
            name=body.get("name"),
            description=body.get("description"),
            project_id=ctx.project_id,
            user_id=ctx.user_id,
            size=size,
            status="creating",
            availability_zone=str(body.get("availability_zone") or "nova"),
            multiattach=bool(body.get("multiattach", False)),
            volume_type=str(body.get("volume_type") or "__DEFAULT__"),
            metadata_={str(k): str(v) for k, v in metadata.items()},
            bootable=image is not None,
            image_id=image["id"] if image else None,
            image_metadata=_image_metadata(image) if image else None,
        )
        with self.runtime.store.session() as s:
            s.add(vol)
            s.flush()
            return vol.id, self.render(s, vol, ctx, base)

    def _image_for(self, ctx: RequestContext, image_id: Any, size: int) -> dict[str, Any] | None:
        if not image_id:
            return None
        try:
            image = ImageAPI(self.runtime.bus).get_image(ctx, str(image_id))
        except NotFound as exc:
            raise BadRequest(
                "Invalid image identifier or unable to access requested image."
            ) from exc
        if image.get("status") != "active":
            raise BadRequest(f"Invalid input received: Image {image_id} is not active.")
        image_gb = math.ceil((image.get("size") or 0) / _GIB)
        if image_gb > size:
            raise BadRequest(
                f"Invalid input received: Size of specified image {image_gb}GB "
                f"is larger than volume size {size}GB."
            )
        if (image.get("min_disk") or 0) > size:
            raise BadRequest(
                f"Invalid input received: Volume size {size}GB cannot be smaller "
                f"than the image minDisk size {image['min_disk']}GB."
            )
        return image

    def build(self, volume_id: str) -> None:
        """Make the storage of a ``creating`` volume; it goes ``available`` (``error`` when
        the backend fails)."""
        with self.runtime.store.session() as s:
            vol = s.get(Volume, volume_id)
            if vol is None or vol.status != "creating":
                return
            size = vol.size
        try:
            path = self._backend_create(volume_id, size)
        except Exception:
            LOG.exception("the storage backend failed to create volume %s", volume_id)
            with self.runtime.store.session() as s:
                failed = s.get(Volume, volume_id)
                if failed is not None:
                    failed.status = "error"
            return
        with self.runtime.store.session() as s:
            vol = s.get(Volume, volume_id)
            if vol is not None:
                vol.provider_location = path
                vol.status = "available"

    def _backend_create(self, volume_id: str, size: int) -> str | None:
        virt = self.runtime.virt
        if virt is not None and hasattr(virt, "create_volume"):
            return str(virt.create_volume(volume_id, size))
        return None

    # -- update / delete ------------------------------------------------------------------
    def update(
        self, ctx: RequestContext, volume_id: str, body: Any, base: str | None = None
    ) -> dict[str, Any]:
        """``PUT /volumes/{id}``: name, description, metadata."""
        if not isinstance(body, dict):
            raise BadRequest("Invalid input for field/attribute volume. Value must be an object.")
        with self.runtime.store.session() as s:
            vol = self.load(s, ctx, volume_id)
            if "name" in body or "display_name" in body:
                vol.name = body.get("name", body.get("display_name"))
            if "description" in body or "display_description" in body:
                vol.description = body.get("description", body.get("display_description"))
            if "metadata" in body:
                if not isinstance(body["metadata"], dict):
                    raise BadRequest("Invalid input for field/attribute metadata.")
                vol.metadata_ = {str(k): str(v) for k, v in body["metadata"].items()}
            s.flush()
            return self.render(s, vol, ctx, base)

    def begin_delete(self, ctx: RequestContext, volume_id: str) -> None:
        """Check that the volume may go and mark it ``deleting``; :meth:`destroy` ends it."""
        with self.runtime.store.session() as s:
            vol = self.load(s, ctx, volume_id)
            if vol.status not in DELETABLE or self.attachments_of(s, volume_id):
                raise invalid_volume(
                    "Volume status must be available or error or error_restoring or "
                    "error_extending or error_managing and must not be migrating, attached, "
                    "belong to a group, have snapshots, awaiting a transfer, or be "
                    "disassociated from snapshots after volume transfer."
                )
            vol.status = "deleting"

    def destroy(self, volume_id: str) -> None:
        """Remove the storage and the record of a ``deleting`` volume."""
        try:
            virt = self.runtime.virt
            if virt is not None and hasattr(virt, "delete_volume"):
                virt.delete_volume(volume_id)
        except Exception:
            LOG.exception("the storage backend failed to delete volume %s", volume_id)
            with self.runtime.store.session() as s:
                vol = s.get(Volume, volume_id)
                if vol is not None:
                    vol.status = "error_deleting"
            return
        with self.runtime.store.session() as s:
            vol = s.get(Volume, volume_id)
            if vol is not None:
                s.delete(vol)

    # -- seeding --------------------------------------------------------------------------
    def seed(self, spec: dict[str, Any]) -> None:
        """Insert an ``available`` volume from a topology file's entry (storage made)."""
        volume_id = str(spec.get("id") or new_uuid())
        vol = Volume(
            id=volume_id,
            name=spec.get("name"),
            description=spec.get("description"),
            project_id=spec.get("project_id") or spec.get("project"),
            user_id=spec.get("user_id"),
            size=int(spec.get("size", 1)),
            status="creating",
            availability_zone=str(spec.get("availability_zone") or "nova"),
            bootable=bool(spec.get("bootable", False)),
            multiattach=bool(spec.get("multiattach", False)),
            metadata_={str(k): str(v) for k, v in (spec.get("metadata") or {}).items()},
        )
        with self.runtime.store.session() as s:
            if s.get(Volume, volume_id) is not None:
                return
            s.add(vol)
        self.build(volume_id)


def _size(value: Any) -> int:
    try:
        size = int(value)
        if isinstance(value, bool) or float(value) != size:
            raise ValueError(value)
    except (TypeError, ValueError) as exc:
        raise BadRequest(
            f"Invalid input received: Volume size '{value}' must be an integer and greater than 0"
        ) from exc
    if size <= 0:
        raise BadRequest(
            f"Invalid input received: Volume size '{value}' must be an integer and greater than 0"
        )
    return size


def _image_metadata(image: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "image_id": image["id"],
        "image_name": image.get("name"),
        "checksum": image.get("checksum"),
        "container_format": image.get("container_format"),
        "disk_format": image.get("disk_format"),
        "min_disk": image.get("min_disk", 0),
        "min_ram": image.get("min_ram", 0),
        "size": image.get("size"),
    }
    meta.update(image.get("properties") or {})
    return {k: v for k, v in meta.items() if v is not None}


def _matches(vol: Volume, params: dict[str, str]) -> bool:
    checks = {
        "name": vol.name,
        "status": vol.status,
        "availability_zone": vol.availability_zone,
        "bootable": "true" if vol.bootable else "false",
    }
    for key, actual in checks.items():
        wanted = params.get(key)
        if wanted is None:
            continue
        if key == "bootable":
            wanted = "true" if wanted.lower() in ("true", "1") else "false"
        if actual != wanted:
            return False
    return True


def _limit(params: dict[str, str], max_limit: int) -> int:
    raw = params.get("limit")
    if raw is None:
        return max_limit
    try:
        limit = int(raw)
    except ValueError as exc:
        raise BadRequest("limit param must be an integer") from exc
    if limit < 0:
        raise BadRequest("limit param must be positive")
    return min(limit, max_limit)


def _sort_keys(params: dict[str, str]) -> list[tuple[str, str]]:
    keys: list[tuple[str, str]] = []
    if params.get("sort"):
        for item in params["sort"].split(","):
            key, _, direction = item.strip().partition(":")
            keys.append((key, direction or "desc"))
    elif params.get("sort_key"):
        keys.append((params["sort_key"], params.get("sort_dir", "desc")))
    keys = keys or [("created_at", "desc")]
    for key, direction in keys:
        if key not in _SORTABLE or direction not in ("asc", "desc"):
            raise BadRequest(f"Invalid input received: sort {key}:{direction} is not valid.")
    if all(k != "id" for k, _ in keys):
        keys.append(("id", keys[-1][1]))
    return keys


def _sort_by(key: str) -> Callable[[Volume], tuple[bool, Any]]:
    def value(vol: Volume) -> tuple[bool, Any]:
        current = getattr(vol, key)
        return (current is not None, current if current is not None else 0)

    return value
