"""A spawn failure gives the build back to the conductor, which tries the alternates."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testbed.compute.build import max_retries_message

from .minicloud import MiniCloud


def crash(cloud: MiniCloud, host: str) -> None:
    cloud.backend.crash_host(host)


def test_a_spawn_failure_reschedules_to_an_alternate(cloud: MiniCloud) -> None:
    crash(cloud, "h1")  # equal hosts: h1 is chosen first, h2 and h3 are alternates

    [uuid] = cloud.boot()

    inst = cloud.instance(uuid)
    assert (inst.vm_state, inst.task_state, inst.host) == ("active", None, "h2")
    assert cloud.allocations(uuid) == [("h2", 1, 512, 1)]
    [(code, message)] = cloud.faults(uuid)
    assert code == 500 and message
    assert cloud.events(uuid) == [
        ("create", "conductor_schedule_and_build_instances", "Success"),
        ("create", "compute_build_and_run_instance", "Error"),
        ("create", "compute_build_and_run_instance", "Success"),
    ]
    timeline = cloud.states(uuid)
    assert ("building", "scheduling", 0) in timeline[1:]  # given back to the conductor
    assert timeline[-1] == ("active", None, 1)


def test_when_every_alternate_fails_the_instance_goes_to_error(cloud: MiniCloud) -> None:
    for host in ("h1", "h2", "h3"):
        crash(cloud, host)

    [uuid] = cloud.boot()

    inst = cloud.instance(uuid)
    assert (inst.vm_state, inst.task_state, inst.host, inst.node) == ("error", None, None, None)
    assert cloud.allocations(uuid) == []
    faults = cloud.faults(uuid)
    assert len(faults) == 4  # one per failed host, then MaxRetriesExceeded
    assert faults[-1] == (500, max_retries_message(uuid))
    assert [e[1:] for e in cloud.events(uuid)][1:] == [
        ("compute_build_and_run_instance", "Error")
    ] * 3


@pytest.fixture
def single_attempt() -> Iterator[MiniCloud]:
    c = MiniCloud.start(max_attempts=1)
    yield c
    c.stop()


def test_without_retries_the_spawn_error_is_the_fault(single_attempt: MiniCloud) -> None:
    cloud = single_attempt
    crash(cloud, "h1")
    [uuid] = cloud.boot()
    inst = cloud.instance(uuid)
    assert inst.vm_state == "error" and inst.host is None
    [(_code, message)] = cloud.faults(uuid)
    assert "Exceeded maximum number of retries" not in message
    assert cloud.allocations(uuid) == []


def test_a_recovered_host_builds_again(cloud: MiniCloud) -> None:
    crash(cloud, "h1")
    cloud.boot()
    cloud.backend.recover_host("h1")
    [uuid] = cloud.boot(force_hosts=["h1"])
    assert (cloud.instance(uuid).vm_state, cloud.instance(uuid).host) == ("active", "h1")
