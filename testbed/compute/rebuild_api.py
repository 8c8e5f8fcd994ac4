"""The compute API's side of rebuild (Nova's ``compute.api.API.rebuild``).

The image must exist and be active (400 otherwise); the instance must be ``active``,
``stopped`` or ``error`` with no task (409), not locked (409 for non-admins) and placed
on a host (409 ``Instance <id> is not ready``).  A server booted from a volume cannot be
rebuilt with another image (400, as Nova before microversion 2.93).  The new image,
name, metadata and the other attributes of the request are written with task_state
``rebuilding`` and the action ``rebuild``; the conductor then casts the rebuild to the
instance's host.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from testbed.compute import states
from testbed.compute.api import record_action
from testbed.compute.api_states import check_state
from testbed.compute.evacuate_api import lock_instance
from testbed.compute.models import BlockDeviceMapping
from testbed.compute.states import task_states
from testbed.conductor.rpcapi import ConductorAPI
from testbed.context import RequestContext
from testbed.exceptions import BadRequest, Conflict, NotFound
from testbed.image.rpcapi import ImageAPI
from testbed.service import Runtime
from testbed.store.base import new_uuid

__all__ = ["REBUILD_VM_STATES", "RebuildOperations"]

REBUILD_VM_STATES = frozenset({states.ACTIVE, states.STOPPED, states.ERROR})

#: request attributes -> instance columns
_COLUMNS = {
    "name": "display_name",
    "metadata": "metadata_",
    "description": "description",
    "key_name": "key_name",
    "user_data": "user_data",
    "hostname": "hostname",
    "accessIPv4": "access_ip_v4",
    "accessIPv6": "access_ip_v6",
}


class RebuildOperations:
    """rebuild: checks, records, then the conductor's rebuild task."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.conductor_rpc = ConductorAPI(runtime.bus)
        self.image_rpc = ImageAPI(runtime.bus)

    def rebuild(
        self, ctx: RequestContext, uuid: str, image_ref: str, changes: dict[str, Any]
    ) -> None:
        """Start the rebuild of ``uuid`` from ``image_ref``; ``changes`` are request
        attributes (name, metadata, description, key_name, user_data, hostname...)."""
        try:
            image = self.image_rpc.get_image(ctx, image_ref)
        except NotFound as exc:
            raise BadRequest(f"Image {image_ref} could not be found.") from exc
        if image.get("status", "active") != "active":
            raise BadRequest(f"Image {image_ref} is not active.")
        now = self.runtime.clock.now()
        with self.runtime.store.session() as session:
            instance = lock_instance(session, ctx, uuid)
            if instance.locked and not ctx.is_admin:
                raise Conflict(f"Instance {uuid} is locked")
            check_state(
                "rebuild",
                uuid,
                instance.vm_state,
                instance.task_state,
                vm_states=REBUILD_VM_STATES,
                task_states_allowed=frozenset({None}),
            )
            if instance.host is None:
                raise Conflict(f"Instance {uuid} is not ready")
            is_bfv = (
                session.scalars(
                    select(BlockDeviceMapping.id).where(
                        BlockDeviceMapping.instance_uuid == uuid,
                        BlockDeviceMapping.destination_type == "volume",
                        BlockDeviceMapping.boot_index == 0,
                    )
                ).first()
                is not None
            )
            if is_bfv and image_ref != (instance.image_ref or image_ref):
                raise BadRequest(
                    f"Image {image_ref} is unacceptable: Unable to rebuild with a different "
                    "image for a volume-backed server."
                )
            for key, column in _COLUMNS.items():
                if key in changes:
                    setattr(instance, column, changes[key])
            if not is_bfv:
                instance.image_ref = image_ref
            task_id = new_uuid()
            orig_vm_state = instance.vm_state
            instance.task_state = task_states.REBUILDING
            instance.task_id = task_id
            record_action(session, ctx, uuid, "rebuild", now)
        self.conductor_rpc.rebuild_instance(
            ctx,
            uuid,
            task_id,
            {"evacuate": False, "image_ref": image_ref, "orig_vm_state": orig_vm_state},
        )
