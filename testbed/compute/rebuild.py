"""Rebuild on a compute host: re-image in place, or recreate an evacuated instance.

One flow for both (Nova's ``rebuild_instance`` with ``recreate`` for an evacuation):

``rebuilding`` (set by the api) -> ``rebuild_block_device_mapping`` -> ``rebuild_spawning``
-> vm_state ``active``; an instance that was stopped (or an evacuation at microversion
2.95) is then powered off in the same task: ``powering-off`` -> ``stopped``.

- *Rebuild* (same host): the guest is destroyed with its local disks (volumes stay
  attached), then spawned again from the instance's (possibly new) image.
- *Evacuation* (``rebuild["evacuate"]``, on the destination): the steps of
  :mod:`testbed.compute.evacuate` — ports bound here, volumes attached here, the disk kept
  when the instances directory is shared with the failed host, else rebuilt from the
  image — and the instance moves here when the guest runs.

A failure leaves the instance in ``error`` with a fault (an evacuation also fails its
migration and gives this host's claim back).  Every step is guarded by the task id.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from testbed.compute import states
from testbed.compute.actions import ERROR, SUCCESS, fault_message
from testbed.compute.evacuate import Evacuation
from testbed.compute.records import Event, block_device_info, fault_from
from testbed.compute.states import task_states
from testbed.context import RequestContext
from testbed.virt.driver import GuestNotFound

if TYPE_CHECKING:
    from testbed.compute.manager import ComputeManager

__all__ = ["REBUILD_EVENT", "Rebuilder"]

LOG = logging.getLogger(__name__)

REBUILD_EVENT = "compute_rebuild_instance"


class _Gone(Exception):
    """The task was taken over (a force delete) during the rebuild."""


class Rebuilder:
    """The rebuild flow of one compute host."""

    def __init__(self, manager: ComputeManager) -> None:
        self.manager = manager
        self.records = manager.records

    def rebuild(
        self, ctx: RequestContext, uuid: str, task_id: str, rebuild: dict[str, Any]
    ) -> None:
        """Run the rebuild (or evacuation) of ``uuid``; see the module docstring."""
        evacuation = Evacuation(self.manager, rebuild) if rebuild.get("evacuate") else None
        inst = self.records.transition(
            ctx,
            uuid,
            task_id=task_id,
            expect_task_state=(task_states.REBUILDING,),
            values={},
            events=(Event(REBUILD_EVENT),),
        )
        if inst is None:
            if evacuation is not None:
                evacuation.abandon(ctx, uuid)
            return
        try:
            self._run(ctx, inst, task_id, rebuild, evacuation)
        except _Gone:
            LOG.info(
                "rebuild of %s on %s stopped: its task was taken over", uuid, self.manager.host
            )
            if evacuation is not None:
                evacuation.abandon(ctx, uuid, destroy=inst)
        except Exception as exc:
            LOG.warning("rebuild of %s on %s failed: %s", uuid, self.manager.host, exc)
            self._fail(ctx, inst, task_id, exc, evacuation)

    # -- the steps --------------------------------------------------------------------------
    def _run(
        self,
        ctx: RequestContext,
        inst: dict[str, Any],
        task_id: str,
        rebuild: dict[str, Any],
        evacuation: Evacuation | None,
    ) -> None:
        manager, uuid = self.manager, inst["uuid"]
        bdms = self.records.block_device_mappings(uuid)
        is_bfv = any(b["destination_type"] == "volume" and b["boot_index"] == 0 for b in bdms)
        image_ref = rebuild.get("image_ref") or inst.get("image_ref")
        reuse_disks = False
        if evacuation is not None:
            reuse_disks = evacuation.shared_storage(inst)
            network_info = evacuation.bind_ports(ctx, inst)
        else:
            network_info = list(inst.get("network_info") or [])
            try:
                manager.driver.destroy(inst, network_info, block_device_info(inst, bdms))
            except GuestNotFound:
                pass
        inst = self._step(
            ctx, uuid, task_id, {"task_state": task_states.REBUILD_BLOCK_DEVICE_MAPPING}
        )
        if evacuation is not None:
            bdms = evacuation.attach_volumes(ctx, inst, bdms)
        inst = self._step(
            ctx,
            uuid,
            task_id,
            {"task_state": task_states.REBUILD_SPAWNING, "network_info": network_info},
        )
        image = None
        if image_ref and not is_bfv and not reuse_disks:
            image = manager.image_api.get_image(ctx, image_ref)
        manager.driver.spawn(
            inst, image, network_info, block_device_info(inst, bdms), reuse_disks=reuse_disks
        )
        values: dict[str, Any] = {
            "vm_state": states.ACTIVE,
            "power_state": manager.current_power_state(inst),
            "launched_at": manager.runtime.clock.now(),
        }
        if evacuation is not None:
            values.update(evacuation.placement())
        stop_after = (
            rebuild.get("orig_vm_state") == states.STOPPED
            or rebuild.get("target_state") == states.STOPPED
        )
        if stop_after:
            values["task_state"] = task_states.POWERING_OFF
            inst = self._step(ctx, uuid, task_id, values)
            manager.driver.power_off(inst, False)
            values = {"vm_state": states.STOPPED, "power_state": manager.current_power_state(inst)}
        done = self.records.transition(
            ctx,
            uuid,
            task_id=task_id,
            values={**values, "task_state": None, "task_id": None},
            events=(Event(REBUILD_EVENT, SUCCESS),),
        )
        if done is None:
            raise _Gone()
        if evacuation is not None:
            evacuation.finish(ctx, uuid)

    def _step(
        self, ctx: RequestContext, uuid: str, task_id: str, values: dict[str, Any]
    ) -> dict[str, Any]:
        inst = self.records.transition(ctx, uuid, task_id=task_id, values=values)
        if inst is None:
            raise _Gone()
        return inst

    def _fail(
        self,
        ctx: RequestContext,
        inst: dict[str, Any],
        task_id: str,
        exc: Exception,
        evacuation: Evacuation | None,
    ) -> None:
        uuid = inst["uuid"]
        if evacuation is not None:
            evacuation.abandon(ctx, uuid, destroy=inst, status="failed")
        self.records.transition(
            ctx,
            uuid,
            task_id=task_id,
            values={
                "vm_state": states.ERROR,
                "task_state": None,
                "task_id": None,
                "power_state": self.manager.current_power_state(inst)
                if evacuation is None
                else inst["power_state"],
            },
            events=(Event(REBUILD_EVENT, ERROR, fault_message(exc)),),
            faults=(fault_from(exc),),
        )
