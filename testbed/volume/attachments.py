"""Cinder's attachment flow (the API Nova uses since Queens).

``create`` reserves the volume for an instance (volume ``reserved``), ``update`` takes
the host's connector and answers with ``connection_info`` (volume ``attaching``),
``complete`` says the host has connected it (``in-use``), ``delete`` detaches
(``available`` when nothing else holds it).  A volume that is in use can get a second
attachment for the same instance (a live migration's destination) or, when it is
``multiattach``, for another one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from testbed.context import RequestContext
from testbed.exceptions import Conflict, NotFound
from testbed.volume import views
from testbed.volume.models import Volume, VolumeAttachment
from testbed.volume.volumes import VolumeRegistry

__all__ = ["Attachments"]

_RESERVABLE = ("available", "reserved", "attaching", "in-use")


def attachment_not_found(attachment_id: str) -> NotFound:
    """Cinder's wording for a missing attachment."""
    return NotFound(
        f"Volume attachment could not be found with filter: attachment_id = {attachment_id}."
    )


class Attachments:
    """The attachment flow on the store."""

    def __init__(self, volumes: VolumeRegistry) -> None:
        self._volumes = volumes
        self._store = volumes.runtime.store

    def _load(
        self, s: Session, ctx: RequestContext, attachment_id: str
    ) -> tuple[VolumeAttachment, Volume]:
        att = s.get(VolumeAttachment, attachment_id)
        if att is None:
            raise attachment_not_found(attachment_id)
        try:
            vol = self._volumes.load(s, ctx, att.volume_id)
        except NotFound as exc:
            raise attachment_not_found(attachment_id) from exc
        return att, vol

    def create(self, ctx: RequestContext, volume_id: str, instance_uuid: str) -> dict[str, Any]:
        """Reserve ``volume_id`` for the instance; ``Conflict`` if it cannot be."""
        with self._store.session() as s:
            vol = self._volumes.load(s, ctx, volume_id)
            others = [
                a
                for a in self._volumes.attachments_of(s, volume_id)
                if a.instance_uuid != instance_uuid
            ]
            if vol.status not in _RESERVABLE or (
                vol.status != "available" and others and not vol.multiattach
            ):
                raise Conflict(
                    f"Invalid volume: Volume {volume_id} status must be available to reserve, "
                    f"but the current status is {vol.status}."
                )
            att = VolumeAttachment(volume_id=volume_id, instance_uuid=instance_uuid)
            s.add(att)
            if vol.status == "available":
                vol.status = "reserved"
            s.flush()
            return views.attachment(att, vol)

    def update(
        self, ctx: RequestContext, attachment_id: str, connector: dict[str, Any]
    ) -> dict[str, Any]:
        """Record the host's connector; returns the attachment with ``connection_info``."""
        with self._store.session() as s:
            att, vol = self._load(s, ctx, attachment_id)
            att.connector = dict(connector or {})
            att.host_name = (connector or {}).get("host")
            att.mountpoint = (connector or {}).get("mountpoint") or att.mountpoint
            if att.attach_status == "reserved":
                att.attach_status = "attaching"
            if vol.status in ("reserved", "available"):
                vol.status = "attaching"
            s.flush()
            return views.attachment(att, vol)

    def complete(self, ctx: RequestContext, attachment_id: str) -> None:
        """The host has connected the volume: attachment ``attached``, volume ``in-use``."""
        with self._store.session() as s:
            att, vol = self._load(s, ctx, attachment_id)
            att.attach_status = "attached"
            att.attached_at = self._volumes.runtime.clock.now()
            vol.status = "in-use"

    def delete(self, ctx: RequestContext, attachment_id: str) -> None:
        """Detach: the attachment goes; the volume is ``available`` when none is left."""
        with self._store.session() as s:
            att, vol = self._load(s, ctx, attachment_id)
            s.delete(att)
            s.flush()
            left = self._volumes.attachments_of(s, vol.id)
            if not left:
                vol.status = "available"
            elif any(a.attach_status == "attached" for a in left):
                vol.status = "in-use"
            else:
                vol.status = "reserved"

    def get(self, ctx: RequestContext, attachment_id: str) -> dict[str, Any]:
        """One attachment."""
        with self._store.session() as s:
            att, vol = self._load(s, ctx, attachment_id)
            return views.attachment(att, vol)
