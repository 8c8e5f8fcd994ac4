"""What must hold in a settled cloud, whatever test ran.  The conformance suite checks these
after every test (through the control API's ``GET /v1/invariants``).

1. No instance runs on two hypervisors.
2. No allocation without a live consumer (instance or open migration), and none missing
   for an instance placed on a host.
3. Every instance is settled: task_state None, or a recorded fault.
4. Each node's allocations equal the sum of the flavors of what it holds.
5. Every migration is terminal, or still running with its instance mid-task.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select

from testbed.compute.models import Allocation, ComputeNode, Instance, InstanceFault, Migration
from testbed.service import Runtime

__all__ = ["TERMINAL_MIGRATION_STATUSES", "check_invariants", "running_domains"]

TERMINAL_MIGRATION_STATUSES = frozenset(
    {"confirmed", "reverted", "completed", "error", "failed", "cancelled", "done", "finished"}
)
# Statuses in which a migration still holds resources on both sides (Nova keeps the
# source allocation on the migration until confirm or revert).
_HOLDING = frozenset({"finished", "post-migrating"})


def running_domains(runtime: Runtime) -> dict[str, list[str]]:
    """Instance uuid -> hosts where its guest is active, read through the libvirt API."""
    virt = runtime.virt
    found: dict[str, list[str]] = defaultdict(list)
    if virt is None:
        return found
    libvirt = virt.libvirt
    for host in virt.hosts():
        try:
            conn = libvirt.open(virt.uri(host))
        except libvirt.libvirtError:
            continue  # a crashed host runs nothing
        try:
            for dom in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
                found[dom.UUIDString()].append(host)
        finally:
            conn.close()
    return found


def _flavor_sum(flavors: list[dict[str, Any]]) -> tuple[int, int, int]:
    return (
        sum(int(f.get("vcpus", 0)) for f in flavors),
        sum(int(f.get("memory_mb", 0)) for f in flavors),
        sum(int(f.get("root_gb", 0)) + int(f.get("ephemeral_gb", 0)) for f in flavors),
    )


def check_invariants(runtime: Runtime) -> list[str]:
    """Every violation found, as sentences; empty when the cloud is consistent."""
    problems: list[str] = []
    with runtime.store.session() as s:
        instances = {i.uuid: i for i in s.scalars(select(Instance).where(~Instance.deleted))}
        allocations = list(s.scalars(select(Allocation)))
        nodes = {n.uuid: n for n in s.scalars(select(ComputeNode))}
        migrations = list(s.scalars(select(Migration)))
        faulted = set(s.scalars(select(InstanceFault.instance_uuid)))
    open_migrations = {
        m.uuid: m
        for m in migrations
        if m.status not in TERMINAL_MIGRATION_STATUSES or m.status in _HOLDING
    }

    for uuid, hosts in sorted(running_domains(runtime).items()):
        if len(hosts) > 1:
            problems.append(f"instance {uuid} runs on {len(hosts)} hosts: {sorted(hosts)}")

    consumers = {a.consumer_uuid for a in allocations}
    for a in allocations:
        if a.consumer_uuid not in instances and a.consumer_uuid not in open_migrations:
            problems.append(
                f"allocation on {a.host} for {a.consumer_uuid}, which is neither "
                "a live instance nor an open migration"
            )
    for inst in instances.values():
        if (
            inst.host
            and inst.vm_state not in ("error", "shelved_offloaded")
            and inst.uuid not in consumers
        ):
            problems.append(f"instance {inst.uuid} on {inst.host} has no allocation")
        if inst.task_state is not None and inst.uuid not in faulted:
            problems.append(
                f"instance {inst.uuid} is not settled: task_state "
                f"{inst.task_state} (vm_state {inst.vm_state})"
            )

    held: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for inst in instances.values():
        if inst.node and inst.uuid in consumers:
            held[inst.node].append(inst.flavor)
    for m in open_migrations.values():
        moving = instances.get(m.instance_uuid)
        if moving is not None and m.uuid in consumers and m.source_node:
            held[m.source_node].append(moving.old_flavor or moving.flavor)
    per_node: dict[str, list[Allocation]] = defaultdict(list)
    for a in allocations:
        per_node[a.node_uuid].append(a)
    for node_uuid, node in nodes.items():
        allocated = (
            sum(a.vcpus for a in per_node[node_uuid]),
            sum(a.memory_mb for a in per_node[node_uuid]),
            sum(a.disk_gb for a in per_node[node_uuid]),
        )
        expected = _flavor_sum(held.get(node.hypervisor_hostname, []))
        if allocated != expected:
            problems.append(
                f"node {node.hypervisor_hostname}: allocations (vcpus, MiB, GiB) "
                f"{allocated} differ from the flavors it holds {expected}"
            )

    for m in migrations:
        if m.status in TERMINAL_MIGRATION_STATUSES:
            continue
        migrating = instances.get(m.instance_uuid)
        if migrating is None or (migrating.task_state is None and migrating.vm_state != "resized"):
            problems.append(
                f"migration {m.id} ({m.migration_type}) is {m.status} but its "
                "instance is not mid-task"
            )
    return problems
