"""The conductor's RPC endpoint: schedule a build, and move it to an alternate on failure.

``build_instances``: ask the scheduler for a host per instance (it claims the resources),
then cast ``build_and_run_instance`` to each chosen host with that instance's alternates.
When no host fits, every instance of the request goes to ERROR with a ``No valid host was
found. ...`` fault and a failed ``conductor_schedule_and_build_instances`` event.

``reschedule_instance``: a host failed to spawn (and dropped its claim); claim on the
first alternate that still has room and build there.  As in Nova, the alternates are not
re-filtered, only re-claimed; when none is left the instance goes to ERROR with Nova's
MaxRetriesExceeded message.
"""

from __future__ import annotations

import logging
from typing import Any

from testbed.compute import states
from testbed.compute.actions import ERROR, SUCCESS, fault_message
from testbed.compute.build import max_retries_message
from testbed.compute.records import Event, Fault, InstanceRecords
from testbed.compute.rpcapi import ComputeAPI
from testbed.compute.states import task_states
from testbed.conductor.migrate import ConductorMigrationMixin  # migrate / live migrate tasks
from testbed.conductor.rebuild import RebuildTask
from testbed.context import RequestContext
from testbed.exceptions import CloudError
from testbed.scheduler import claims
from testbed.scheduler.rpcapi import SchedulerAPI
from testbed.service import Runtime

__all__ = ["SCHEDULE_EVENT", "ConductorManager"]

LOG = logging.getLogger(__name__)

SCHEDULE_EVENT = "conductor_schedule_and_build_instances"


class ConductorManager(ConductorMigrationMixin):
    """Endpoint of the ``conductor`` topic."""

    def __init__(self, runtime: Runtime, host: str = "controller") -> None:
        self.runtime = runtime
        self.host = host
        self.records = InstanceRecords(runtime, host)
        self.scheduler_api = SchedulerAPI(runtime.bus)
        self.compute_api = ComputeAPI(runtime.bus)
        self._rebuild = RebuildTask(runtime, host)

    def rebuild_instance(
        self, ctx: RequestContext, instance_uuid: str, task_id: str, rebuild: dict[str, Any]
    ) -> None:
        """Rebuild on the instance's host, or evacuate it (testbed/conductor/rebuild.py)."""
        self._rebuild.rebuild_instance(ctx, instance_uuid, task_id, rebuild)

    def build_instances(
        self, ctx: RequestContext, instance_uuids: list[str], request_spec: dict[str, Any]
    ) -> None:
        """Schedule the instances, then cast each build to its host."""
        try:
            selections = self.scheduler_api.select_destinations(
                ctx, request_spec, instance_uuids, return_alternates=True
            )
        except CloudError as exc:
            LOG.info("scheduling %s failed: %s", instance_uuids, exc)
            for uuid in instance_uuids:
                self._fail(ctx, uuid, fault_message(exc), event=SCHEDULE_EVENT)
            return
        self._record_success(ctx, instance_uuids)
        for uuid, hosts in zip(instance_uuids, selections, strict=True):
            chosen = hosts[0]
            self.compute_api.build_and_run_instance(
                ctx,
                chosen["host"],
                uuid,
                request_spec,
                chosen["node"],
                alternates=hosts[1:],
            )

    def reschedule_instance(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        request_spec: dict[str, Any],
        alternates: list[dict[str, Any]],
    ) -> None:
        """Build on the first alternate where the resources can still be claimed."""
        runtime = self.runtime
        want = claims.resources_from_spec(request_spec)
        project_id = request_spec.get("project_id") or ctx.project_id
        for index, alternate in enumerate(alternates):
            with runtime.store.transaction() as connection:
                claimed = claims.claim(
                    connection,
                    node_uuid=alternate["node_uuid"],
                    host=alternate["host"],
                    consumer_uuid=instance_uuid,
                    want=want,
                    project_id=project_id,
                    tracer=runtime.tracer,
                )
            if claimed:
                self.compute_api.build_and_run_instance(
                    ctx,
                    alternate["host"],
                    instance_uuid,
                    request_spec,
                    alternate["node"],
                    alternates=alternates[index + 1 :],
                )
                return
        self._fail(ctx, instance_uuid, max_retries_message(instance_uuid), event=None)

    # -- internals ------------------------------------------------------------------------
    def _record_success(self, ctx: RequestContext, uuids: list[str]) -> None:
        for uuid in uuids:
            self.records.record_event(ctx, uuid, Event(SCHEDULE_EVENT, SUCCESS))

    def _fail(self, ctx: RequestContext, uuid: str, message: str, *, event: str | None) -> None:
        """ERROR with a fault (code 500, as Nova records NoValidHost)."""
        self.records.transition(
            ctx,
            uuid,
            expect_task_state=(task_states.SCHEDULING,),
            values={"vm_state": states.ERROR, "task_state": None, "task_id": None},
            events=(Event(event, ERROR, message),) if event else (),
            faults=(Fault(message),),
        )
