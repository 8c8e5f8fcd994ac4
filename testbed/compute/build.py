"""Building an instance on a compute host (``build_and_run_instance``).

Steps and task states (Nova's): ``scheduling`` -> ``networking`` (ports and fixed IPs
from the network service) -> ``block_device_mapping`` (volumes through the attachment
flow) -> ``spawning`` (the driver defines and boots the guest) -> vm_state ``active``.
Every step is guarded: an instance deleted meanwhile (task_state ``deleting``) stops the
build, which then undoes what it did.

Failures: the image, the network or the block devices failing aborts the build (vm_state
error, a fault ``Build of instance <uuid> aborted: ...``, not rescheduled, as Nova does).
A spawn failure cleans up, drops this host's claim and gives the instance back to the
conductor with the remaining alternates; with none left the instance goes to error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from testbed.compute import states
from testbed.compute.actions import ERROR, SUCCESS, fault_message
from testbed.compute.records import Event, Fault, block_device_info
from testbed.compute.states import task_states
from testbed.context import RequestContext
from testbed.scheduler import claims

if TYPE_CHECKING:
    from testbed.compute.manager import ComputeManager

__all__ = ["Builder", "max_retries_message"]

LOG = logging.getLogger(__name__)

EVENT = "compute_build_and_run_instance"
_BUILD_STATES = (
    task_states.NETWORKING,
    task_states.BLOCK_DEVICE_MAPPING,
    task_states.SPAWNING,
)


def max_retries_message(instance_uuid: str) -> str:
    """Nova's MaxRetriesExceeded message."""
    return (
        "Exceeded maximum number of retries. Exhausted all hosts available for retrying "
        f"build failures for instance {instance_uuid}."
    )


class _Aborted(Exception):
    """A build failure that is not rescheduled (image, network, block devices)."""


class _Reschedule(Exception):
    """A spawn failure: try an alternate host."""


class _Gone(Exception):
    """The instance was deleted (or its task taken over) during the build."""


@dataclass
class _Progress:
    """What the build has set up so far (for the clean-up)."""

    network_requested: bool = False
    network_info: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[tuple[int, str]] = field(default_factory=list)
    spawn_started: bool = False


class Builder:
    """The build flow of one compute host."""

    def __init__(self, manager: ComputeManager) -> None:
        self.manager = manager
        self.records = manager.records

    def build(
        self,
        ctx: RequestContext,
        uuid: str,
        request_spec: dict[str, Any],
        node: str,
        alternates: list[dict[str, Any]],
    ) -> None:
        """Run the build; every outcome ends in a state change or a quiet stop."""
        manager = self.manager
        values: dict[str, Any] = {
            "host": manager.host,
            "node": node,
            "task_state": task_states.NETWORKING,
        }
        if manager.availability_zone:
            values["availability_zone"] = manager.availability_zone
        inst = self.records.transition(
            ctx,
            uuid,
            expect_task_state=(task_states.SCHEDULING,),
            values=values,
            events=(Event(EVENT),),
            with_bdms=True,
        )
        if inst is None:
            self._drop_orphan_claim(uuid)
            return
        progress = _Progress()
        try:
            self._run(ctx, inst, request_spec, progress)
        except _Gone:
            LOG.info("instance %s went away during its build on %s", uuid, manager.host)
            self._cleanup(ctx, inst, progress)
        except _Aborted as exc:
            self._cleanup(ctx, inst, progress)
            message = f"Build of instance {uuid} aborted: {exc}"
            self.records.transition(
                ctx,
                uuid,
                expect_task_state=_BUILD_STATES,
                values={"vm_state": states.ERROR, "task_state": None, "task_id": None},
                events=(Event(EVENT, ERROR, message),),
                faults=(Fault(message[:255], details=repr(exc.__cause__ or exc)),),
            )
        except _Reschedule as exc:
            self._cleanup(ctx, inst, progress)
            self._reschedule(ctx, inst, request_spec, alternates, str(exc))

    # -- the steps --------------------------------------------------------------------------
    def _run(
        self,
        ctx: RequestContext,
        inst: dict[str, Any],
        request_spec: dict[str, Any],
        progress: _Progress,
    ) -> None:
        manager, uuid = self.manager, inst["uuid"]
        image = self._image(ctx, inst, request_spec)
        progress.network_requested = True
        try:
            requested = inst.get("requested_networks")
            if requested is None:
                requested = request_spec.get("requested_networks")
            progress.network_info = manager.network_api.allocate_for_instance(
                ctx, uuid, inst["project_id"], requested, manager.host
            )
        except Exception as exc:
            raise _Aborted("Failed to allocate the network(s), not rescheduling.") from exc
        bdms: list[dict[str, Any]] = inst.pop("block_device_mappings", [])
        with_volumes = any(b["destination_type"] == "volume" for b in bdms)
        spawning = {"task_state": task_states.SPAWNING, "root_device_name": "/dev/vda"}
        inst = self._step(
            ctx,
            uuid,
            task_states.NETWORKING,
            {
                "network_info": progress.network_info,
                "task_state": task_states.BLOCK_DEVICE_MAPPING,
            },
            then=() if with_volumes else (spawning,),
        )
        if with_volumes:
            try:
                bdms = self._prepare_block_devices(ctx, inst, bdms, progress)
            except _Gone:
                raise
            except Exception as exc:
                raise _Aborted("Failure prepping block device.") from exc
            inst = self._step(ctx, uuid, task_states.BLOCK_DEVICE_MAPPING, spawning)
        progress.spawn_started = True
        try:
            manager.driver.spawn(inst, image, progress.network_info, block_device_info(inst, bdms))
        except Exception as exc:
            LOG.warning("spawn of %s on %s failed: %s", uuid, manager.host, exc)
            raise _Reschedule(fault_message(exc)) from exc
        done = self.records.transition(
            ctx,
            uuid,
            expect_task_state=(task_states.SPAWNING,),
            values={
                "vm_state": states.ACTIVE,
                "task_state": None,
                "task_id": None,
                "power_state": manager.current_power_state(inst),
                "launched_at": manager.runtime.clock.now(),
            },
            events=(Event(EVENT, SUCCESS),),
        )
        if done is None:
            raise _Gone()

    def _step(
        self,
        ctx: RequestContext,
        uuid: str,
        expect: str,
        values: dict[str, Any],
        then: tuple[dict[str, Any], ...] = (),
    ) -> dict[str, Any]:
        inst = self.records.transition(
            ctx, uuid, expect_task_state=(expect,), values=values, then=then
        )
        if inst is None:
            raise _Gone()
        return inst

    def _image(
        self, ctx: RequestContext, inst: dict[str, Any], request_spec: dict[str, Any]
    ) -> dict[str, Any] | None:
        image_ref = inst.get("image_ref")
        if not image_ref or request_spec.get("is_bfv"):
            return None
        try:
            return self.manager.image_cache.image_for_build(
                ctx, image_ref, request_spec.get("image")
            )
        except Exception as exc:
            raise _Aborted(fault_message(exc)) from exc

    def _prepare_block_devices(
        self,
        ctx: RequestContext,
        inst: dict[str, Any],
        bdms: list[dict[str, Any]],
        progress: _Progress,
    ) -> list[dict[str, Any]]:
        """Create volumes the BDMs ask for, attach every volume; returns the BDMs."""
        manager, uuid = self.manager, inst["uuid"]
        connector = {"host": manager.host, "platform": "x86_64", "os_type": "linux"}
        used = {b["device_name"] for b in bdms if b["device_name"]}
        for bdm in bdms:
            if bdm["destination_type"] != "volume":
                continue
            changes: dict[str, Any] = {}
            if not bdm["volume_id"]:
                size = bdm["volume_size"] or int(inst["flavor"].get("root_gb") or 1)
                image_id = bdm["image_id"] if bdm["source_type"] == "image" else None
                volume = manager.volume_api.create_volume(
                    ctx, size, name=f"{uuid}-blank-vol", image_id=image_id
                )
                changes["volume_id"] = bdm["volume_id"] = volume["id"]
            attachment_id = bdm["attachment_id"]
            if not attachment_id:
                attachment_id = manager.volume_api.attachment_create(ctx, bdm["volume_id"], uuid)[
                    "id"
                ]
            progress.attachments.append((bdm["id"], attachment_id))
            attachment = manager.volume_api.attachment_update(ctx, attachment_id, connector)
            manager.volume_api.attachment_complete(ctx, attachment_id)
            if not bdm["device_name"]:
                bdm["device_name"] = _next_device(used, root=bdm["boot_index"] == 0)
                used.add(bdm["device_name"])
            changes.update(
                attachment_id=attachment_id,
                connection_info=attachment.get("connection_info"),
                device_name=bdm["device_name"],
            )
            bdm.update(changes)
            self.records.update_bdm(bdm["id"], **changes)
        return bdms

    # -- failure paths ------------------------------------------------------------------------
    def _cleanup(self, ctx: RequestContext, inst: dict[str, Any], progress: _Progress) -> None:
        """Undo what the build did on this host; errors are logged, not raised."""
        manager = self.manager
        if progress.spawn_started:
            _quietly("destroy", lambda: manager.driver.destroy(inst, progress.network_info, None))
        if progress.network_requested:
            _quietly(
                "deallocate network",
                lambda: manager.network_api.deallocate_for_instance(ctx, inst["uuid"]),
            )
        for bdm_id, attachment_id in progress.attachments:
            _quietly(
                "detach volume",
                lambda a=attachment_id: manager.volume_api.attachment_delete(ctx, a),
            )
            self.records.update_bdm(bdm_id, attachment_id=None, connection_info=None)

    def _reschedule(
        self,
        ctx: RequestContext,
        inst: dict[str, Any],
        request_spec: dict[str, Any],
        alternates: list[dict[str, Any]],
        reason: str,
    ) -> None:
        manager, uuid = self.manager, inst["uuid"]
        faults = [Fault(reason, details=f"rescheduled from {manager.host}")]
        values: dict[str, Any] = {"host": None, "node": None, "network_info": []}
        if alternates:
            values["task_state"] = task_states.SCHEDULING
        else:
            values.update(vm_state=states.ERROR, task_state=None, task_id=None)
            if manager.runtime.config.max_attempts > 1:
                faults.append(Fault(max_retries_message(uuid)))
        done = self.records.transition(
            ctx,
            uuid,
            expect_task_state=_BUILD_STATES,
            values=values,
            events=(Event(EVENT, ERROR, reason),),
            faults=tuple(faults),
            release_allocations=True,
        )
        if done is not None and alternates:
            manager.conductor_api.reschedule_instance(ctx, uuid, request_spec, alternates)

    def _drop_orphan_claim(self, uuid: str) -> None:
        """A build for an instance deleted before it started: free this host's claim."""
        inst = self.records.load(uuid)
        if inst is not None and not inst["deleted"]:
            return

        runtime = self.manager.runtime
        with runtime.store.transaction() as connection:
            claims.release(connection, uuid, host=self.manager.host, tracer=runtime.tracer)


def _next_device(used: set[str | None], *, root: bool) -> str:
    if root and "/dev/vda" not in used:
        return "/dev/vda"
    for letter in "bcdefghijklmnopqrstuvwxyz":
        name = f"/dev/vd{letter}"
        if name not in used:
            return name
    raise ValueError("no free device name")


def _quietly(what: str, fn: Any) -> None:
    try:
        fn()
    except Exception as exc:
        LOG.warning("build clean-up: %s failed: %s", what, exc)
