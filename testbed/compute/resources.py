"""The compute host's resource tracker: keep its ``compute_nodes`` row true.

Capacity comes from the driver (what the hypervisor reports); usage is the sum of the
node's allocations (the scheduler's claims), recomputed here so any drift heals at the
next periodic update.  Allocation ratios come from the configuration, as Nova's
``cpu_allocation_ratio`` & co. do.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from testbed.compute.models import ComputeNode
from testbed.scheduler import claims
from testbed.service import Runtime

__all__ = ["update_compute_node"]


def update_compute_node(
    runtime: Runtime, host: str, resources: dict[str, Any], *, shared_storage: str | None
) -> str:
    """Create or refresh the node row from the driver's ``resources``; returns its uuid."""
    config = runtime.config
    hostname = str(resources.get("hypervisor_hostname") or host)
    with runtime.store.session() as session:
        node = session.execute(
            select(ComputeNode).where(ComputeNode.hypervisor_hostname == hostname)
        ).scalar_one_or_none()
        if node is None:
            node = ComputeNode(
                host=host,
                hypervisor_hostname=hostname,
                vcpus=int(resources["vcpus"]),
                memory_mb=int(resources["memory_mb"]),
                local_gb=int(resources["local_gb"]),
            )
            session.add(node)
        node.host = host
        node.vcpus = int(resources["vcpus"])
        node.memory_mb = int(resources["memory_mb"])
        node.local_gb = int(resources["local_gb"])
        node.hypervisor_type = str(resources.get("hypervisor_type", "QEMU"))
        node.hypervisor_version = int(resources.get("hypervisor_version", 0))
        node.cpu_info = dict(resources.get("cpu_info") or {})
        node.running_vms = int(resources.get("running_vms", 0))
        node.shared_storage = shared_storage
        node.cpu_allocation_ratio = config.cpu_allocation_ratio
        node.ram_allocation_ratio = config.ram_allocation_ratio
        node.disk_allocation_ratio = config.disk_allocation_ratio
        session.flush()
        claims.recompute_usage(session, node.uuid)
        return node.uuid
