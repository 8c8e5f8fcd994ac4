"""The compute manager: the RPC endpoint of ``compute.<host>``.

It owns the instance's state changes on its host and talks to the hypervisor only through
its :class:`~testbed.virt.driver.ComputeDriver`.  Each handler continuing a task presents
the task id the api gave it; every step re-checks it in the store and a handler whose
task was taken over (a force delete) stops quietly.  Handlers of one instance are
serialised (a delete waits for the build or power operation in progress).

Task-state sequences (Nova's): stop ``powering-off`` -> stopped; start ``powering-on`` ->
active; reboot ``rebooting`` -> ``reboot_pending`` -> ``reboot_started`` -> active (and
the ``_hard`` variants); pause ``pausing`` -> paused; unpause ``unpausing`` -> active;
suspend ``suspending`` -> suspended; resume ``resuming`` -> active; delete ``deleting`` ->
deleted.  On a driver error the vm_state stays (a reboot that leaves the guest not
running goes to error), task_state goes to None and the error becomes a fault.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from testbed.compute import states
from testbed.compute.actions import ERROR, SUCCESS, fault_message
from testbed.compute.build import Builder
from testbed.compute.drift import RunningDeletedCleaner
from testbed.compute.evacuate import destroy_evacuated_instances
from testbed.compute.image_cache import ImageCache
from testbed.compute.live import LiveMigrationMixin  # live migration handlers
from testbed.compute.locks import KeyedLock
from testbed.compute.migrate import ColdMigrationMixin  # resize / cold migration handlers
from testbed.compute.power_sync import PowerSync
from testbed.compute.rebuild import Rebuilder
from testbed.compute.records import Event, InstanceRecords, block_device_info, fault_from
from testbed.compute.states import power_state, task_states
from testbed.compute.volume_ops import VolumeOperations
from testbed.conductor.rpcapi import ConductorAPI
from testbed.context import RequestContext
from testbed.image.rpcapi import ImageAPI
from testbed.network.rpcapi import NetworkAPI
from testbed.service import Runtime
from testbed.virt.driver import ComputeDriver, GuestNotFound
from testbed.volume.rpcapi import VolumeAPI

__all__ = ["ComputeManager"]

LOG = logging.getLogger(__name__)

Instance = dict[str, Any]


class ComputeManager(ColdMigrationMixin, LiveMigrationMixin):
    """Endpoint of ``compute.<host>``: builds, power operations and deletes."""

    def __init__(
        self,
        runtime: Runtime,
        host: str,
        driver: ComputeDriver,
        *,
        availability_zone: str | None = None,
    ) -> None:
        self.runtime = runtime
        self.host = host
        self.driver = driver
        #: the host's zone, written to the instances it builds (as Nova's conductor does)
        self.availability_zone = availability_zone
        self.records = InstanceRecords(runtime, host)
        self.locks = KeyedLock(runtime.clock)
        self.image_api = ImageAPI(runtime.bus)
        self.image_cache = ImageCache(self.image_api)
        self.network_api = NetworkAPI(runtime.bus)
        self.volume_api = VolumeAPI(runtime.bus)
        self.conductor_api = ConductorAPI(runtime.bus)
        self._builder = Builder(self)
        # HA and state repair (testbed/compute/power_sync.py, drift.py, rebuild.py)
        self.power_sync = PowerSync(self)
        self.drift = RunningDeletedCleaner(self)
        self._rebuilder = Rebuilder(self)

    # -- build ----------------------------------------------------------------------------
    def build_and_run_instance(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        request_spec: dict[str, Any],
        node: str,
        alternates: list[dict[str, Any]],
    ) -> None:
        """Build and boot the instance here; reschedule to an alternate if spawn fails."""
        with self.locks.hold(instance_uuid):
            self._builder.build(ctx, instance_uuid, request_spec, node, alternates)

    def init_host(self) -> None:
        """On start: destroy guests of instances evacuated away while this host was down
        (testbed/compute/evacuate.py), then listen to the hypervisor's lifecycle events
        (they feed the power-state sync, testbed/compute/power_sync.py)."""
        destroy_evacuated_instances(self)
        self.driver.register_lifecycle_handler(self.power_sync.handle_lifecycle_event)

    # -- rebuild and evacuate (testbed/compute/rebuild.py, evacuate.py) --------------------
    def rebuild_instance(
        self, ctx: RequestContext, instance_uuid: str, task_id: str, rebuild: dict[str, Any]
    ) -> None:
        """Rebuild here: re-image on the same host, or (``rebuild["evacuate"]``) recreate
        an instance of a failed host on this one."""
        with self.locks.hold(instance_uuid):
            self._rebuilder.rebuild(ctx, instance_uuid, task_id, rebuild)

    # -- power ----------------------------------------------------------------------------
    def stop_instance(
        self, ctx: RequestContext, instance_uuid: str, task_id: str, clean_shutdown: bool = True
    ) -> None:
        """Power off: ``powering-off`` -> stopped."""
        self._power_action(
            ctx,
            instance_uuid,
            task_id,
            "compute_stop_instance",
            steps=(task_states.POWERING_OFF,),
            run=lambda inst: self.driver.power_off(inst, clean_shutdown),
            done=states.STOPPED,
        )

    def start_instance(self, ctx: RequestContext, instance_uuid: str, task_id: str) -> None:
        """Power on: ``powering-on`` -> active."""
        self._power_action(
            ctx,
            instance_uuid,
            task_id,
            "compute_start_instance",
            steps=(task_states.POWERING_ON,),
            run=lambda inst: self.driver.power_on(
                inst, inst["network_info"], self._block_device_info(inst)
            ),
            done=states.ACTIVE,
        )

    def reboot_instance(
        self, ctx: RequestContext, instance_uuid: str, task_id: str, reboot_type: str
    ) -> None:
        """Reboot: ``rebooting`` -> ``reboot_pending`` -> ``reboot_started`` -> active
        (``*_hard`` for HARD)."""
        hard = str(reboot_type).upper() == "HARD"
        steps = (
            (
                task_states.REBOOTING_HARD,
                task_states.REBOOT_PENDING_HARD,
                task_states.REBOOT_STARTED_HARD,
            )
            if hard
            else (task_states.REBOOTING, task_states.REBOOT_PENDING, task_states.REBOOT_STARTED)
        )
        self._power_action(
            ctx,
            instance_uuid,
            task_id,
            "compute_reboot_instance",
            steps=steps,
            run=lambda inst: self.driver.reboot(
                inst,
                inst["network_info"],
                "HARD" if hard else "SOFT",
                self._block_device_info(inst),
            ),
            done=states.ACTIVE,
            error_state=lambda power: None if power == power_state.RUNNING else states.ERROR,
        )

    def pause_instance(self, ctx: RequestContext, instance_uuid: str, task_id: str) -> None:
        """Pause: ``pausing`` -> paused."""
        self._power_action(
            ctx,
            instance_uuid,
            task_id,
            "compute_pause_instance",
            steps=(task_states.PAUSING,),
            run=self.driver.pause,
            done=states.PAUSED,
        )

    def unpause_instance(self, ctx: RequestContext, instance_uuid: str, task_id: str) -> None:
        """Unpause: ``unpausing`` -> active."""
        self._power_action(
            ctx,
            instance_uuid,
            task_id,
            "compute_unpause_instance",
            steps=(task_states.UNPAUSING,),
            run=self.driver.unpause,
            done=states.ACTIVE,
        )

    def suspend_instance(self, ctx: RequestContext, instance_uuid: str, task_id: str) -> None:
        """Suspend: ``suspending`` -> suspended."""
        self._power_action(
            ctx,
            instance_uuid,
            task_id,
            "compute_suspend_instance",
            steps=(task_states.SUSPENDING,),
            run=self.driver.suspend,
            done=states.SUSPENDED,
        )

    def resume_instance(self, ctx: RequestContext, instance_uuid: str, task_id: str) -> None:
        """Resume: ``resuming`` -> active."""
        self._power_action(
            ctx,
            instance_uuid,
            task_id,
            "compute_resume_instance",
            steps=(task_states.RESUMING,),
            run=lambda inst: self.driver.resume(
                inst, inst["network_info"], self._block_device_info(inst)
            ),
            done=states.ACTIVE,
        )

    # -- volumes (testbed/compute/volume_ops.py) -------------------------------------------
    def attach_volume(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        volume_id: str,
        bdm_uuid: str,
        attachment_id: str,
    ) -> None:
        """Connect a volume the api reserved, and complete its attachment."""
        with self.locks.hold(instance_uuid):
            VolumeOperations(self).attach(ctx, instance_uuid, volume_id, bdm_uuid, attachment_id)

    def detach_volume(
        self, ctx: RequestContext, instance_uuid: str, volume_id: str, attachment_id: str | None
    ) -> None:
        """Disconnect a volume and delete its attachment."""
        with self.locks.hold(instance_uuid):
            VolumeOperations(self).detach(ctx, instance_uuid, volume_id, attachment_id)

    # -- delete ---------------------------------------------------------------------------
    def terminate_instance(
        self, ctx: RequestContext, instance_uuid: str, task_id: str | None
    ) -> None:
        """Delete: destroy the guest, free its ports, volumes and allocations, and mark
        the row deleted.  ``task_id`` None (force delete) pre-empts any running task: the
        row is marked deleted first, the guest and its resources are cleaned up after (a
        guest that survives is the running-deleted reaper's, as in Nova)."""
        event = "compute_terminate_instance"
        force = task_id is None
        with self.locks.hold(instance_uuid):
            inst = self.records.transition(
                ctx,
                instance_uuid,
                task_id=task_id,
                values=self._deleted_values() if force else {"task_state": task_states.DELETING},
                events=(Event(event),),
                allow_deleted=force,
            )
            if inst is None:
                return
            try:
                self._shutdown_instance(ctx, inst)
            except Exception as exc:
                LOG.exception("terminating %s on %s failed", instance_uuid, self.host)
                self.records.transition(
                    ctx,
                    instance_uuid,
                    task_id=task_id,
                    values={}
                    if force
                    else {"vm_state": states.ERROR, "task_state": None, "task_id": None},
                    events=(Event(event, ERROR, fault_message(exc)),),
                    faults=(fault_from(exc),),
                    release_allocations=force,
                    allow_deleted=force,
                )
                return
            self.records.transition(
                ctx,
                instance_uuid,
                task_id=task_id,
                values={} if force else self._deleted_values(),
                events=(Event(event, SUCCESS),),
                release_allocations=True,
                purge=True,
                allow_deleted=force,
            )

    def _deleted_values(self) -> dict[str, Any]:
        """The columns of a deleted instance row."""
        now = self.runtime.clock.now()
        return {
            "vm_state": states.DELETED,
            "task_state": None,
            "task_id": None,
            "power_state": power_state.NOSTATE,
            "terminated_at": now,
            "deleted": True,
            "deleted_at": now,
        }

    def _shutdown_instance(self, ctx: RequestContext, inst: Instance) -> None:
        """Destroy the guest, then release its network and volumes."""
        bdms = self.records.block_device_mappings(inst["uuid"])
        try:
            self.driver.destroy(inst, inst["network_info"], self._block_device_info(inst, bdms))
        except GuestNotFound:
            pass
        self.network_api.deallocate_for_instance(ctx, inst["uuid"])
        for bdm in bdms:
            if bdm["attachment_id"]:
                self.volume_api.attachment_delete(ctx, bdm["attachment_id"])
            if bdm["delete_on_termination"] and bdm["volume_id"]:
                self.volume_api.delete_volume(ctx, bdm["volume_id"])

    # -- shared -----------------------------------------------------------------------------
    def _power_action(
        self,
        ctx: RequestContext,
        uuid: str,
        task_id: str,
        event: str,
        *,
        steps: tuple[str, ...],
        run: Callable[[Instance], None],
        done: str,
        error_state: Callable[[int], str | None] | None = None,
    ) -> None:
        """Walk the task states, run the driver call, then settle the instance."""
        with self.locks.hold(uuid):
            inst = self.records.transition(
                ctx, uuid, task_id=task_id, values={"task_state": steps[0]}, events=(Event(event),)
            )
            for step in steps[1:]:
                if inst is None:
                    return
                inst = self.records.transition(
                    ctx, uuid, task_id=task_id, values={"task_state": step}
                )
            if inst is None:
                return
            try:
                run(inst)
            except Exception as exc:
                LOG.warning("%s of %s on %s failed: %s", event, uuid, self.host, exc)
                power = self.current_power_state(inst)
                values: dict[str, Any] = {"task_state": None, "task_id": None}
                values["power_state"] = power
                vm_state = error_state(power) if error_state else None
                if vm_state:
                    values["vm_state"] = vm_state
                self.records.transition(
                    ctx,
                    uuid,
                    task_id=task_id,
                    values=values,
                    events=(Event(event, ERROR, fault_message(exc)),),
                    faults=(fault_from(exc),),
                )
                return
            self.records.transition(
                ctx,
                uuid,
                task_id=task_id,
                values={
                    "vm_state": done,
                    "task_state": None,
                    "task_id": None,
                    "power_state": self.current_power_state(inst),
                },
                events=(Event(event, SUCCESS),),
            )

    def current_power_state(self, inst: Instance) -> int:
        """What the hypervisor says now (NOSTATE when there is no guest)."""
        try:
            return self.driver.get_info(inst).state
        except GuestNotFound:
            return power_state.NOSTATE

    def _block_device_info(
        self, inst: Instance, bdms: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        if bdms is None:
            bdms = self.records.block_device_mappings(inst["uuid"])
        return block_device_info(inst, bdms)
