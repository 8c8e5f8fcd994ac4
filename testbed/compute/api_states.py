"""Which instance states each API action accepts, and the task it starts.

Nova's ``check_instance_state`` decorators (nova/compute/api.py) as a table: an action is
allowed from the listed vm_states with the listed task_states, and starts the given
task_state.  The message of a refusal is Nova's: ``Cannot 'stop' instance <uuid> while it
is in vm_state stopped`` (or ``task_state powering-off``).
"""

from __future__ import annotations

from dataclasses import dataclass

from testbed.compute import states
from testbed.compute.states import task_states
from testbed.exceptions import InstanceInvalidState

__all__ = [
    "ALLOW_REBOOT",
    "BUILD_TASKS",
    "HARD_REBOOT_VM_STATES",
    "TRANSITIONS",
    "Transition",
    "check_state",
]

ALLOW_REBOOT = frozenset(
    {
        None,
        task_states.REBOOTING,
        task_states.REBOOT_PENDING,
        task_states.REBOOT_STARTED,
        task_states.REBOOTING_HARD,
        task_states.RESUMING,
        task_states.UNPAUSING,
        task_states.PAUSING,
        task_states.SUSPENDING,
    }
)
HARD_REBOOT_VM_STATES = frozenset(
    {states.ACTIVE, states.STOPPED, states.PAUSED, states.SUSPENDED, states.ERROR}
)
# Tasks of a build: a delete may interrupt them (the conductor and the compute host see
# the instance gone); any other running task is only pre-empted by a force delete.
BUILD_TASKS = frozenset(
    {
        None,
        task_states.SCHEDULING,
        task_states.BLOCK_DEVICE_MAPPING,
        task_states.NETWORKING,
        task_states.SPAWNING,
        task_states.DELETING,
    }
)


@dataclass(frozen=True)
class Transition:
    """An action's allowed (vm_state, task_state) and the task it starts.

    ``rpc`` is the compute host's method (testbed/compute/rpcapi.py) the action casts.
    """

    action: str
    vm_states: frozenset[str]
    task_states: frozenset[str | None]
    new_task_state: str
    rpc: str


def _t(action: str, vm: set[str], task: frozenset[str | None], new: str, rpc: str) -> Transition:
    return Transition(action, frozenset(vm), task, new, rpc)


_NONE: frozenset[str | None] = frozenset({None})

TRANSITIONS: dict[str, Transition] = {
    "stop": _t(
        "stop", {states.ACTIVE, states.ERROR}, _NONE, task_states.POWERING_OFF, "stop_instance"
    ),
    "start": _t("start", {states.STOPPED}, _NONE, task_states.POWERING_ON, "start_instance"),
    "pause": _t("pause", {states.ACTIVE}, _NONE, task_states.PAUSING, "pause_instance"),
    "unpause": _t("unpause", {states.PAUSED}, _NONE, task_states.UNPAUSING, "unpause_instance"),
    "suspend": _t("suspend", {states.ACTIVE}, _NONE, task_states.SUSPENDING, "suspend_instance"),
    "resume": _t("resume", {states.SUSPENDED}, _NONE, task_states.RESUMING, "resume_instance"),
    "reboot:SOFT": _t("reboot", {states.ACTIVE}, _NONE, task_states.REBOOTING, "reboot_instance"),
    "reboot:HARD": _t(
        "reboot",
        set(HARD_REBOOT_VM_STATES),
        ALLOW_REBOOT,
        task_states.REBOOTING_HARD,
        "reboot_instance",
    ),
}


def check_state(
    action: str,
    uuid: str,
    vm_state: str,
    task_state: str | None,
    *,
    vm_states: frozenset[str] | None,
    task_states_allowed: frozenset[str | None] | None,
) -> None:
    """Raise Nova's InstanceInvalidState (409) unless the state is allowed.

    ``None`` for either set means any value is accepted.
    """
    if vm_states is not None and vm_state not in vm_states:
        raise InstanceInvalidState(action=action, uuid=uuid, attr="vm_state", state=vm_state)
    if task_states_allowed is not None and task_state not in task_states_allowed:
        raise InstanceInvalidState(action=action, uuid=uuid, attr="task_state", state=task_state)
