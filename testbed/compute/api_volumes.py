"""Attaching and detaching volumes on a server (os-volume_attachments), as Nova's
``attach_volume`` / ``detach_volume`` with Cinder's attachment flow.

Attach: check the server's state and the volume, reserve the volume
(``attachment_create``), record the BlockDeviceMapping (with its device name) and the
``attach_volume`` action, then cast the compute host, which connects the disk and
completes the attachment.  Detach: check, record ``detach_volume``, cast the host.
"""

from __future__ import annotations

import string

from sqlalchemy import select

from testbed.compute import states
from testbed.compute.api import InstanceOperations, record_action
from testbed.compute.api_states import check_state
from testbed.compute.models import BlockDeviceMapping, Instance
from testbed.context import RequestContext
from testbed.exceptions import BadRequest, Conflict, NotFound
from testbed.service import Runtime
from testbed.store.base import new_uuid

__all__ = ["VolumeAttachments"]

_ATTACHABLE = frozenset(
    {
        states.ACTIVE,
        states.PAUSED,
        states.STOPPED,
        states.RESIZED,
        states.SOFT_DELETED,
        states.SHELVED,
        states.SHELVED_OFFLOADED,
    }
)
_NO_TASK: frozenset[str | None] = frozenset({None})


class VolumeAttachments:
    """The volumes of a server."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.instances = InstanceOperations(runtime)

    def list(self, ctx: RequestContext, server_id: str) -> list[BlockDeviceMapping]:
        """The server's volume mappings (the root volume included)."""
        self.instances.get(ctx, server_id)
        with self.runtime.store.session() as session:
            return list(
                session.scalars(
                    select(BlockDeviceMapping)
                    .where(
                        BlockDeviceMapping.instance_uuid == server_id,
                        BlockDeviceMapping.destination_type == "volume",
                        BlockDeviceMapping.volume_id.is_not(None),
                    )
                    .order_by(BlockDeviceMapping.id)
                )
            )

    def find(self, ctx: RequestContext, server_id: str, volume_id: str) -> BlockDeviceMapping:
        """The mapping of ``volume_id`` on the server (404 if not attached)."""
        for bdm in self.list(ctx, server_id):
            if bdm.volume_id == volume_id:
                return bdm
        raise NotFound(f"Volume {volume_id} is not attached to server {server_id}")

    def _ready(self, ctx: RequestContext, server_id: str, action: str) -> Instance:
        instance = self.instances.get(ctx, server_id)
        check_state(
            action,
            server_id,
            instance.vm_state,
            instance.task_state,
            vm_states=_ATTACHABLE,
            task_states_allowed=_NO_TASK,
        )
        if instance.host is None:
            raise Conflict(f"Instance {server_id} is not ready")
        return instance

    def attach(
        self,
        ctx: RequestContext,
        server_id: str,
        volume_id: str,
        device: str | None,
        delete_on_termination: bool = False,
    ) -> BlockDeviceMapping:
        """Reserve the volume, record the mapping, cast the host; returns the mapping."""
        instance = self._ready(ctx, server_id, "attach_volume")
        host = str(instance.host)
        existing = self.list(ctx, server_id)
        if any(b.volume_id == volume_id for b in existing):
            raise BadRequest(f"Invalid volume: volume {volume_id} already attached")
        rpc = self.instances.volume_rpc
        try:
            volume = rpc.get_volume(ctx, volume_id)
        except NotFound:
            raise NotFound(f"Volume {volume_id} could not be found.") from None
        status = volume.get("status", "available")
        if status != "available" and not volume.get("multiattach"):
            raise BadRequest(
                f"Invalid volume: volume '{volume_id}' status must be 'available'. "
                f"Currently in '{status}'"
            )
        try:
            attachment = rpc.attachment_create(ctx, volume_id, server_id)
        except Conflict as exc:
            raise BadRequest(f"Invalid volume: {exc.message}") from None
        device = device or _next_device([b.device_name for b in existing])
        bdm = BlockDeviceMapping(
            uuid=new_uuid(),
            instance_uuid=server_id,
            source_type="volume",
            destination_type="volume",
            boot_index=None,
            device_name=device,
            volume_id=volume_id,
            attachment_id=str(attachment["id"]),
            delete_on_termination=delete_on_termination,
        )
        with self.runtime.store.session() as session:
            session.add(bdm)
            record_action(session, ctx, server_id, "attach_volume", self.runtime.clock.now())
        self.instances.compute_rpc.attach_volume(
            ctx, host, server_id, volume_id, bdm.uuid, str(attachment["id"])
        )
        return bdm

    def detach(self, ctx: RequestContext, server_id: str, volume_id: str) -> None:
        """Record the detach and cast the host (the root volume cannot be detached)."""
        instance = self._ready(ctx, server_id, "detach_volume")
        bdm = self.find(ctx, server_id, volume_id)
        if bdm.boot_index == 0:
            raise BadRequest("Cannot detach a root device volume")
        with self.runtime.store.session() as session:
            record_action(session, ctx, server_id, "detach_volume", self.runtime.clock.now())
        self.instances.compute_rpc.detach_volume(
            ctx, str(instance.host), server_id, volume_id, bdm.attachment_id
        )


def _next_device(used: list[str | None]) -> str:
    taken = {d.rsplit("/", 1)[-1][-1] for d in used if d}
    taken.add("a")
    for letter in string.ascii_lowercase:
        if letter not in taken:
            return f"/dev/vd{letter}"
    raise BadRequest("No free device name left on the server.")
