"""The compute API's side of evacuate (Nova's ``compute.api.API.evacuate``).

Checks, in Nova's order: the target host (when given) has a compute service (404
``Compute host <h> not found.``) and is not the instance's own host (400); the instance
is ``active``, ``stopped`` or ``error`` with no task (409); its host's compute service is
*down* (400 ``Compute service of <h> is still in use.``, Nova's ComputeServiceInUse).
Then, in one transaction: a migration of type ``evacuation`` (``accepted``, the failed
host as source — the tombstone the failed host finds when it comes back), task_state
``rebuilding`` with a fresh task id, and the action ``evacuate``; after the commit the
conductor is asked to choose a destination and rebuild there.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from testbed.compute import states
from testbed.compute.api import instance_not_found, record_action
from testbed.compute.api_hosts import compute_service, service_is_up
from testbed.compute.api_states import check_state
from testbed.compute.evacuate import EVACUATION
from testbed.compute.models import Instance, Migration
from testbed.compute.states import task_states
from testbed.conductor.rpcapi import ConductorAPI
from testbed.context import RequestContext
from testbed.exceptions import BadRequest, CloudError, NotFound
from testbed.service import Runtime
from testbed.store.base import new_uuid

__all__ = ["EVACUATE_VM_STATES", "ComputeServiceInUse", "EvacuateOperations", "lock_instance"]

EVACUATE_VM_STATES = frozenset({states.ACTIVE, states.STOPPED, states.ERROR})


class ComputeServiceInUse(CloudError):
    """Nova's ComputeServiceInUse: the instance's host is still up (the API answers 400)."""

    code = 400
    msg_fmt = "Compute service of %(host)s is still in use."


def lock_instance(session: Session, ctx: RequestContext, uuid: str) -> Instance:
    """The instance row ``FOR UPDATE`` if the caller may see it; 404 otherwise."""
    instance = session.scalars(
        select(Instance).where(Instance.uuid == uuid).with_for_update()
    ).first()
    if instance is None or instance.deleted:
        raise instance_not_found(uuid)
    if not ctx.is_admin and instance.project_id != ctx.project_id:
        raise instance_not_found(uuid)
    return instance


class EvacuateOperations:
    """evacuate: checks, records, then the conductor's rebuild task."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.conductor_rpc = ConductorAPI(runtime.bus)

    def evacuate(
        self,
        ctx: RequestContext,
        uuid: str,
        *,
        host: str | None = None,
        on_shared_storage: bool | None = None,
        force: bool = False,
        target_state: str | None = None,
    ) -> dict[str, Any]:
        """Start the evacuation of ``uuid``; returns ``{migration_uuid, task_id}``."""
        now = self.runtime.clock.now()
        with self.runtime.store.session() as session:
            if host is not None and compute_service(session, host) is None:
                raise NotFound(f"Compute host {host} not found.")
            instance = lock_instance(session, ctx, uuid)
            if instance.host == host:
                raise BadRequest("The target host can't be the same one.")
            check_state(
                "evacuate",
                uuid,
                instance.vm_state,
                instance.task_state,
                vm_states=EVACUATE_VM_STATES,
                task_states_allowed=frozenset({None}),
            )
            source = instance.host
            service = compute_service(session, source) if source else None
            if service is not None and service_is_up(
                service, now, self.runtime.config.service_down_time
            ):
                raise ComputeServiceInUse(host=source)
            migration = Migration(
                instance_uuid=uuid,
                migration_type=EVACUATION,
                status="accepted",
                source_compute=source,
                source_node=instance.node,
                dest_compute=host,
                user_id=ctx.user_id,
                project_id=ctx.project_id,
                details={},
            )
            session.add(migration)
            task_id = new_uuid()
            orig_vm_state = instance.vm_state
            instance.task_state = task_states.REBUILDING
            instance.task_id = task_id
            image_ref = instance.image_ref
            record_action(session, ctx, uuid, "evacuate", now)
            session.flush()
            migration_uuid = migration.uuid
        self.conductor_rpc.rebuild_instance(
            ctx,
            uuid,
            task_id,
            {
                "evacuate": True,
                "host": host,
                "force": bool(force),
                "on_shared_storage": on_shared_storage,
                "migration_uuid": migration_uuid,
                "target_state": target_state,
                "orig_vm_state": orig_vm_state,
                "image_ref": image_ref,
            },
        )
        return {"migration_uuid": migration_uuid, "task_id": task_id}
