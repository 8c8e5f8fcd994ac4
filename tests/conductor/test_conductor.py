"""The conductor: scheduling failures, and moving a failed build to an alternate."""

from __future__ import annotations

import uuid as uuidlib

from sqlalchemy import select

from testbed.compute.build import max_retries_message
from testbed.compute.models import ComputeNode, Instance
from testbed.compute.states import task_states
from testbed.conductor.rpcapi import ConductorAPI
from tests.compute.minicloud import IMAGE_ID, NETWORK_ID, TINY, MiniCloud


def alternate(cloud: MiniCloud, host: str) -> dict[str, str]:
    with cloud.runtime.store.session() as s:
        node = s.execute(select(ComputeNode).where(ComputeNode.host == host)).scalar_one()
        return {"host": host, "node": node.hypervisor_hostname, "node_uuid": node.uuid}


def scheduling_instance(cloud: MiniCloud, flavor: dict[str, object] = TINY) -> str:
    uuid = str(uuidlib.uuid4())
    with cloud.runtime.store.session() as s:
        s.add(
            Instance(
                uuid=uuid,
                project_id="p1",
                user_id="u1",
                image_ref=IMAGE_ID,
                flavor=flavor,
                vm_state="building",
                task_state=task_states.SCHEDULING,
                power_state=0,
                requested_networks=[{"uuid": NETWORK_ID}],
            )
        )
    return uuid


def spec(flavor: dict[str, object] = TINY) -> dict[str, object]:
    return {
        "flavor": flavor,
        "image": {"id": IMAGE_ID},
        "project_id": "p1",
        "requested_networks": [{"uuid": NETWORK_ID}],
    }


def test_reschedule_claims_on_the_first_alternate_with_room(cloud: MiniCloud) -> None:
    big = {**TINY, "memory_mb": 4096}
    [filler] = cloud.boot(flavor=big, force_hosts=["h2"])  # h2 has 2048 MB left under 1.5
    assert cloud.instance(filler).host == "h2"
    uuid = scheduling_instance(cloud, big)

    ConductorAPI(cloud.runtime.bus).reschedule_instance(
        cloud.ctx, uuid, spec(big), [alternate(cloud, "h2"), alternate(cloud, "h3")]
    )
    cloud.settle()

    inst = cloud.instance(uuid)
    assert (inst.vm_state, inst.host) == ("active", "h3")
    assert cloud.allocations(uuid) == [("h3", 1, 4096, 1)]


def test_reschedule_without_room_anywhere_is_max_retries(cloud: MiniCloud) -> None:
    uuid = scheduling_instance(cloud)
    ConductorAPI(cloud.runtime.bus).reschedule_instance(cloud.ctx, uuid, spec(), [])
    cloud.settle()
    inst = cloud.instance(uuid)
    assert (inst.vm_state, inst.task_state) == ("error", None)
    assert cloud.faults(uuid) == [(500, max_retries_message(uuid))]


def test_a_scheduler_that_does_not_answer_fails_the_build_after_the_rpc_timeout(
    cloud: MiniCloud,
) -> None:
    scheduler = next(s for s in cloud.services if s.topic == "scheduler")
    scheduler.stop()
    started = cloud.runtime.clock.now()

    [uuid] = cloud.boot()

    assert cloud.runtime.clock.now() - started >= cloud.runtime.config.rpc_response_timeout
    inst = cloud.instance(uuid)
    assert (inst.vm_state, inst.task_state) == ("error", None)
    [(_code, message)] = cloud.faults(uuid)
    assert "scheduler.select_destinations" in message
    assert cloud.events(uuid) == [("create", "conductor_schedule_and_build_instances", "Error")]


def test_a_build_for_an_instance_deleted_meanwhile_frees_its_claim(cloud: MiniCloud) -> None:
    from testbed.bus import BusFault

    clock = cloud.runtime.clock
    cloud.runtime.bus.inject(
        BusFault(topic="compute.*", method="build_and_run_instance", action="delay", seconds=1)
    )
    clock.set_mode("manual")
    try:
        [uuid] = cloud.boot(settle=False)
        clock.settle()  # scheduled and claimed; the cast to the host is on its way
        assert cloud.allocations(uuid)
        with cloud.runtime.store.session() as s:  # the api's local delete
            inst = s.get(Instance, uuid)
            assert inst is not None
            inst.deleted, inst.vm_state, inst.task_state = True, "deleted", None
    finally:
        clock.set_mode("auto")
    cloud.settle()
    assert cloud.allocations(uuid) == []
    assert cloud.instance(uuid).host is None
