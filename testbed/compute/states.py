"""The three state variables of an instance, with Nova's names and values.

``vm_state`` is the stable state an API call leads to; ``task_state`` the transition under
way (None when stable); ``power_state`` what the hypervisor reports.  The API's
``status`` is derived from the first two, as Nova's ``_STATE_MAP`` does.
"""

from __future__ import annotations

from typing import Final

# -- vm_states (nova/compute/vm_states.py) -----------------------------------------------
ACTIVE: Final = "active"
BUILDING: Final = "building"
PAUSED: Final = "paused"
SUSPENDED: Final = "suspended"
STOPPED: Final = "stopped"
RESCUED: Final = "rescued"
RESIZED: Final = "resized"
SOFT_DELETED: Final = "soft-delete"
DELETED: Final = "deleted"
ERROR: Final = "error"
SHELVED: Final = "shelved"
SHELVED_OFFLOADED: Final = "shelved_offloaded"

VM_STATES: Final = frozenset(
    {
        ACTIVE,
        BUILDING,
        PAUSED,
        SUSPENDED,
        STOPPED,
        RESCUED,
        RESIZED,
        SOFT_DELETED,
        DELETED,
        ERROR,
        SHELVED,
        SHELVED_OFFLOADED,
    }
)


class task_states:
    """The transitions under way (nova/compute/task_states.py)."""

    SCHEDULING: Final = "scheduling"
    BLOCK_DEVICE_MAPPING: Final = "block_device_mapping"
    NETWORKING: Final = "networking"
    SPAWNING: Final = "spawning"
    IMAGE_SNAPSHOT: Final = "image_snapshot"
    UPDATING_PASSWORD: Final = "updating_password"
    RESIZE_PREP: Final = "resize_prep"
    RESIZE_MIGRATING: Final = "resize_migrating"
    RESIZE_MIGRATED: Final = "resize_migrated"
    RESIZE_FINISH: Final = "resize_finish"
    RESIZE_REVERTING: Final = "resize_reverting"
    RESIZE_CONFIRMING: Final = "resize_confirming"
    REBOOTING: Final = "rebooting"
    REBOOT_PENDING: Final = "reboot_pending"
    REBOOT_STARTED: Final = "reboot_started"
    REBOOTING_HARD: Final = "rebooting_hard"
    REBOOT_PENDING_HARD: Final = "reboot_pending_hard"
    REBOOT_STARTED_HARD: Final = "reboot_started_hard"
    PAUSING: Final = "pausing"
    UNPAUSING: Final = "unpausing"
    SUSPENDING: Final = "suspending"
    RESUMING: Final = "resuming"
    POWERING_OFF: Final = "powering-off"
    POWERING_ON: Final = "powering-on"
    RESCUING: Final = "rescuing"
    UNRESCUING: Final = "unrescuing"
    REBUILDING: Final = "rebuilding"
    REBUILD_BLOCK_DEVICE_MAPPING: Final = "rebuild_block_device_mapping"
    REBUILD_SPAWNING: Final = "rebuild_spawning"
    MIGRATING: Final = "migrating"
    DELETING: Final = "deleting"
    SOFT_DELETING: Final = "soft-deleting"
    RESTORING: Final = "restoring"
    SHELVING: Final = "shelving"
    UNSHELVING: Final = "unshelving"


class power_state:
    """What the hypervisor reports (nova/compute/power_state.py)."""

    NOSTATE: Final = 0
    RUNNING: Final = 1
    PAUSED: Final = 3
    SHUTDOWN: Final = 4
    CRASHED: Final = 6
    SUSPENDED: Final = 7

    NAMES: Final = {
        0: "pending",
        1: "running",
        3: "paused",
        4: "shutdown",
        6: "crashed",
        7: "suspended",
    }


# Nova's _STATE_MAP (nova/api/openstack/common.py): vm_state -> {task_state: status}.
_DEFAULT = "default"
_STATE_MAP: Final[dict[str, dict[str | None, str]]] = {
    ACTIVE: {
        _DEFAULT: "ACTIVE",
        task_states.REBOOTING: "REBOOT",
        task_states.REBOOT_PENDING: "REBOOT",
        task_states.REBOOT_STARTED: "REBOOT",
        task_states.REBOOTING_HARD: "HARD_REBOOT",
        task_states.REBOOT_PENDING_HARD: "HARD_REBOOT",
        task_states.REBOOT_STARTED_HARD: "HARD_REBOOT",
        task_states.UPDATING_PASSWORD: "PASSWORD",
        task_states.REBUILDING: "REBUILD",
        task_states.REBUILD_BLOCK_DEVICE_MAPPING: "REBUILD",
        task_states.REBUILD_SPAWNING: "REBUILD",
        task_states.MIGRATING: "MIGRATING",
        task_states.RESIZE_PREP: "RESIZE",
        task_states.RESIZE_MIGRATING: "RESIZE",
        task_states.RESIZE_MIGRATED: "RESIZE",
        task_states.RESIZE_FINISH: "RESIZE",
    },
    BUILDING: {_DEFAULT: "BUILD"},
    STOPPED: {
        _DEFAULT: "SHUTOFF",
        task_states.RESIZE_PREP: "RESIZE",
        task_states.RESIZE_MIGRATING: "RESIZE",
        task_states.RESIZE_MIGRATED: "RESIZE",
        task_states.RESIZE_FINISH: "RESIZE",
        task_states.REBUILDING: "REBUILD",
        task_states.REBUILD_BLOCK_DEVICE_MAPPING: "REBUILD",
        task_states.REBUILD_SPAWNING: "REBUILD",
    },
    RESIZED: {_DEFAULT: "VERIFY_RESIZE", task_states.RESIZE_REVERTING: "REVERT_RESIZE"},
    PAUSED: {_DEFAULT: "PAUSED", task_states.MIGRATING: "MIGRATING"},
    SUSPENDED: {_DEFAULT: "SUSPENDED"},
    RESCUED: {_DEFAULT: "RESCUE"},
    ERROR: {
        _DEFAULT: "ERROR",
        task_states.REBUILDING: "REBUILD",
        task_states.REBUILD_BLOCK_DEVICE_MAPPING: "REBUILD",
        task_states.REBUILD_SPAWNING: "REBUILD",
    },
    DELETED: {_DEFAULT: "DELETED"},
    SOFT_DELETED: {_DEFAULT: "SOFT_DELETED"},
    SHELVED: {_DEFAULT: "SHELVED"},
    SHELVED_OFFLOADED: {_DEFAULT: "SHELVED_OFFLOADED"},
}


def status_from_state(vm_state: str | None, task_state: str | None = None) -> str:
    """The API status of an instance, exactly as Nova derives it."""
    task_map = _STATE_MAP.get(vm_state or "", {_DEFAULT: "UNKNOWN"})
    status = task_map.get(task_state, task_map[_DEFAULT])
    if status == "UNKNOWN" and vm_state == ERROR:  # pragma: no cover - defensive
        return "ERROR"
    return status


def states_from_status(status: str) -> list[str]:
    """The vm_states an API ``status`` filter matches (Nova's inverse map)."""
    status = status.upper()
    return sorted({vm for vm, tasks in _STATE_MAP.items() if tasks[_DEFAULT] == status})
