"""The classic drifts, made by fault injection and repaired: SHUTDOWN while ACTIVE,
RUNNING while deleted, RUNNING while PAUSED (and PAUSED while ACTIVE)."""

from __future__ import annotations

import pytest

from testbed.compute.api import InstanceOperations
from testbed.compute.drift import CLEANUP_EVENT
from testbed.compute.power_sync import SYNC_EVENT
from testbed.compute.states import power_state
from testbed.context import RequestContext
from testbed.virt.libvirt.lifecycle import STOPPED_EVENT_DELAY
from tests.compute.minicloud import MiniCloud

from .conftest import SHARED_HOSTS, domain_names


def _fault(cloud: MiniCloud, uuid: str, kind: str, **extra: str) -> str:
    host = cloud.instance(uuid).host
    assert host is not None
    cloud.backend.inject_fault(
        {"kind": kind, "host": host, "domain": f"instance-{uuid[:8]}", **extra}
    )
    return host


def _sync(cloud: MiniCloud, host: str) -> None:
    cloud.compute[host].run_periodic_tasks("sync_power_states")
    cloud.settle()


def _reasons(cloud: MiniCloud, uuid: str, event: str) -> list[str]:
    from sqlalchemy import select

    from testbed.compute.models import InstanceAction, InstanceActionEvent

    with cloud.runtime.store.session() as s:
        return [
            f"{a}: {d}"
            for a, d in s.execute(
                select(InstanceAction.action, InstanceActionEvent.details)
                .join(InstanceActionEvent, InstanceActionEvent.action_id == InstanceAction.id)
                .where(InstanceAction.instance_uuid == uuid, InstanceActionEvent.event == event)
            )
        ]


def test_a_guest_that_shut_itself_down_is_stopped_by_the_periodic_sync(fresh: MiniCloud) -> None:
    [uuid] = fresh.boot()
    host = _fault(fresh, uuid, "guest_shutdown")
    assert fresh.instance(uuid).vm_state == "active"
    _sync(fresh, host)
    after = fresh.instance(uuid)
    assert (after.vm_state, after.task_state, after.power_state) == ("stopped", None, 4)
    [reason] = _reasons(fresh, uuid, SYNC_EVENT)
    assert reason.startswith("stop: Instance shutdown by itself. Calling the stop API.")
    assert "found by the periodic sync, policy nova" in reason


def test_the_lifecycle_event_repairs_after_nova_s_delay(fresh: MiniCloud) -> None:
    fresh.backend.world.immediate_events = True  # callbacks run as the fault happens
    [uuid] = fresh.boot()
    _fault(fresh, uuid, "guest_shutdown")
    fresh.settle()
    assert fresh.instance(uuid).vm_state == "active"  # STOPPED waits (a reboot may follow)
    fresh.runtime.clock.advance(STOPPED_EVENT_DELAY + 1)
    fresh.settle()
    assert fresh.instance(uuid).vm_state == "stopped"
    [reason] = _reasons(fresh, uuid, SYNC_EVENT)
    assert "found by the lifecycle event sync" in reason


@pytest.mark.parametrize(("policy", "expected"), [("nova", "paused"), ("strict", "active")])
def test_a_guest_paused_behind_the_cloud_s_back(policy: str, expected: str) -> None:
    cloud = MiniCloud.start(SHARED_HOSTS, repair_policy=policy)
    try:
        [uuid] = cloud.boot()
        host = _fault(cloud, uuid, "domain_state", state="paused")
        _sync(cloud, host)
        after = cloud.instance(uuid)
        assert after.vm_state == "active"
        guest = "paused" if domain_names(cloud, host)[uuid] == 3 else "active"
        assert guest == expected
        assert bool(_reasons(cloud, uuid, SYNC_EVENT)) == (policy == "strict")
    finally:
        cloud.stop()


@pytest.mark.parametrize(("policy", "guest_after"), [("nova", 1), ("strict", 3)])
def test_a_lost_pause_running_while_paused(policy: str, guest_after: int) -> None:
    cloud = MiniCloud.start(SHARED_HOSTS, repair_policy=policy)
    try:
        [uuid] = cloud.boot()
        cloud.act(uuid, "pause_instance", "pausing", action="pause")
        host = _fault(cloud, uuid, "domain_state", state="running")
        _sync(cloud, host)
        after = cloud.instance(uuid)
        assert after.vm_state == "paused"
        assert domain_names(cloud, host)[uuid] == guest_after
        assert after.power_state == (
            power_state.PAUSED if guest_after == 3 else power_state.RUNNING
        )
    finally:
        cloud.stop()


def _running_deleted(action: str) -> tuple[MiniCloud, str, str]:
    """A guest left running for a deleted instance: deleted while its host's compute
    service was down (the api deletes locally), then the service comes back."""
    cloud = MiniCloud.start(SHARED_HOSTS, running_deleted_instance_action=action)
    [uuid] = cloud.boot()
    host = cloud.instance(uuid).host
    assert host is not None
    cloud.compute.pop(host).stop()
    cloud.runtime.clock.advance(cloud.runtime.config.service_down_time + 10)
    admin = RequestContext(user_id="u1", project_id="p1", roles=("admin",))
    InstanceOperations(cloud.runtime).delete(admin, uuid)
    cloud.settle()
    assert cloud.instance(uuid).deleted
    cloud.start_compute(host)
    cloud.settle()
    assert domain_names(cloud, host)[uuid] == 1  # RUNNING while deleted
    cloud.compute[host].run_periodic_tasks("cleanup_running_deleted_instances")
    cloud.settle()
    return cloud, uuid, host


@pytest.mark.parametrize(
    ("action", "state_after", "recorded"),
    [("noop", 1, None), ("log", 1, None), ("shutdown", 5, "stop"), ("reap", None, "delete")],
)
def test_running_deleted_instance_action(
    action: str, state_after: int | None, recorded: str | None
) -> None:
    cloud, uuid, host = _running_deleted(action)
    try:
        assert domain_names(cloud, host).get(uuid) == state_after
        reasons = _reasons(cloud, uuid, CLEANUP_EVENT)
        if recorded is None:
            assert reasons == []
        else:
            [reason] = reasons
            assert reason.startswith(f"{recorded}: ")
            assert "which is marked as DELETED but still present on host" in reason
        logged = [
            e
            for e in cloud.runtime.tracer.for_instance(uuid)
            if e["name"] == "running_deleted_instance"
        ]
        assert bool(logged) == (action != "noop")
    finally:
        cloud.stop()
