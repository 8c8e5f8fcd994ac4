"""The image registry: Glance v2's rules for creating, showing, listing, changing and
deleting images, on the store.

Both the HTTP API and the RPC endpoint go through :class:`ImageRegistry`; it returns
plain dicts in the Image API's representation (:mod:`testbed.image.views`).

Visibility follows Glance: ``public`` and ``community`` images are visible to every
project, ``private`` and ``shared`` ones to their owner (image members are not
emulated); admins see everything.  Only the owner (or an admin) may change or delete.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from testbed.context import RequestContext
from testbed.exceptions import BadRequest, Conflict, Forbidden, NotFound
from testbed.image import views
from testbed.image.models import Image
from testbed.image.schema import (
    CORE_WRITABLE,
    READ_ONLY,
    RESERVED,
    check_value,
)
from testbed.image.views import ImageRecord
from testbed.service import Runtime
from testbed.store.base import new_uuid

__all__ = ["MAX_KEPT_BYTES", "ImageRegistry", "UploadResult"]

#: Image data up to this size is kept (and can be downloaded); larger data only leaves
#: its size and checksums behind.
MAX_KEPT_BYTES = 4 * 1024 * 1024

_IMAGES = cast(Table, Image.__table__)
_READ = select(*(c for c in _IMAGES.c if c.key != "data")).where(_IMAGES.c.id == bindparam("id"))

_LIST_PARAMS = {"limit", "marker", "sort_key", "sort_dir", "sort"}
_SORTABLE = {
    "name",
    "status",
    "created_at",
    "updated_at",
    "size",
    "id",
    "min_disk",
    "min_ram",
    "disk_format",
    "container_format",
    "visibility",
    "owner",
}
_EXACT_FILTERS = {"name", "status", "visibility", "owner", "disk_format", "container_format", "id"}


@dataclass(frozen=True)
class UploadResult:
    """Size and checksums computed while reading an upload (and the data if small)."""

    size: int
    md5: str
    sha512: str
    data: bytes | None


def not_found(image_id: str) -> NotFound:
    """Glance's wording for a missing (or invisible) image."""
    return NotFound(f"No image found with ID {image_id}")


def visible(image: ImageRecord, ctx: RequestContext) -> bool:
    """Whether ``ctx`` may see ``image`` (Glance's visibility rules, no members)."""
    if ctx.is_admin or image.visibility in ("public", "community"):
        return True
    return image.owner is not None and image.owner == ctx.project_id


def _may_modify(image: Image, ctx: RequestContext) -> bool:
    return ctx.is_admin or (image.owner is not None and image.owner == ctx.project_id)


class ImageRegistry:
    """Glance's image operations on the store."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    # -- reads ----------------------------------------------------------------------------
    def get(self, ctx: RequestContext, image_id: str) -> dict[str, Any]:
        """The image as ``GET /v2/images/{id}`` shows it."""
        return views.image(self._read(ctx, image_id))

    def get_for_rpc(self, ctx: RequestContext, image_id: str) -> dict[str, Any]:
        """The image in the RPC shape (core attributes + ``properties``)."""
        return views.rpc_image(self._read(ctx, image_id))

    def list_images(self, ctx: RequestContext, params: dict[str, list[str]]) -> dict[str, Any]:
        """``GET /v2/images``: filters, sorting and marker/limit pagination as Glance.

        ``params`` maps each query parameter to all its values.  Returns
        ``{"images": [...], "next_marker": id | None}``.
        """
        limit = _limit(params)
        marker = _one(params, "marker")
        sort = _sort_keys(params)
        with self.runtime.store.session() as s:
            candidates = [i for i in s.scalars(select(Image)) if self._listed(i, ctx, params)]
            candidates = [i for i in candidates if _matches(i, params)]
            for key, direction in reversed(sort):
                candidates.sort(key=_sort_by(key), reverse=direction == "desc")
            if marker is not None:
                ids = [i.id for i in candidates]
                if marker not in ids:
                    raise BadRequest(f"No image found with ID {marker}")
                candidates = candidates[ids.index(marker) + 1 :]
            page = candidates[:limit]
            images = [views.image(i) for i in page]
        next_marker = page[-1].id if page and len(page) == limit else None
        return {"images": images, "next_marker": next_marker}

    def download(self, ctx: RequestContext, image_id: str) -> bytes | None:
        """The image data if it was kept; None when the image has none to give."""
        with self.runtime.store.session() as s:
            image = self._load(s, ctx, image_id)
            if image.status == "deactivated" and not ctx.is_admin:
                raise Forbidden(
                    "The requested image has been deactivated. Image data download is forbidden."
                )
            return image.data

    # -- writes ---------------------------------------------------------------------------
    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /v2/images``: a ``queued`` image owned by the caller's project."""
        if not isinstance(body, dict):
            raise BadRequest(
                "Provided object does not match schema 'image': "
                "the request body must be a JSON object"
            )
        values: dict[str, Any] = {"visibility": "shared", "owner": ctx.project_id}
        properties: dict[str, Any] = {}
        for key, value in body.items():
            if key in RESERVED:
                raise Forbidden(f"Attribute '{key}' is reserved.")
            if key in READ_ONLY:
                raise Forbidden(f"Attribute '{key}' is read-only.")
            if key == "owner":
                if not ctx.is_admin and value != ctx.project_id:
                    raise Forbidden(f"You are not permitted to create images owned by '{value}'.")
                values["owner"] = value
            elif key in CORE_WRITABLE or key == "id":
                values[key] = check_value(key, value)
            else:
                properties[key] = check_value(key, value)
        if values["visibility"] == "public" and not ctx.is_admin:
            raise Forbidden("You are not authorized to complete publicize_image action.")
        values.setdefault("id", new_uuid())
        values["properties"] = properties
        values["status"] = "queued"
        with self.runtime.store.session() as s:
            if s.get(Image, values["id"]) is not None:
                raise Conflict(f"Image with identifier {values['id']} already exists!")
            image = Image(**values)
            s.add(image)
            s.flush()
            return views.image(image)

    def update(
        self, ctx: RequestContext, image_id: str, changes: Iterable[dict[str, Any]]
    ) -> dict[str, Any]:
        """``PATCH /v2/images/{id}``: JSON-patch ``add``/``replace``/``remove`` operations
        on core attributes and custom properties."""
        with self.runtime.store.session() as s:
            image = self._load(s, ctx, image_id)
            if not _may_modify(image, ctx):
                raise Forbidden("You are not authorized to complete modify_image action.")
            properties = dict(image.properties or {})
            for change in changes:
                _apply_change(image, properties, change, ctx)
            image.properties = properties
            s.flush()
            return views.image(image)

    def upload(self, ctx: RequestContext, image_id: str, chunks: Iterable[bytes]) -> None:
        """``PUT /v2/images/{id}/file``: read the data, keep size and checksums, go
        ``active``."""
        with self.runtime.store.session() as s:
            image = self._load(s, ctx, image_id)
            _check_uploadable(image, ctx)
            image.status = "saving"
        try:
            result = _digest(chunks)
        except Exception:
            with self.runtime.store.session() as s:
                self._load(s, ctx, image_id).status = "queued"
            raise
        with self.runtime.store.session() as s:
            image = self._load(s, ctx, image_id)
            image.size = result.size
            image.checksum = result.md5
            image.os_hash_algo = "sha512"
            image.os_hash_value = result.sha512
            image.data = result.data
            image.status = "active"

    def activate(self, ctx: RequestContext, image_id: str, size: int) -> dict[str, Any]:
        """Give a queued image its data without sending it (a snapshot taken by a
        hypervisor): ``size`` bytes of zeros are accounted, the image goes ``active``."""
        with self.runtime.store.session() as s:
            image = self._load(s, ctx, image_id)
            _check_uploadable(image, ctx)
            image.size = int(size)
            image.checksum = None
            image.os_hash_algo = None
            image.os_hash_value = None
            image.status = "active"
            return views.rpc_image(image)

    def delete(self, ctx: RequestContext, image_id: str) -> None:
        """``DELETE /v2/images/{id}``: refused for protected images."""
        with self.runtime.store.session() as s:
            image = self._load(s, ctx, image_id)
            if not _may_modify(image, ctx):
                raise Forbidden("You are not authorized to complete delete_image action.")
            if image.protected:
                raise Forbidden(f"Image {image_id} is protected and cannot be deleted.")
            s.delete(image)

    def set_deactivated(self, ctx: RequestContext, image_id: str, deactivated: bool) -> None:
        """``POST /v2/images/{id}/actions/deactivate|reactivate`` (admin or owner)."""
        with self.runtime.store.session() as s:
            image = self._load(s, ctx, image_id)
            if not _may_modify(image, ctx):
                raise Forbidden("You are not authorized to complete this action.")
            wanted, source = ("deactivated", "active") if deactivated else ("active", "deactivated")
            if image.status == wanted:
                return
            if image.status != source:
                raise Forbidden(
                    f"Not allowed to {'deactivate' if deactivated else 'reactivate'} "
                    f"image in status '{image.status}'"
                )
            image.status = wanted

    def seed(self, spec: dict[str, Any]) -> None:
        """Insert an ``active`` image from a topology file's entry (kept if its id exists)."""
        known = {c.name for c in Image.__table__.columns} - {"data", "created_at", "updated_at"}
        values = {k: v for k, v in spec.items() if k in known}
        if spec.get("project_id") and "owner" not in values:
            values["owner"] = spec["project_id"]
        skip = known | {"project", "project_id", "properties"}
        values["properties"] = {
            **{k: str(v) for k, v in spec.items() if k not in skip},
            **{str(k): str(v) for k, v in (spec.get("properties") or {}).items()},
        }
        values.setdefault("visibility", "public")
        values.setdefault("status", "active")
        values.setdefault("disk_format", "qcow2")
        values.setdefault("container_format", "bare")
        values.setdefault("id", new_uuid())
        with self.runtime.store.session() as s:
            if s.get(Image, values["id"]) is None:
                s.add(Image(**values))

    # -- helpers --------------------------------------------------------------------------
    def _read(self, ctx: RequestContext, image_id: str) -> ImageRecord:
        """The image's columns but its data, for reads (every boot reads its image)."""
        with self.runtime.store.transaction() as connection:
            image = connection.execute(_READ, {"id": image_id}).first()
        if image is None or not visible(image, ctx):
            raise not_found(image_id)
        return image

    @staticmethod
    def _load(s: Session, ctx: RequestContext, image_id: str) -> Image:
        image = s.get(Image, image_id)
        if image is None or not visible(image, ctx):
            raise not_found(image_id)
        return image

    @staticmethod
    def _listed(image: Image, ctx: RequestContext, params: dict[str, list[str]]) -> bool:
        """Glance's default listing: community images of others only when asked for,
        hidden images only when asked for."""
        if not visible(image, ctx):
            return False
        wanted = _one(params, "visibility")
        owned = image.owner is not None and image.owner == ctx.project_id
        if image.visibility == "community" and wanted not in ("community", "all") and not owned:
            return False
        hidden = _one(params, "os_hidden")
        if hidden is None:
            return not image.os_hidden
        return bool(image.os_hidden) == (hidden.lower() == "true")


def _check_uploadable(image: Image, ctx: RequestContext) -> None:
    if not _may_modify(image, ctx):
        raise Forbidden("You are not authorized to complete upload_image action.")
    if image.status != "queued":
        raise Conflict(f"Image status transition from {image.status} to saving is not allowed")
    if not image.disk_format or not image.container_format:
        raise BadRequest(
            "Properties disk_format, container_format must be set prior to saving data."
        )


def _digest(chunks: Iterable[bytes]) -> UploadResult:
    md5, sha512 = hashlib.md5(usedforsecurity=False), hashlib.sha512()
    size = 0
    kept: list[bytes] | None = []
    for chunk in chunks:
        md5.update(chunk)
        sha512.update(chunk)
        size += len(chunk)
        if kept is not None:
            kept.append(chunk)
            if size > MAX_KEPT_BYTES:
                kept = None
    return UploadResult(
        size=size,
        md5=md5.hexdigest(),
        sha512=sha512.hexdigest(),
        data=b"".join(kept) if kept is not None else None,
    )


def _apply_change(
    image: Image, properties: dict[str, Any], change: dict[str, Any], ctx: RequestContext
) -> None:
    if not isinstance(change, dict) or "op" not in change or "path" not in change:
        raise BadRequest("Unable to find `op` and `path` in JSON Schema change.")
    op, path = change["op"], change["path"]
    if op not in ("add", "replace", "remove"):
        raise BadRequest(f"Invalid operation: `{op}`: only add, replace and remove are supported.")
    if not isinstance(path, str) or not path.startswith("/") or path.count("/") != 1:
        raise BadRequest(f"Invalid JSON pointer for this resource: '{path}'")
    key = path[1:].replace("~1", "/").replace("~0", "~")
    if key in RESERVED:
        raise Forbidden(f"Attribute '{key}' is reserved.")
    if key in READ_ONLY or key == "id" or (key == "owner" and not ctx.is_admin):
        raise Forbidden(f"Attribute '{key}' is read-only.")
    if op != "remove" and "value" not in change:
        raise BadRequest(f"Operation `{op}` requires a member named 'value'.")
    if key in CORE_WRITABLE or key == "owner":
        if op == "remove":
            raise Forbidden(f"Cannot remove core attribute '{key}'.")
        value = check_value(key, change["value"])
        if key == "visibility" and value == "public" and not ctx.is_admin:
            raise Forbidden("You are not authorized to complete publicize_image action.")
        if key in ("disk_format", "container_format") and image.status != "queued":
            raise Forbidden(f"Attribute {key} can be only replaced for a queued image.")
        setattr(image, key, value)
        return
    if op == "remove":
        if key not in properties:
            raise Conflict(f"Property {key} does not exist.")
        del properties[key]
    elif op == "replace" and key not in properties:
        raise Conflict(f"Property {key} does not exist.")
    else:
        properties[key] = check_value(key, change["value"])


def _one(params: dict[str, list[str]], key: str) -> str | None:
    values = params.get(key)
    return values[-1] if values else None


def _limit(params: dict[str, list[str]]) -> int:
    raw = _one(params, "limit")
    if raw is None:
        return 25
    try:
        limit = int(raw)
    except ValueError as exc:
        raise BadRequest("limit param must be an integer") from exc
    if limit < 0:
        raise BadRequest("limit param must be positive")
    return min(limit, 1000)


def _sort_keys(params: dict[str, list[str]]) -> list[tuple[str, str]]:
    keys: list[tuple[str, str]] = []
    if "sort" in params:
        for item in ",".join(params["sort"]).split(","):
            key, _, direction = item.strip().partition(":")
            keys.append((key, direction or "desc"))
    else:
        dirs = params.get("sort_dir", [])
        for n, key in enumerate(params.get("sort_key", [])):
            keys.append((key, dirs[n] if n < len(dirs) else (dirs[0] if dirs else "desc")))
    if not keys:
        keys = [("created_at", "desc")]
    for key, direction in keys:
        if key not in _SORTABLE:
            raise BadRequest(
                f"Invalid sort key: {key}. It should be one of the following: "
                f"{', '.join(sorted(_SORTABLE))}."
            )
        if direction not in ("asc", "desc"):
            raise BadRequest(f"Invalid sort direction: {direction}")
    if all(k != "id" for k, _ in keys):
        keys.append(("id", keys[-1][1]))
    return keys


def _sort_by(key: str) -> Callable[[Image], tuple[bool, Any]]:
    def value(image: Image) -> tuple[bool, Any]:
        current = getattr(image, key)
        return (current is not None, current if current is not None else 0)

    return value


def _matches(image: Image, params: dict[str, list[str]]) -> bool:
    for key, values in params.items():
        if key in _LIST_PARAMS or key == "os_hidden":
            continue
        value = values[-1]
        if key == "visibility" and value == "all":
            continue
        if key in _EXACT_FILTERS:
            wanted = value[3:].split(",") if value.startswith("in:") else [value]
            if str(getattr(image, key)) not in wanted:
                return False
        elif key == "tag":
            if not set(values) <= set(image.tags or []):
                return False
        elif key in ("size_min", "size_max"):
            if not _size_ok(image.size, key, value):
                return False
        elif key == "protected":
            if str(bool(image.protected)).lower() != value.lower():
                return False
        elif str((image.properties or {}).get(key)) != value:
            return False
    return True


def _size_ok(size: int | None, key: str, value: str) -> bool:
    try:
        bound = int(value)
    except ValueError as exc:
        raise BadRequest(f"Invalid value for {key}: {value!r}") from exc
    if size is None:
        return False
    return size >= bound if key == "size_min" else size <= bound
