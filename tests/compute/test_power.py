"""Power operations: Nova's task-state sequences, the driver's power state, the events."""

from __future__ import annotations

import pytest

from testbed.compute.states import power_state, task_states

from .minicloud import MiniCloud

R, S, P = power_state.RUNNING, power_state.SHUTDOWN, power_state.PAUSED


@pytest.fixture
def active(cloud: MiniCloud) -> str:
    [uuid] = cloud.boot()
    return uuid


def since(cloud: MiniCloud, uuid: str, mark: int) -> list[tuple[str, str | None, int]]:
    return cloud.states(uuid)[mark:]


@pytest.mark.parametrize(
    ("method", "task_state", "action", "kwargs", "expected"),
    [
        (
            "stop_instance",
            task_states.POWERING_OFF,
            "stop",
            {},
            [("active", "powering-off", R), ("stopped", None, S)],
        ),
        (
            "pause_instance",
            task_states.PAUSING,
            "pause",
            {},
            [("active", "pausing", R), ("paused", None, P)],
        ),
        (
            "suspend_instance",
            task_states.SUSPENDING,
            "suspend",
            {},
            [("active", "suspending", R), ("suspended", None, S)],
        ),
        (
            "reboot_instance",
            task_states.REBOOTING,
            "reboot",
            {"reboot_type": "SOFT"},
            [
                ("active", "rebooting", R),
                ("active", "reboot_pending", R),
                ("active", "reboot_started", R),
                ("active", None, R),
            ],
        ),
        (
            "reboot_instance",
            task_states.REBOOTING_HARD,
            "reboot",
            {"reboot_type": "HARD"},
            [
                ("active", "rebooting_hard", R),
                ("active", "reboot_pending_hard", R),
                ("active", "reboot_started_hard", R),
                ("active", None, R),
            ],
        ),
    ],
)
def test_sequences_from_active(
    cloud: MiniCloud,
    active: str,
    method: str,
    task_state: str,
    action: str,
    kwargs: dict[str, str],
    expected: list[tuple[str, str | None, int]],
) -> None:
    mark = len(cloud.states(active))
    cloud.act(active, method, task_state, action=action, **kwargs)

    assert since(cloud, active, mark) == expected
    assert cloud.instance(active).task_id is None
    assert cloud.events(active)[-1] == (action, f"compute_{method}", "Success")


def test_stop_then_start(cloud: MiniCloud, active: str) -> None:
    cloud.act(active, "stop_instance", task_states.POWERING_OFF, action="stop")
    mark = len(cloud.states(active))
    cloud.act(active, "start_instance", task_states.POWERING_ON, action="start")
    assert since(cloud, active, mark) == [("stopped", "powering-on", S), ("active", None, R)]
    host = cloud.instance(active).host
    assert host is not None
    assert cloud.guest_state(active, host) == cloud.backend.libvirt.VIR_DOMAIN_RUNNING


def test_unpause_and_resume(cloud: MiniCloud, active: str) -> None:
    cloud.act(active, "pause_instance", task_states.PAUSING, action="pause")
    cloud.act(active, "unpause_instance", task_states.UNPAUSING, action="unpause")
    assert cloud.states(active)[-1] == ("active", None, R)
    cloud.act(active, "suspend_instance", task_states.SUSPENDING, action="suspend")
    cloud.act(active, "resume_instance", task_states.RESUMING, action="resume")
    assert cloud.states(active)[-2:] == [("suspended", "resuming", S), ("active", None, R)]


def test_a_guest_ignoring_acpi_is_stopped_after_shutdown_timeout(
    cloud: MiniCloud, active: str
) -> None:
    host = cloud.instance(active).host
    cloud.backend.inject_fault({"kind": "ignore_shutdown", "host": host})
    started = cloud.runtime.clock.now()

    cloud.act(active, "stop_instance", task_states.POWERING_OFF, action="stop")

    assert cloud.instance(active).vm_state == "stopped"
    assert cloud.runtime.clock.now() - started >= cloud.runtime.config.shutdown_timeout


def test_a_driver_error_keeps_vm_state_clears_task_and_records_a_fault(
    cloud: MiniCloud, active: str
) -> None:
    # the domain disappears behind the compute host's back
    host = cloud.instance(active).host
    conn = cloud.backend.libvirt.open(cloud.backend.uri(host))
    dom = conn.lookupByUUIDString(active)
    dom.destroy()
    dom.undefine()

    cloud.act(active, "pause_instance", task_states.PAUSING, action="pause")

    inst = cloud.instance(active)
    assert (inst.vm_state, inst.task_state, inst.task_id) == ("active", None, None)
    assert inst.power_state == power_state.NOSTATE
    assert cloud.events(active)[-1] == ("pause", "compute_pause_instance", "Error")
    assert cloud.faults(active)[-1][0] == 404


def test_a_failed_reboot_of_a_guest_not_running_goes_to_error(
    cloud: MiniCloud, active: str
) -> None:
    host = cloud.instance(active).host
    conn = cloud.backend.libvirt.open(cloud.backend.uri(host))
    dom = conn.lookupByUUIDString(active)
    dom.destroy()
    dom.undefine()
    cloud.act(
        active, "reboot_instance", task_states.REBOOTING_HARD, action="reboot", reboot_type="HARD"
    )
    assert cloud.instance(active).vm_state == "error"
