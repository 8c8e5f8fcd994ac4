"""The conductor's rebuild task (Nova's ``ComputeTaskManager.rebuild_instance``).

- *Rebuild* (same host): recorded as the event ``conductor_rebuild_server``, then cast
  to the instance's host.
- *Evacuation*: pick the destination.  Without a host the scheduler chooses among the
  hosts its filters pass (a down or disabled host never passes ``ComputeFilter``, so the
  failed host is out); with a host the host's service must be up and enabled and the
  instance's resources must fit there (``force`` skips the first check, as Nova's forced
  evacuation skips the scheduler).  The destination is claimed for the instance, the
  migration gets its destination, and ``rebuild_instance`` is cast there.  When no host
  fits, the instance goes to ``error`` with a ``No valid host was found`` fault and the
  migration to ``error``, as in Nova.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from testbed.compute import states
from testbed.compute.actions import ERROR, SUCCESS, fault_message
from testbed.compute.api_hosts import compute_service, service_is_up
from testbed.compute.evacuate import set_migration
from testbed.compute.models import BlockDeviceMapping, ComputeNode, ServerGroup, ServerGroupMember
from testbed.compute.records import Event, Fault, InstanceRecords
from testbed.compute.rpcapi import ComputeAPI
from testbed.context import RequestContext
from testbed.exceptions import CloudError, NoValidHost
from testbed.image.rpcapi import ImageAPI
from testbed.scheduler import claims
from testbed.scheduler.rpcapi import SchedulerAPI
from testbed.service import Runtime

__all__ = ["REBUILD_SERVER_EVENT", "RebuildTask"]

LOG = logging.getLogger(__name__)

REBUILD_SERVER_EVENT = "conductor_rebuild_server"


class RebuildTask:
    """Rebuild and evacuation, on the conductor."""

    def __init__(self, runtime: Runtime, host: str) -> None:
        self.runtime = runtime
        self.records = InstanceRecords(runtime, host)
        self.scheduler_api = SchedulerAPI(runtime.bus)
        self.compute_api = ComputeAPI(runtime.bus)
        self.image_api = ImageAPI(runtime.bus)

    def rebuild_instance(
        self, ctx: RequestContext, instance_uuid: str, task_id: str, rebuild: dict[str, Any]
    ) -> None:
        """Route the rebuild to its host (choosing one for an evacuation)."""
        inst = self.records.load(instance_uuid)
        if inst is None or inst["deleted"] or inst["task_id"] != task_id:
            LOG.info("rebuild of %s dropped: the instance or its task is gone", instance_uuid)
            return
        if not rebuild.get("evacuate"):
            self.records.record_event(ctx, instance_uuid, Event(REBUILD_SERVER_EVENT, SUCCESS))
            self.compute_api.rebuild_instance(ctx, inst["host"], instance_uuid, task_id, rebuild)
            return
        try:
            selection = self._destination(ctx, inst, rebuild)
        except CloudError as exc:
            LOG.info("evacuation of %s: no destination: %s", instance_uuid, exc)
            self._fail(ctx, instance_uuid, task_id, rebuild, fault_message(exc))
            return
        self.records.record_event(ctx, instance_uuid, Event(REBUILD_SERVER_EVENT, SUCCESS))
        set_migration(
            self.runtime,
            rebuild.get("migration_uuid"),
            dest_compute=selection["host"],
            dest_host=selection["host"],
            dest_node=selection["node"],
        )
        rebuild = {
            **rebuild,
            "node": selection["node"],
            "availability_zone": selection.get("availability_zone"),
            "source_host": inst["host"],
        }
        self.compute_api.rebuild_instance(ctx, selection["host"], instance_uuid, task_id, rebuild)

    # -- choosing the destination -----------------------------------------------------------
    def _destination(
        self, ctx: RequestContext, inst: dict[str, Any], rebuild: dict[str, Any]
    ) -> dict[str, Any]:
        spec = self._request_spec(ctx, inst)
        host = rebuild.get("host")
        if host:
            if not rebuild.get("force"):
                self._check_host_usable(host)
            return self._claim_on(ctx, inst, host, spec)
        selections = self.scheduler_api.select_destinations(
            ctx, spec, [inst["uuid"]], return_alternates=False
        )
        return selections[0][0]

    def _check_host_usable(self, host: str) -> None:
        """ComputeFilter's check of a requested destination."""
        now = self.runtime.clock.now()
        with self.runtime.store.session() as session:
            service = compute_service(session, host)
            usable = (
                service is not None
                and not service.disabled
                and service_is_up(service, now, self.runtime.config.service_down_time)
            )
        if not usable:
            raise NoValidHost(reason=f"Host {host} is down or disabled.")

    def _claim_on(
        self, ctx: RequestContext, inst: dict[str, Any], host: str, spec: dict[str, Any]
    ) -> dict[str, Any]:
        with self.runtime.store.session() as session:
            node = session.scalars(select(ComputeNode).where(ComputeNode.host == host)).first()
            if node is None:
                raise NoValidHost(reason=f"Host {host} has no compute node.")
            selection: dict[str, Any] = {
                "host": host,
                "node": node.hypervisor_hostname,
                "node_uuid": node.uuid,
            }
            claimed = claims.claim(
                session,
                node_uuid=node.uuid,
                host=host,
                consumer_uuid=inst["uuid"],
                want=claims.resources_from_spec(spec),
                project_id=inst["project_id"],
                tracer=self.runtime.tracer,
            )
            service = compute_service(session, host)
            selection["availability_zone"] = service.availability_zone if service else None
        if not claimed:
            raise NoValidHost(reason=f"Host {host} has not enough room for the instance.")
        return selection

    def _request_spec(self, ctx: RequestContext, inst: dict[str, Any]) -> dict[str, Any]:
        uuid = inst["uuid"]
        with self.runtime.store.session() as session:
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
            group = session.execute(
                select(ServerGroup)
                .join(ServerGroupMember, ServerGroupMember.group_uuid == ServerGroup.uuid)
                .where(ServerGroupMember.instance_uuid == uuid)
            ).scalar_one_or_none()
            server_group = (
                {"uuid": group.uuid, "policy": group.policy, "rules": dict(group.rules or {})}
                if group is not None
                else None
            )
        image: dict[str, Any] | None = None
        if inst.get("image_ref") and not is_bfv:
            try:
                image = self.image_api.get_image(ctx.elevated(), inst["image_ref"])
            except CloudError:
                image = {"id": inst["image_ref"], "properties": {}}
        return {
            "flavor": inst["flavor"],
            "image": image,
            "project_id": inst["project_id"],
            "user_id": inst["user_id"],
            "num_instances": 1,
            "is_bfv": is_bfv,
            "server_group": server_group,
            "block_device_mappings": [],
        }

    def _fail(
        self,
        ctx: RequestContext,
        uuid: str,
        task_id: str,
        rebuild: dict[str, Any],
        message: str,
    ) -> None:
        set_migration(self.runtime, rebuild.get("migration_uuid"), status="error")
        self.records.transition(
            ctx,
            uuid,
            task_id=task_id,
            values={"vm_state": states.ERROR, "task_state": None, "task_id": None},
            events=(Event(REBUILD_SERVER_EVENT, ERROR, message),),
            faults=(Fault(message),),
        )
