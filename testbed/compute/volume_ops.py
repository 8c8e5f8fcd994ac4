"""Attaching and detaching volumes on a running instance (the compute host's side).

The api has reserved the volume (Cinder's ``attachment_create``) and written the
BlockDeviceMapping row; the host gives its connector (``attachment_update``, which
answers with ``connection_info``), plugs the disk in through the driver, stores the
connection on the BDM and completes the attachment (the volume is ``in-use``).  A
failure gives the volume back (``attachment_delete``) and removes the BDM row.  Detach
is the reverse.  Each is an action event (``compute_attach_volume`` /
``compute_detach_volume``) of the action the api recorded.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete

from testbed.compute.actions import ERROR, SUCCESS, fault_message
from testbed.compute.models import BlockDeviceMapping
from testbed.compute.records import Event
from testbed.context import RequestContext
from testbed.virt.driver import GuestNotFound

if TYPE_CHECKING:
    from testbed.compute.manager import ComputeManager

__all__ = ["VolumeOperations"]

LOG = logging.getLogger(__name__)


class VolumeOperations:
    """Volume attach and detach for one compute manager."""

    def __init__(self, manager: ComputeManager) -> None:
        self.manager = manager

    def _connector(self) -> dict[str, Any]:
        return {"host": self.manager.host, "platform": "x86_64", "os_type": "linux"}

    def attach(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        volume_id: str,
        bdm_uuid: str,
        attachment_id: str,
    ) -> None:
        """Connect a reserved volume to the guest and complete its attachment."""
        manager, event = self.manager, "compute_attach_volume"
        records = manager.records
        records.record_event(ctx, instance_uuid, Event(event))
        inst = records.load(instance_uuid)
        bdm = next(
            (b for b in records.block_device_mappings(instance_uuid) if b["uuid"] == bdm_uuid), None
        )
        try:
            if inst is None or inst["deleted"] or bdm is None:
                raise LookupError(f"instance {instance_uuid} or its mapping {bdm_uuid} is gone")
            attachment = manager.volume_api.attachment_update(ctx, attachment_id, self._connector())
            connection_info = attachment.get("connection_info") or {}
            manager.driver.attach_volume(connection_info, inst, bdm["device_name"])
            records.update_bdm(bdm["id"], connection_info=connection_info)
            manager.volume_api.attachment_complete(ctx, attachment_id)
        except Exception as exc:
            LOG.warning("attaching volume %s to %s failed: %s", volume_id, instance_uuid, exc)
            self._give_back(ctx, attachment_id, bdm_uuid)
            records.record_event(ctx, instance_uuid, Event(event, ERROR, fault_message(exc)))
            return
        records.record_event(ctx, instance_uuid, Event(event, SUCCESS))

    def detach(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        volume_id: str,
        attachment_id: str | None,
    ) -> None:
        """Disconnect a volume from the guest and delete its attachment."""
        manager, event = self.manager, "compute_detach_volume"
        records = manager.records
        records.record_event(ctx, instance_uuid, Event(event))
        inst = records.load(instance_uuid)
        bdm = next(
            (
                b
                for b in records.block_device_mappings(instance_uuid)
                if b["volume_id"] == volume_id
            ),
            None,
        )
        try:
            if inst is not None and bdm is not None and bdm["connection_info"]:
                try:
                    manager.driver.detach_volume(bdm["connection_info"], inst, bdm["device_name"])
                except GuestNotFound:
                    LOG.info(
                        "guest of %s is gone; detaching %s from the records only",
                        instance_uuid,
                        volume_id,
                    )
        except Exception as exc:
            records.record_event(ctx, instance_uuid, Event(event, ERROR, fault_message(exc)))
            return
        self._give_back(
            ctx, attachment_id or (bdm or {}).get("attachment_id"), bdm["uuid"] if bdm else None
        )
        records.record_event(ctx, instance_uuid, Event(event, SUCCESS))

    def _give_back(
        self, ctx: RequestContext, attachment_id: str | None, bdm_uuid: str | None
    ) -> None:
        """Delete the attachment (the volume is available again) and the BDM row."""
        if attachment_id:
            try:
                self.manager.volume_api.attachment_delete(ctx, attachment_id)
            except Exception:
                LOG.exception("could not delete attachment %s", attachment_id)
        if bdm_uuid:
            with self.manager.runtime.store.session() as session:
                session.execute(
                    delete(BlockDeviceMapping).where(BlockDeviceMapping.uuid == bdm_uuid)
                )
