"""The compute service: registration, heartbeats and resource updates on the clock."""

from __future__ import annotations

from sqlalchemy import select

from testbed.compute.models import ComputeNode, Service
from testbed.scheduler import claims

from .minicloud import MiniCloud


def service_row(cloud: MiniCloud, host: str, binary: str = "nova-compute") -> Service:
    with cloud.runtime.store.session() as s:
        row = s.execute(
            select(Service).where(Service.host == host, Service.binary == binary)
        ).scalar_one()
        s.expunge(row)
        return row


def node_row(cloud: MiniCloud, host: str) -> ComputeNode:
    with cloud.runtime.store.session() as s:
        row = s.execute(select(ComputeNode).where(ComputeNode.host == host)).scalar_one()
        s.expunge(row)
        return row


def test_start_registers_the_service_and_the_node(cloud: MiniCloud) -> None:
    svc = service_row(cloud, "h1")
    assert (svc.topic, svc.availability_zone, svc.disabled) == ("compute.h1", "nova", False)
    node = node_row(cloud, "h1")
    assert (node.hypervisor_hostname, node.vcpus, node.memory_mb, node.local_gb) == (
        "h1",
        4,
        4096,
        40,
    )
    assert node.hypervisor_type == "QEMU" and node.cpu_info["arch"] == "x86_64"
    assert node.cpu_allocation_ratio == cloud.runtime.config.cpu_allocation_ratio
    for binary in ("nova-conductor", "nova-scheduler"):
        assert service_row(cloud, "controller", binary).last_seen_up is not None


def test_heartbeats_move_last_seen_up_with_the_clock(cloud: MiniCloud) -> None:
    before = service_row(cloud, "h2")
    interval = cloud.runtime.config.report_interval
    cloud.runtime.clock.advance(interval * 2)
    after = service_row(cloud, "h2")
    assert after.last_seen_up == before.last_seen_up + interval * 2
    assert after.report_count == before.report_count + 2


def test_a_stopped_service_stops_heartbeating(cloud: MiniCloud) -> None:
    cloud.compute.pop("h3").stop()
    before = service_row(cloud, "h3").last_seen_up
    cloud.runtime.clock.advance(cloud.runtime.config.service_down_time * 2)
    assert service_row(cloud, "h3").last_seen_up == before
    assert service_row(cloud, "h1").last_seen_up > before
    # the scheduler no longer picks it
    uuids = cloud.boot(6)
    assert {cloud.instance(u).host for u in uuids} == {"h1", "h2"}


def test_run_periodic_tasks_on_demand(cloud: MiniCloud) -> None:
    before = service_row(cloud, "h1").report_count
    ran = cloud.compute["h1"].run_periodic_tasks()
    assert ran == [
        "report_state",
        "update_available_resource",
        "sync_power_states",
        "cleanup_running_deleted_instances",
        "_poll_unconfirmed_resizes",
    ]
    assert service_row(cloud, "h1").report_count == before + 1
    assert cloud.compute["h1"].run_periodic_tasks("report_state") == ["report_state"]
    assert cloud.compute["h1"].run_periodic_tasks("nope") == []


def test_the_resource_update_heals_usage_drift(cloud: MiniCloud) -> None:
    [uuid] = cloud.boot()
    host = cloud.instance(uuid).host
    assert host is not None
    with cloud.runtime.store.session() as s:  # somebody dropped the allocation behind our back
        for alloc in s.scalars(
            select(claims.Allocation).where(claims.Allocation.consumer_uuid == uuid)
        ):
            s.delete(alloc)
    assert node_row(cloud, host).memory_mb_used == 512
    cloud.compute[host].run_periodic_tasks("update_available_resource")
    node = node_row(cloud, host)
    assert (node.vcpus_used, node.memory_mb_used, node.running_vms) == (0, 0, 1)
