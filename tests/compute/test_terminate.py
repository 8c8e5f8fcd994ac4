"""Deleting: the guest, the ports and the allocations go; the row is marked deleted."""

from __future__ import annotations

from testbed.compute.states import power_state, task_states

from .minicloud import MiniCloud


def test_terminate_cleans_everything(cloud: MiniCloud) -> None:
    [uuid] = cloud.boot()
    host = cloud.instance(uuid).host
    assert host is not None
    disk = f"{cloud.backend.instances_path}/{uuid}/disk"
    assert cloud.backend.disk_exists(host, disk)

    cloud.act(uuid, "terminate_instance", task_states.DELETING, action="delete")

    inst = cloud.instance(uuid)
    assert inst.deleted and inst.vm_state == "deleted" and inst.task_state is None
    assert inst.power_state == power_state.NOSTATE
    assert inst.deleted_at is not None and inst.terminated_at is not None
    assert cloud.allocations(uuid) == []
    assert cloud.guest_state(uuid, host) is None
    assert not cloud.backend.disk_exists(host, disk)
    assert cloud.events(uuid)[-1] == ("delete", "compute_terminate_instance", "Success")
    calls = [e["name"] for e in cloud.runtime.tracer.for_instance(uuid) if e["kind"] == "rpc.call"]
    assert "deallocate_for_instance" in calls


def test_delete_during_build_waits_and_the_build_stands_down(cloud: MiniCloud) -> None:
    clock = cloud.runtime.clock
    clock.set_mode("manual")
    try:
        [uuid] = cloud.boot(settle=False)
        clock.settle()  # the guest is booting: the build waits on the clock
        assert cloud.instance(uuid).task_state == "spawning"
        cloud.act(uuid, "terminate_instance", task_states.DELETING, action="delete", settle=False)
    finally:
        clock.set_mode("auto")
    cloud.settle()

    inst = cloud.instance(uuid)
    assert inst.deleted and inst.vm_state == "deleted"
    assert cloud.allocations(uuid) == []
    assert inst.host is not None and cloud.guest_state(uuid, inst.host) is None
    assert cloud.events(uuid)[-1] == ("delete", "compute_terminate_instance", "Success")


def test_the_node_usage_follows_allocations(cloud: MiniCloud) -> None:
    from sqlalchemy import select

    from testbed.compute.models import ComputeNode

    [uuid] = cloud.boot()
    host = cloud.instance(uuid).host
    cloud.act(uuid, "terminate_instance", task_states.DELETING, action="delete")
    with cloud.runtime.store.session() as s:
        node = s.execute(select(ComputeNode).where(ComputeNode.host == host)).scalar_one()
        assert (node.vcpus_used, node.memory_mb_used, node.local_gb_used) == (0, 0, 0)
