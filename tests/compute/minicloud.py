"""A small cloud for compute-side tests: fake hypervisors, the real image and network
services, scheduler, conductor and a compute service per host.  Instances are created
and actions started exactly as the api does (rows in the store, then a cast)."""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from testbed.compute.models import (
    Allocation,
    Instance,
    InstanceAction,
    InstanceActionEvent,
    InstanceFault,
)
from testbed.compute.rpcapi import ComputeAPI
from testbed.compute.service import ComputeService
from testbed.compute.states import task_states
from testbed.conductor.rpcapi import ConductorAPI
from testbed.conductor.service import ConductorService
from testbed.config import Config
from testbed.context import RequestContext
from testbed.image.seed import seed_image
from testbed.image.service import ImageService
from testbed.network.seed import seed_network
from testbed.network.service import NetworkService
from testbed.runtime import build_runtime
from testbed.scheduler.service import SchedulerService
from testbed.service import Runtime, Service
from testbed.virt.fake import FakeBackend

IMAGE_ID = "6a1c7d4e-0c5e-4a53-9f0a-2b1f6c8e9d01"
NETWORK_ID = "3f1e8d2c-7b6a-4c5d-9e0f-1a2b3c4d5e01"
TINY = {
    "flavorid": "1",
    "name": "m1.tiny",
    "vcpus": 1,
    "memory_mb": 512,
    "root_gb": 1,
    "ephemeral_gb": 0,
    "swap": 0,
    "extra_specs": {},
}


@dataclass
class MiniCloud:
    """The pieces, and what tests do with them."""

    runtime: Runtime
    backend: FakeBackend
    services: list[Service] = field(default_factory=list)
    compute: dict[str, ComputeService] = field(default_factory=dict)
    ctx: RequestContext = field(
        default_factory=lambda: RequestContext(
            user_id="u1", project_id="p1", roles=("member",), project_name="demo"
        )
    )

    # -- building -------------------------------------------------------------------------
    @classmethod
    def start(
        cls,
        hosts: list[dict[str, Any]] | None = None,
        *,
        cidr: str = "172.24.4.0/24",
        **overrides: Any,
    ) -> MiniCloud:
        backend = FakeBackend()
        for host in hosts or [
            {"name": f"h{i}", "vcpus": 4, "memory_mb": 4096, "disk_gb": 40} for i in (1, 2, 3)
        ]:
            backend.add_host(host)
        runtime = build_runtime(Config().with_overrides(**overrides), virt=backend)
        backend.attach(runtime)
        cloud = cls(runtime, backend)
        for service in (
            ImageService(runtime),
            NetworkService(runtime),
            SchedulerService(runtime),
            ConductorService(runtime),
        ):
            service.start()
            cloud.services.append(service)
        for host in backend.hosts():
            cloud.start_compute(host)
        seed_image(
            runtime,
            [
                {
                    "id": IMAGE_ID,
                    "name": "cirros",
                    "disk_format": "qcow2",
                    "container_format": "bare",
                    "size": 21430272,
                    "visibility": "public",
                }
            ],
        )
        seed_network(
            runtime,
            [
                {
                    "id": NETWORK_ID,
                    "name": "public",
                    "shared": True,
                    "subnets": [{"id": str(uuidlib.uuid4()), "name": "v4", "cidr": cidr}],
                }
            ],
        )
        runtime.clock.settle()
        return cloud

    def start_compute(self, host: str) -> ComputeService:
        service = ComputeService(self.runtime, host=host)
        service.start()
        self.compute[host] = service
        return service

    def stop(self) -> None:
        for service in [*self.compute.values(), *self.services]:
            service.stop()
        self.runtime.clock.close()
        self.runtime.store.close()

    # -- as the api does -------------------------------------------------------------------
    def boot(
        self,
        count: int = 1,
        *,
        flavor: dict[str, Any] | None = None,
        settle: bool = True,
        **spec: Any,
    ) -> list[str]:
        """Record ``count`` instances (building/scheduling) and cast build_instances."""
        flavor = flavor or TINY
        uuids = [str(uuidlib.uuid4()) for _ in range(count)]
        now = self.runtime.clock.now()
        with self.runtime.store.session() as s:
            for index, uuid in enumerate(uuids):
                s.add(
                    Instance(
                        uuid=uuid,
                        display_name=f"vm-{index}",
                        project_id="p1",
                        user_id="u1",
                        image_ref=IMAGE_ID,
                        flavor=flavor,
                        vm_state="building",
                        task_state=task_states.SCHEDULING,
                        power_state=0,
                        requested_networks=[{"uuid": NETWORK_ID}],
                        launch_index=index,
                    )
                )
                self._action(s, uuid, "create", now)
        request_spec = {
            "flavor": flavor,
            "image": {"id": IMAGE_ID, "properties": {}},
            "project_id": "p1",
            "user_id": "u1",
            "num_instances": count,
            "requested_networks": [{"uuid": NETWORK_ID}],
            "block_device_mappings": [],
            "is_bfv": False,
            **spec,
        }
        ConductorAPI(self.runtime.bus).build_instances(self.ctx, uuids, request_spec)
        if settle:
            self.settle()
        return uuids

    def act(
        self,
        uuid: str,
        method: str,
        task_state: str | None,
        *,
        action: str,
        force: bool = False,
        settle: bool = True,
        **kwargs: Any,
    ) -> str | None:
        """Start a task as the api does: task_state + fresh task_id, action, then cast."""
        task_id = None if force else str(uuidlib.uuid4())
        self.ctx = RequestContext(
            user_id="u1", project_id="p1", roles=("member",), project_name="demo"
        )  # each API request has its own request id
        with self.runtime.store.session() as s:
            inst = s.get(Instance, uuid)
            assert inst is not None
            inst.task_state = task_state
            inst.task_id = task_id
            host = inst.host
            self._action(s, uuid, action, self.runtime.clock.now())
        assert host is not None
        getattr(ComputeAPI(self.runtime.bus), method)(self.ctx, host, uuid, task_id, **kwargs)
        if settle:
            self.settle()
        return task_id

    def _action(self, s: Any, uuid: str, action: str, now: float) -> None:
        s.add(
            InstanceAction(
                instance_uuid=uuid,
                request_id=self.ctx.request_id,
                action=action,
                project_id="p1",
                user_id="u1",
                start_time=now,
            )
        )

    def settle(self) -> None:
        self.runtime.clock.settle(timeout=20)

    # -- looking -------------------------------------------------------------------------
    def instance(self, uuid: str) -> Instance:
        with self.runtime.store.session() as s:
            inst = s.get(Instance, uuid)
            assert inst is not None
            s.expunge(inst)
            return inst

    def allocations(self, uuid: str) -> list[tuple[str, int, int, int]]:
        with self.runtime.store.session() as s:
            return [
                (a.host, a.vcpus, a.memory_mb, a.disk_gb)
                for a in s.scalars(select(Allocation).where(Allocation.consumer_uuid == uuid))
            ]

    def faults(self, uuid: str) -> list[tuple[int, str]]:
        with self.runtime.store.session() as s:
            return [
                (f.code, f.message)
                for f in s.scalars(
                    select(InstanceFault)
                    .where(InstanceFault.instance_uuid == uuid)
                    .order_by(InstanceFault.id)
                )
            ]

    def events(self, uuid: str) -> list[tuple[str, str, str | None]]:
        """(action, event, result) in order."""
        with self.runtime.store.session() as s:
            rows = s.execute(
                select(InstanceAction.action, InstanceActionEvent.event, InstanceActionEvent.result)
                .join(InstanceActionEvent, InstanceActionEvent.action_id == InstanceAction.id)
                .where(InstanceAction.instance_uuid == uuid)
                .order_by(InstanceActionEvent.id)
            ).all()
            return [tuple(r) for r in rows]  # type: ignore[misc]

    def states(self, uuid: str) -> list[tuple[str, str | None, int]]:
        """The instance's state timeline from the trace (vm_state, task_state, power)."""
        timeline = []
        for event in self.runtime.tracer.for_instance(uuid):
            if event["kind"] == "state":
                d = event["detail"]
                step = (d["vm_state"], d["task_state"], d["power_state"])
                if not timeline or timeline[-1] != step:
                    timeline.append(step)
        return timeline

    def guest_state(self, uuid: str, host: str) -> int | None:
        """libvirt's domain state on ``host`` (None when there is no domain)."""
        libvirt = self.backend.libvirt
        conn = libvirt.open(self.backend.uri(host))
        try:
            return conn.lookupByUUIDString(uuid).state(0)[0]
        except libvirt.libvirtError:
            return None
        finally:
            conn.close()
