"""The compute API's logic for existing servers (what Nova keeps in nova/compute/api.py).

Every state-changing action follows the same steps, in one short transaction: find the
instance (a member only sees its own project's), check its state against the action's
allowed states (Nova's ``check_instance_state``), set the task_state with a fresh task id,
record the instance action; then, after the commit, cast the compute host.  The compute
host carries the task on and clears it; a mid-task update that does not present the
current task id is refused there, which is how a force delete pre-empts a running task.

A delete is done by the api itself ("local delete", as Nova's ``_local_delete``) when the
instance has no host (it never got scheduled) or its host's compute service is down.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.orm import Session

from testbed.compute import states
from testbed.compute.api_hosts import compute_service, service_is_up
from testbed.compute.api_states import BUILD_TASKS, TRANSITIONS, check_state
from testbed.compute.models import (
    Allocation,
    BlockDeviceMapping,
    Instance,
    InstanceAction,
    ServerGroupMember,
)
from testbed.compute.rpcapi import ComputeAPI
from testbed.compute.states import power_state, task_states
from testbed.context import RequestContext
from testbed.exceptions import BadRequest, CloudError, Conflict, NotFound
from testbed.network.rpcapi import NetworkAPI
from testbed.service import Runtime
from testbed.store.base import new_uuid
from testbed.store.db import Store, Transaction, core
from testbed.volume.rpcapi import VolumeAPI

__all__ = ["InstanceOperations", "instance_not_found", "record_action"]

LOG = logging.getLogger(__name__)


def instance_not_found(uuid: str) -> NotFound:
    """Nova's 404 for a server that does not exist or is not the caller's."""
    return NotFound(f"Instance {uuid} could not be found.")


_INSERT_ACTION = insert(cast(Table, InstanceAction.__table__))


def record_action(
    tx: Transaction, ctx: RequestContext, instance_uuid: str, action: str, now: float
) -> int:
    """Start an instance action (os-instance-actions) for this request; its id."""
    result = core(tx).execute(
        _INSERT_ACTION,
        {
            "instance_uuid": instance_uuid,
            "request_id": ctx.request_id,
            "action": action,
            "project_id": ctx.project_id,
            "user_id": ctx.user_id,
            "start_time": now,
            "updated_at": now,
        },
    )
    Store.of(tx).trace_write("INSERT", "instance_actions", instance_uuid=instance_uuid)
    key = result.inserted_primary_key
    return int(key[0]) if key is not None else 0


class InstanceOperations:
    """Lifecycle actions on existing servers: checks, records, then casts."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.compute_rpc = ComputeAPI(runtime.bus)
        self.network_rpc = NetworkAPI(runtime.bus)
        self.volume_rpc = VolumeAPI(runtime.bus)

    # -- look-ups ---------------------------------------------------------------------------
    def get(self, ctx: RequestContext, uuid: str, *, include_deleted: bool = False) -> Instance:
        """The instance as the caller may see it; 404 otherwise."""
        with self.runtime.store.session() as session:
            instance = session.get(Instance, uuid)
            if instance is None or not self._visible(ctx, instance, include_deleted):
                raise instance_not_found(uuid)
            return instance

    @staticmethod
    def _visible(ctx: RequestContext, instance: Instance, include_deleted: bool) -> bool:
        if instance.deleted and not include_deleted:
            return False
        return ctx.is_admin or instance.project_id == ctx.project_id

    def _lock_row(self, session: Session, ctx: RequestContext, uuid: str) -> Instance:
        instance = session.scalars(
            select(Instance).where(Instance.uuid == uuid).with_for_update()
        ).first()
        if instance is None or not self._visible(ctx, instance, False):
            raise instance_not_found(uuid)
        return instance

    @staticmethod
    def _check_unlocked(ctx: RequestContext, instance: Instance) -> None:
        if instance.locked and not ctx.is_admin:
            raise Conflict(f"Instance {instance.uuid} is locked")

    # -- power and pause/suspend actions -----------------------------------------------------
    def run_transition(self, ctx: RequestContext, uuid: str, key: str, **rpc_kwargs: Any) -> None:
        """Start the task of ``TRANSITIONS[key]`` and cast it to the instance's host."""
        transition = TRANSITIONS[key]
        with self.runtime.store.session() as session:
            instance = self._lock_row(session, ctx, uuid)
            self._check_unlocked(ctx, instance)
            check_state(
                transition.action,
                uuid,
                instance.vm_state,
                instance.task_state,
                vm_states=transition.vm_states,
                task_states_allowed=transition.task_states,
            )
            host = instance.host
            if host is None:
                raise Conflict(f"Instance {uuid} is not ready")
            task_id = new_uuid()
            instance.task_state = transition.new_task_state
            instance.task_id = task_id
            record_action(session, ctx, uuid, transition.action, self.runtime.clock.now())
        method = getattr(self.compute_rpc, transition.rpc)
        method(ctx, host, uuid, task_id, **rpc_kwargs)

    def stop(self, ctx: RequestContext, uuid: str) -> None:
        """os-stop."""
        self.run_transition(ctx, uuid, "stop")

    def start(self, ctx: RequestContext, uuid: str) -> None:
        """os-start."""
        self.run_transition(ctx, uuid, "start")

    def reboot(self, ctx: RequestContext, uuid: str, reboot_type: str) -> None:
        """reboot SOFT (active, no task) or HARD (more states, and over a soft reboot)."""
        self.run_transition(ctx, uuid, f"reboot:{reboot_type}", reboot_type=reboot_type)

    def pause(self, ctx: RequestContext, uuid: str) -> None:
        """pause."""
        self.run_transition(ctx, uuid, "pause")

    def unpause(self, ctx: RequestContext, uuid: str) -> None:
        """unpause."""
        self.run_transition(ctx, uuid, "unpause")

    def suspend(self, ctx: RequestContext, uuid: str) -> None:
        """suspend."""
        self.run_transition(ctx, uuid, "suspend")

    def resume(self, ctx: RequestContext, uuid: str) -> None:
        """resume."""
        self.run_transition(ctx, uuid, "resume")

    # -- administrative changes --------------------------------------------------------------
    def reset_state(self, ctx: RequestContext, uuid: str, vm_state: str) -> None:
        """os-resetState: vm_state active|error, no task, recorded as ``resetState``."""
        if vm_state not in (states.ACTIVE, states.ERROR):
            raise BadRequest(f"Invalid state {vm_state}")
        with self.runtime.store.session() as session:
            instance = self._lock_row(session, ctx, uuid)
            instance.vm_state = vm_state
            instance.task_state = None
            instance.task_id = None
            record_action(session, ctx, uuid, "resetState", self.runtime.clock.now())

    def set_locked(self, ctx: RequestContext, uuid: str, locked: bool) -> None:
        """lock / unlock (a locked server refuses actions from non-admins)."""
        with self.runtime.store.session() as session:
            instance = self._lock_row(session, ctx, uuid)
            instance.locked = locked
            action = "lock" if locked else "unlock"
            record_action(session, ctx, uuid, action, self.runtime.clock.now())

    def update(self, ctx: RequestContext, uuid: str, changes: dict[str, Any]) -> None:
        """PUT /servers/{id}: name, description, access IPs, hostname (model columns)."""
        with self.runtime.store.session() as session:
            instance = self._lock_row(session, ctx, uuid)
            self._check_unlocked(ctx, instance)
            for column, value in changes.items():
                setattr(instance, column, value)

    def set_metadata(
        self, ctx: RequestContext, uuid: str, metadata: dict[str, str], *, replace: bool
    ) -> dict[str, str]:
        """Replace or merge a server's metadata; returns the result."""
        with self.runtime.store.session() as session:
            instance = self._lock_row(session, ctx, uuid)
            self._check_unlocked(ctx, instance)
            merged = dict(metadata) if replace else {**instance.metadata_, **metadata}
            instance.metadata_ = merged
            return merged

    def delete_metadata_key(self, ctx: RequestContext, uuid: str, key: str) -> None:
        """Remove one metadata key (404 when absent)."""
        with self.runtime.store.session() as session:
            instance = self._lock_row(session, ctx, uuid)
            self._check_unlocked(ctx, instance)
            if key not in instance.metadata_:
                raise NotFound(f"Metadata item was not found: {key}")
            instance.metadata_ = {k: v for k, v in instance.metadata_.items() if k != key}

    # -- delete ------------------------------------------------------------------------------
    def delete(self, ctx: RequestContext, uuid: str, *, force: bool = False) -> None:
        """DELETE /servers/{id} (``force``: the forceDelete action).

        A delete may interrupt a build (and repeats one under way); any other running
        task is only pre-empted by a force delete, whose task id is None.
        """
        now = self.runtime.clock.now()
        with self.runtime.store.session() as session:
            instance = self._lock_row(session, ctx, uuid)
            self._check_unlocked(ctx, instance)
            if not force:
                check_state(
                    "delete",
                    uuid,
                    instance.vm_state,
                    instance.task_state,
                    vm_states=None,
                    task_states_allowed=BUILD_TASKS,
                )
            host = instance.host
            service = compute_service(session, host) if host else None
            local = service is None or not service_is_up(
                service, now, self.runtime.config.service_down_time
            )
            if force:
                task_id = None
            elif instance.task_state == task_states.DELETING and instance.task_id:
                task_id = instance.task_id
            else:
                task_id = new_uuid()
            from testbed.compute.migrate_api import confirm_before_delete

            resize = confirm_before_delete(session, instance)  # VERIFY_RESIZE: confirm first
            instance.task_state = task_states.DELETING
            instance.task_id = task_id
            action_id = record_action(session, ctx, uuid, "delete", now)
        if resize is not None:
            from testbed.compute.migrate_rpcapi import MigrationComputeAPI

            source, migration_uuid = resize
            MigrationComputeAPI(self.runtime.bus).confirm_resize(
                ctx, source, uuid, None, migration_uuid
            )
        if local or host is None:
            self._local_delete(ctx, uuid, action_id)
        else:
            self.compute_rpc.terminate_instance(ctx, host, uuid, task_id)

    def _local_delete(self, ctx: RequestContext, uuid: str, action_id: int | None) -> None:
        """Delete without the compute host: volumes, ports, then the row."""
        with self.runtime.store.session() as session:
            volumes = [
                (b.volume_id, b.attachment_id, b.delete_on_termination)
                for b in session.scalars(
                    select(BlockDeviceMapping).where(
                        BlockDeviceMapping.instance_uuid == uuid,
                        BlockDeviceMapping.destination_type == "volume",
                    )
                )
                if b.volume_id
            ]
        for volume_id, attachment_id, delete_on_termination in volumes:
            if attachment_id:
                self._quietly(
                    "detach volume",
                    lambda a=attachment_id: self.volume_rpc.attachment_delete(ctx, a),
                )
            if delete_on_termination and volume_id:
                self._quietly(
                    "delete volume",
                    lambda v=volume_id: self.volume_rpc.delete_volume(ctx, v),
                )
        self._quietly(
            "deallocate ports", lambda: self.network_rpc.deallocate_for_instance(ctx, uuid)
        )
        now = self.runtime.clock.now()
        with self.runtime.store.session() as session:
            instance = session.get(Instance, uuid)
            if instance is None or instance.deleted:
                return
            instance.vm_state = states.DELETED
            instance.task_state = None
            instance.task_id = None
            instance.power_state = power_state.NOSTATE
            instance.deleted = True
            instance.deleted_at = now
            instance.terminated_at = now
            session.execute(
                delete(BlockDeviceMapping).where(BlockDeviceMapping.instance_uuid == uuid)
            )
            session.execute(delete(Allocation).where(Allocation.consumer_uuid == uuid))
            session.execute(
                delete(ServerGroupMember).where(ServerGroupMember.instance_uuid == uuid)
            )
            if action_id is not None:
                action = session.get(InstanceAction, action_id)
                if action is not None:
                    action.finish_time = now
                    action.updated_at = now

    @staticmethod
    def _quietly(what: str, step: Any) -> None:
        try:
            step()
        except CloudError as exc:
            LOG.warning("local delete: could not %s: %s", what, exc)
