"""Block device mappings of a server create (``block_device_mapping_v2``), checked as Nova
does before anything is created.

The result is the list of mappings every new instance gets (BlockDeviceMapping columns,
JSON-safe, also sent in the request spec), whether the server boots from a volume, and
the image its root disk comes from (None for a volume root).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from testbed.context import RequestContext
from testbed.exceptions import BadRequest, NotFound
from testbed.image.rpcapi import ImageAPI
from testbed.volume.rpcapi import VolumeAPI

__all__ = ["BlockDevicePlan", "plan_block_devices"]

_INVALID_BOOT = (
    "Block Device Mapping is Invalid: Boot sequence for the instance and "
    "image/block device mapping combination is not valid."
)


@dataclass
class BlockDevicePlan:
    """The checked block devices of a create request."""

    mappings: list[dict[str, Any]]
    is_bfv: bool
    root_image_id: str | None


def _boot_index(raw: Any) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise BadRequest(f"Block Device Mapping is Invalid: boot_index {raw!r}") from None


def _mapping(bdm: dict[str, Any]) -> dict[str, Any]:
    source = bdm.get("source_type") or "image"
    default_dest = "volume" if source in ("volume", "snapshot") else "local"
    destination = bdm.get("destination_type") or default_dest
    uuid = bdm.get("uuid")
    size = bdm.get("volume_size")
    return {
        "source_type": source,
        "destination_type": destination,
        "boot_index": _boot_index(bdm.get("boot_index")),
        "device_name": bdm.get("device_name"),
        "volume_id": uuid if source == "volume" else None,
        "image_id": uuid if source == "image" else None,
        "volume_size": int(size) if size not in (None, "") else None,
        "delete_on_termination": bool(bdm.get("delete_on_termination", False)),
    }


def plan_block_devices(
    ctx: RequestContext,
    bdms: list[dict[str, Any]],
    image_ref: str | None,
    max_count: int,
    volume_rpc: VolumeAPI,
    image_rpc: ImageAPI,
) -> BlockDevicePlan:
    """Check ``bdms`` (and the imageRef) and return what every instance will get."""
    mappings = [_mapping(b) for b in bdms]
    roots = [m for m in mappings if m["boot_index"] == 0]
    if len(roots) > 1:
        raise BadRequest(_INVALID_BOOT)
    image_ref = image_ref or None
    if not roots:
        if image_ref is None:
            raise BadRequest(_INVALID_BOOT)
        mappings.insert(
            0,
            {
                "source_type": "image",
                "destination_type": "local",
                "boot_index": 0,
                "device_name": None,
                "volume_id": None,
                "image_id": image_ref,
                "volume_size": None,
                "delete_on_termination": True,
            },
        )
        return _checked(ctx, mappings, False, image_ref, max_count, volume_rpc, image_rpc)
    root = roots[0]
    is_bfv = root["destination_type"] == "volume"
    root_image = root["image_id"] if root["source_type"] == "image" else None
    if not is_bfv and root_image is None:
        raise BadRequest(_INVALID_BOOT)
    return _checked(ctx, mappings, is_bfv, root_image, max_count, volume_rpc, image_rpc)


def _checked(
    ctx: RequestContext,
    mappings: list[dict[str, Any]],
    is_bfv: bool,
    root_image: str | None,
    max_count: int,
    volume_rpc: VolumeAPI,
    image_rpc: ImageAPI,
) -> BlockDevicePlan:
    for mapping in mappings:
        source, destination = mapping["source_type"], mapping["destination_type"]
        if source == "snapshot":
            raise BadRequest(
                "Block Device Mapping is Invalid: booting from volume snapshots is not "
                "available in this test-bed yet."
            )
        if source == "volume":
            _check_volume(ctx, mapping, max_count, volume_rpc)
        elif source == "image" and not mapping["image_id"]:
            raise BadRequest("Block Device Mapping is Invalid: image uuid is missing.")
        elif source == "image" and mapping["boot_index"] != 0:
            _check_image(ctx, mapping["image_id"], image_rpc)
        needs_size = destination == "volume" and source in ("image", "blank")
        if needs_size and not mapping["volume_size"]:
            raise BadRequest(
                "Block Device Mapping is Invalid: Images with destination_type "
                "'volume' need to have a non-zero size specified"
            )
    return BlockDevicePlan(mappings, is_bfv, root_image)


def _check_volume(
    ctx: RequestContext, mapping: dict[str, Any], max_count: int, volume_rpc: VolumeAPI
) -> None:
    volume_id = mapping["volume_id"]
    if not volume_id:
        raise BadRequest("Block Device Mapping is Invalid: volume uuid is missing.")
    if max_count > 1:
        raise BadRequest("Cannot attach one or more volumes to multiple instances")
    try:
        volume = volume_rpc.get_volume(ctx, volume_id)
    except NotFound:
        raise BadRequest(
            f"Block Device Mapping is Invalid: failed to get volume {volume_id}."
        ) from None
    status = volume.get("status", "available")
    if status != "available":
        raise BadRequest(
            f"Invalid volume: volume '{volume_id}' status must be 'available'. "
            f"Currently in '{status}'"
        )


def _check_image(ctx: RequestContext, image_id: str, image_rpc: ImageAPI) -> None:
    try:
        image_rpc.get_image(ctx, image_id)
    except NotFound:
        raise BadRequest(f"Image {image_id} could not be found.") from None
