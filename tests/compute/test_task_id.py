"""The task-id rule: a stale task id is refused; only a force delete pre-empts a task."""

from __future__ import annotations

import uuid as uuidlib

from testbed.compute.rpcapi import ComputeAPI
from testbed.compute.states import task_states

from .minicloud import MiniCloud


def test_a_stale_task_id_is_refused_quietly(cloud: MiniCloud) -> None:
    [uuid] = cloud.boot()
    host = cloud.instance(uuid).host
    assert host is not None
    task_id = cloud.act(
        uuid, "stop_instance", task_states.POWERING_OFF, action="stop", settle=False
    )
    # a second, stale cast of the same kind with another id
    ComputeAPI(cloud.runtime.bus).start_instance(cloud.ctx, host, uuid, str(uuidlib.uuid4()))
    cloud.settle()

    inst = cloud.instance(uuid)
    assert (inst.vm_state, inst.task_state) == ("stopped", None)
    refused = [
        e
        for e in cloud.runtime.tracer.for_instance(uuid)
        if e["kind"] == "log" and e["name"] == "task_refused"
    ]
    assert len(refused) == 1 and task_id not in refused[0]["detail"]["reason"].split()[1]


def test_a_task_taken_over_by_force_delete_stops_and_the_delete_wins(cloud: MiniCloud) -> None:
    [uuid] = cloud.boot()
    host = cloud.instance(uuid).host
    assert host is not None
    cloud.backend.inject_fault({"kind": "ignore_shutdown", "host": host})
    clock = cloud.runtime.clock
    clock.set_mode("manual")
    try:
        cloud.act(uuid, "stop_instance", task_states.POWERING_OFF, action="stop", settle=False)
        clock.settle()  # the stop is waiting for the guest to shut down
        assert cloud.instance(uuid).task_state == "powering-off"
        # force delete meanwhile: task_id None pre-empts the stop
        cloud.act(
            uuid,
            "terminate_instance",
            task_states.DELETING,
            action="delete",
            force=True,
            settle=False,
        )
    finally:
        clock.set_mode("auto")
    cloud.settle()

    inst = cloud.instance(uuid)
    assert inst.deleted and inst.vm_state == "deleted" and inst.task_state is None
    assert cloud.guest_state(uuid, host) is None
    assert cloud.allocations(uuid) == []
    assert [e[1:] for e in cloud.events(uuid) if e[0] == "stop"] == [
        ("compute_stop_instance", None)
    ]  # the stop never finished


def test_a_normal_delete_with_a_stale_id_is_refused(cloud: MiniCloud) -> None:
    [uuid] = cloud.boot()
    host = cloud.instance(uuid).host
    assert host is not None
    ComputeAPI(cloud.runtime.bus).terminate_instance(cloud.ctx, host, uuid, "not-the-task")
    cloud.settle()
    assert cloud.instance(uuid).vm_state == "active"


def test_force_delete_removes_the_row_first_and_cleans_the_guest_after(cloud: MiniCloud) -> None:
    [uuid] = cloud.boot()
    host = cloud.instance(uuid).host
    assert host is not None
    cloud.act(uuid, "terminate_instance", task_states.DELETING, action="delete", force=True)

    events = cloud.runtime.tracer.for_instance(uuid)
    deleted_at = next(
        i
        for i, e in enumerate(events)
        if e["kind"] == "state" and e["detail"].get("vm_state") == "deleted"
    )
    destroyed_at = next(
        i for i, e in enumerate(events) if e["kind"] == "driver" and e["name"] == "destroy"
    )
    assert deleted_at < destroyed_at, "the row is deleted before the guest is destroyed"
    assert cloud.guest_state(uuid, host) is None
    assert cloud.instance(uuid).deleted
