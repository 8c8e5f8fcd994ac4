"""How the Block Storage API v3 shows volumes and attachments (Cinder's bodies)."""

from __future__ import annotations

import datetime
from typing import Any

from testbed.volume.models import Volume, VolumeAttachment

__all__ = ["attachment", "device_path", "isotime", "volume_detail", "volume_summary"]

VOLUME_HOST = "controller@testbed#testbed"


def isotime(seconds: float | None) -> str | None:
    """Cinder's timestamp form: ``2026-01-01T00:00:00.000000``."""
    if seconds is None:
        return None
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds")


def device_path(vol: Volume) -> str:
    """Where hosts find the volume's data."""
    return vol.provider_location or f"/var/lib/testbed/volumes/volume-{vol.id}"


def _links(vol: Volume, base: str | None) -> list[dict[str, str]]:
    if base is None:
        return []
    return [
        {"href": f"{base}/volumes/{vol.id}", "rel": "self"},
        {"href": f"{base}/volumes/{vol.id}", "rel": "bookmark"},
    ]


def volume_summary(vol: Volume, base: str | None) -> dict[str, Any]:
    """A volume in ``GET /volumes`` (id, name, links)."""
    return {"id": vol.id, "name": vol.name, "links": _links(vol, base)}


def volume_detail(
    vol: Volume, attachments: list[VolumeAttachment], base: str | None, *, admin: bool
) -> dict[str, Any]:
    """A volume as ``GET /volumes/{id}`` (and ``/volumes/detail``) shows it.  Only
    attachments that are ``attached`` are listed, as Cinder lists them."""
    body: dict[str, Any] = {
        "id": vol.id,
        "name": vol.name,
        "description": vol.description,
        "size": vol.size,
        "status": vol.status,
        "availability_zone": vol.availability_zone,
        "bootable": "true" if vol.bootable else "false",
        "encrypted": False,
        "multiattach": vol.multiattach,
        "volume_type": vol.volume_type,
        "snapshot_id": None,
        "source_volid": None,
        "consistencygroup_id": None,
        "group_id": None,
        "replication_status": None,
        "migration_status": None,
        "metadata": dict(vol.metadata_ or {}),
        "user_id": vol.user_id,
        "os-vol-tenant-attr:tenant_id": vol.project_id,
        "created_at": isotime(vol.created_at),
        "updated_at": isotime(vol.updated_at),
        "attachments": [
            {
                "id": vol.id,
                "attachment_id": a.id,
                "volume_id": vol.id,
                "server_id": a.instance_uuid,
                "host_name": a.host_name,
                "device": a.mountpoint,
                "attached_at": isotime(a.attached_at),
            }
            for a in attachments
            if a.attach_status == "attached"
        ],
        "links": _links(vol, base),
    }
    if vol.image_metadata is not None:
        body["volume_image_metadata"] = {k: str(v) for k, v in vol.image_metadata.items()}
    if admin:
        body["os-vol-host-attr:host"] = VOLUME_HOST
        body["os-vol-mig-status-attr:migstat"] = None
        body["os-vol-mig-status-attr:name_id"] = None
    return body


def attachment(att: VolumeAttachment, vol: Volume) -> dict[str, Any]:
    """An attachment as the RPC flow returns it; ``connection_info`` once a connector
    has been given."""
    return {
        "id": att.id,
        "volume_id": att.volume_id,
        "instance_uuid": att.instance_uuid,
        "instance": att.instance_uuid,
        "status": att.attach_status,
        "attach_mode": att.attach_mode,
        "host_name": att.host_name,
        "device": att.mountpoint,
        "attached_at": isotime(att.attached_at),
        "detached_at": None,
        "connection_info": (
            {"driver_volume_type": "file", "data": {"device_path": device_path(vol)}}
            if att.connector is not None
            else None
        ),
    }
