"""Helpers for scheduler tests: compute hosts recorded in the store as nova-compute does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from testbed.compute.models import ComputeNode, Instance, ServerGroup, ServerGroupMember, Service
from testbed.context import RequestContext
from testbed.scheduler.service import SchedulerService
from testbed.service import Runtime


def add_host(
    runtime: Runtime,
    name: str,
    *,
    vcpus: int = 4,
    memory_mb: int = 4096,
    disk_gb: int = 40,
    az: str = "nova",
    up: bool = True,
    disabled: bool = False,
    cpu_ratio: float = 16.0,
    ram_ratio: float = 1.0,
    disk_ratio: float = 1.0,
) -> str:
    """A compute node and its service row; returns the node uuid."""
    now = runtime.clock.now()
    with runtime.store.session() as s:
        s.add(
            Service(
                host=name,
                binary="nova-compute",
                topic=f"compute.{name}",
                availability_zone=az,
                disabled=disabled,
                last_seen_up=now if up else now - 3600,
            )
        )
        node = ComputeNode(
            host=name,
            hypervisor_hostname=name,
            vcpus=vcpus,
            memory_mb=memory_mb,
            local_gb=disk_gb,
            cpu_allocation_ratio=cpu_ratio,
            ram_allocation_ratio=ram_ratio,
            disk_allocation_ratio=disk_ratio,
            cpu_info={"arch": "x86_64"},
        )
        s.add(node)
        s.flush()
        return node.uuid


def add_group(runtime: Runtime, policy: str, members: dict[str, str | None]) -> dict[str, Any]:
    """A server group with members ``{instance_uuid: host}``; returns the spec's group."""
    with runtime.store.session() as s:
        group = ServerGroup(name="g", project_id="p1", user_id="u1", policy=policy)
        s.add(group)
        s.flush()
        for uuid, host in members.items():
            s.add(Instance(uuid=uuid, project_id="p1", user_id="u1", host=host))
            s.add(ServerGroupMember(group_uuid=group.uuid, instance_uuid=uuid))
        return {"uuid": group.uuid, "policy": policy}


def spec(vcpus: int = 1, ram: int = 512, disk: int = 1, **extra: Any) -> dict[str, Any]:
    """A request spec as the api builds it."""
    return {
        "flavor": {
            "vcpus": vcpus,
            "memory_mb": ram,
            "root_gb": disk,
            "ephemeral_gb": 0,
            "swap": 0,
            "extra_specs": {},
        },
        "image": {"id": "img", "properties": {}},
        "project_id": "p1",
        "user_id": "u1",
        "num_instances": 1,
        **extra,
    }


@pytest.fixture
def scheduler(runtime: Runtime) -> Iterator[SchedulerService]:
    service = SchedulerService(runtime)
    service.start()
    yield service
    service.stop()


@pytest.fixture
def ctx() -> RequestContext:
    return RequestContext(user_id="u1", project_id="p1", roles=("member",))
