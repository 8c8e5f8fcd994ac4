"""Power-state sync: Nova's ``_sync_instance_power_state``, as a table.

The compute host compares what the hypervisor reports (the *vm power state*) with the
instance row, from two sources: the periodic ``sync_power_states`` (every
``sync_power_state_interval`` clock seconds) and the hypervisor's lifecycle events (see
``testbed/virt/libvirt/lifecycle.py``).  For each instance, as Nova does:

1. skip it when it has moved to another host or has a task under way;
2. write the hypervisor's power state to the row when it differs (bottom-up);
3. look the (vm_state, vm power state) pair up in :data:`SYNC_TABLE` and act.

:data:`SYNC_TABLE` is Nova's table, row by row, with the column ``strict``: what the
stricter repair policy (``repair_policy = "strict"``) does where Nova only logs — an
ACTIVE instance found PAUSED is unpaused, a PAUSED one found RUNNING is paused again, so
the hypervisor follows the vm_state the API led to.

A repair is an instance action started the way the API starts it (a fresh task id, the
action ``stop``/``pause``/``unpause`` recorded with an event
``compute_sync_power_state`` whose details say why) and cast to this host; a "log"
outcome is a ``log`` trace event with Nova's warning.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from testbed.compute import states
from testbed.compute.actions import SUCCESS, finish_event
from testbed.compute.models import Instance
from testbed.compute.rpcapi import ComputeAPI
from testbed.compute.states import power_state, task_states
from testbed.context import RequestContext, current_service, service_scope
from testbed.store.base import new_uuid

if TYPE_CHECKING:
    from testbed.compute.manager import ComputeManager

__all__ = [
    "POLICIES",
    "SYNC_EVENT",
    "SYNC_TABLE",
    "Decision",
    "PowerSync",
    "Repair",
    "SyncRule",
    "decide",
]

LOG = logging.getLogger(__name__)

SYNC_EVENT = "compute_sync_power_state"
POLICIES = ("nova", "strict")


class Repair(StrEnum):
    """What a sync does about a (vm_state, power state) pair."""

    NONE = "none"  # consistent, or a state Nova ignores
    LOG = "log"  # Nova logs a warning and leaves it
    STOP = "stop"  # the stop API (checks the vm_state)
    FORCE_STOP = "force_stop"  # stop whatever the vm_state
    PAUSE = "pause"  # strict policy: pause the guest again
    UNPAUSE = "unpause"  # strict policy: let the guest run again


@dataclass(frozen=True)
class SyncRule:
    """One row: for ``vm_state`` and a vm power state in ``power_states``, Nova does
    ``nova`` (with its log ``message``) and the strict policy ``strict``."""

    vm_state: str
    power_states: frozenset[int]
    nova: Repair
    strict: Repair
    message: str = ""


def _rule(
    vm_state: str, powers: set[int], nova: Repair, message: str = "", strict: Repair | None = None
) -> SyncRule:
    return SyncRule(vm_state, frozenset(powers), nova, strict or nova, message)


_P = power_state
_ALL = {_P.NOSTATE, _P.RUNNING, _P.PAUSED, _P.SHUTDOWN, _P.CRASHED, _P.SUSPENDED}

#: Nova's ``_sync_instance_power_state``, after the skip rules, one row per outcome.
SYNC_TABLE: tuple[SyncRule, ...] = (
    _rule(states.ACTIVE, {_P.RUNNING}, Repair.NONE),
    _rule(
        states.ACTIVE,
        {_P.SHUTDOWN, _P.CRASHED},
        Repair.STOP,
        "Instance shutdown by itself. Calling the stop API.",
    ),
    _rule(
        states.ACTIVE,
        {_P.SUSPENDED},
        Repair.STOP,
        "Instance is suspended unexpectedly. Calling the stop API.",
    ),
    _rule(
        states.ACTIVE,
        {_P.PAUSED},
        Repair.LOG,
        "Instance is paused unexpectedly. Ignore.",
        strict=Repair.UNPAUSE,
    ),
    _rule(states.ACTIVE, {_P.NOSTATE}, Repair.LOG, "Instance is unexpectedly not found. Ignore."),
    _rule(
        states.STOPPED,
        {_P.RUNNING, _P.PAUSED, _P.SUSPENDED},
        Repair.FORCE_STOP,
        "Instance is not stopped. Calling the stop API.",
    ),
    _rule(states.STOPPED, {_P.NOSTATE, _P.SHUTDOWN, _P.CRASHED}, Repair.NONE),
    _rule(
        states.PAUSED,
        {_P.SHUTDOWN, _P.CRASHED},
        Repair.FORCE_STOP,
        "Paused instance shutdown by itself. Calling the stop API.",
    ),
    _rule(
        states.PAUSED,
        {_P.RUNNING},
        Repair.NONE,
        "Paused instance found running (not repaired by Nova).",
        strict=Repair.PAUSE,
    ),
    _rule(states.PAUSED, {_P.NOSTATE, _P.PAUSED, _P.SUSPENDED}, Repair.NONE),
    *(
        _rule(vm, _ALL, Repair.NONE)
        for vm in (states.BUILDING, states.RESCUED, states.RESIZED, states.SUSPENDED, states.ERROR)
    ),
    *(
        _rule(vm, {_P.RUNNING, _P.PAUSED, _P.CRASHED, _P.SUSPENDED}, Repair.LOG, msg)
        for vm, msg in (
            (states.SOFT_DELETED, "Instance is not (soft-)deleted."),
            (states.DELETED, "Instance is not (soft-)deleted."),
        )
    ),
    *(
        _rule(vm, {_P.NOSTATE, _P.SHUTDOWN}, Repair.NONE)
        for vm in (states.SOFT_DELETED, states.DELETED)
    ),
)


@dataclass(frozen=True)
class Decision:
    """The outcome of :func:`decide`."""

    repair: Repair
    message: str = ""


def decide(vm_state: str, vm_power_state: int, policy: str = "nova") -> Decision:
    """What the sync does for an instance with no task on this host."""
    for rule in SYNC_TABLE:
        if rule.vm_state == vm_state and vm_power_state in rule.power_states:
            repair = rule.strict if policy == "strict" else rule.nova
            return Decision(repair, rule.message)
    return Decision(Repair.NONE)


# repair -> (instance action, task_state it starts, compute RPC, vm_states it accepts)
_REPAIRS: dict[Repair, tuple[str, str, str, frozenset[str] | None]] = {
    Repair.STOP: (
        "stop",
        task_states.POWERING_OFF,
        "stop_instance",
        frozenset({states.ACTIVE, states.ERROR}),
    ),
    Repair.FORCE_STOP: ("stop", task_states.POWERING_OFF, "stop_instance", None),
    Repair.PAUSE: ("pause", task_states.PAUSING, "pause_instance", None),
    Repair.UNPAUSE: ("unpause", task_states.UNPAUSING, "unpause_instance", None),
}


class PowerSync:
    """The power-state sync of one compute host."""

    def __init__(self, manager: ComputeManager) -> None:
        self.manager = manager
        self.runtime = manager.runtime
        self.host = manager.host
        self.compute_rpc = ComputeAPI(manager.runtime.bus)

    @property
    def policy(self) -> str:
        """``repair_policy`` (``nova`` or ``strict``; anything else counts as nova)."""
        policy = self.runtime.config.repair_policy
        return policy if policy in POLICIES else "nova"

    # -- the two sources ------------------------------------------------------------------
    def sync_power_states(self) -> None:
        """The periodic task: sync every instance of this host."""
        ctx = RequestContext.admin()
        with service_scope(f"compute:{self.host}", ctx):
            with self.runtime.store.session() as session:
                uuids = list(
                    session.scalars(
                        select(Instance.uuid).where(
                            Instance.host == self.host, Instance.deleted.is_(False)
                        )
                    )
                )
            try:
                on_hypervisor = len(self.manager.driver.list_instance_uuids())
            except Exception as exc:  # the hypervisor is not ready: try next time
                LOG.warning("sync_power_states on %s: hypervisor unavailable: %s", self.host, exc)
                return
            if on_hypervisor != len(uuids):
                LOG.warning(
                    "While synchronizing instance power states, found %d instances in the "
                    "database and %d instances on the hypervisor.",
                    len(uuids),
                    on_hypervisor,
                )
            for uuid in uuids:
                self._query_and_sync(ctx, uuid)

    def handle_lifecycle_event(self, uuid: str, vm_power_state: int) -> None:
        """A lifecycle event: sync when the guest is still in the state it announced
        (a late event does not describe the guest any more: ignored, as in Nova).  The
        first look takes no lock, as Nova's takes none: an event about an instance a task
        is moving (a migration holds its lock throughout) is skipped at once instead of
        waiting for the task to end."""
        ctx = RequestContext.admin()
        with service_scope(f"compute:{self.host}", ctx):
            states = self.manager.records.states(uuid)
            if states is None or self._nothing_to_sync(states, vm_power_state):
                return
            with self.manager.locks.hold(uuid):
                inst = self.manager.records.load(uuid)
                if inst is None or self._nothing_to_sync(inst, vm_power_state):
                    return
                current = self.manager.current_power_state(inst)
                if current != vm_power_state:
                    return
                start = self.sync_instance_power_state(
                    ctx, uuid, vm_power_state, source="lifecycle event"
                )
            if start is not None:
                start()

    def _nothing_to_sync(self, inst: Mapping[str, Any], vm_power_state: int) -> bool:
        """Whether :meth:`sync_instance_power_state` would change and log nothing: the
        instance is elsewhere or busy (a task owns its states; the task's own steps
        record the power state), or its record already agrees.  Every boot, stop and
        start emits events, so the common case must not cost a locked read and a write."""
        if inst["host"] != self.host or inst["task_state"] is not None:
            return True
        decision = decide(inst["vm_state"], vm_power_state, self.policy)
        return (
            inst["power_state"] == vm_power_state
            and decision.repair is Repair.NONE
            and not decision.message
        )

    # -- Nova's _query_driver_power_state_and_sync / _sync_instance_power_state -------------
    def _query_and_sync(self, ctx: RequestContext, uuid: str) -> None:
        with self.manager.locks.hold(uuid):
            inst = self.manager.records.load(uuid)
            if inst is None or inst["task_state"] is not None:
                return
            vm_power_state = self.manager.current_power_state(inst)
            start = self.sync_instance_power_state(ctx, uuid, vm_power_state, source="periodic")
        if start is not None:
            start()

    def sync_instance_power_state(
        self, ctx: RequestContext, uuid: str, vm_power_state: int, *, source: str
    ) -> Any:
        """Apply the table to one instance; returns the cast that starts a repair (the
        caller sends it once it has let go of the instance's lock), or None."""
        with self.runtime.store.session() as session:
            row = session.execute(
                select(Instance).where(Instance.uuid == uuid).with_for_update()
            ).scalar_one_or_none()
            if row is None:
                return None
            if row.host != self.host:
                LOG.info("sync_power_state: %s has moved to %s; skipped", uuid, row.host)
                return None
            if row.task_state is not None:
                LOG.info(
                    "sync_power_state: %s has a pending task (%s); skipped", uuid, row.task_state
                )
                return None
            db_power_state = row.power_state
            if vm_power_state != db_power_state:
                row.power_state = vm_power_state
            vm_state = row.vm_state
            decision = decide(vm_state, vm_power_state, self.policy)
            if decision.repair in (Repair.NONE, Repair.LOG):
                start = None
            else:
                reason = (
                    f"{decision.message or 'Repair.'} vm_state {vm_state}, power_state "
                    f"{power_state.NAMES.get(vm_power_state, vm_power_state)} on the hypervisor "
                    f"(was {power_state.NAMES.get(db_power_state, db_power_state)} in the "
                    f"database); found by the {source} sync, policy {self.policy}."
                )
                start = self._begin_repair(session, ctx, row, decision.repair, reason)
        if decision.message and (decision.repair is Repair.LOG or start is not None):
            self._log(ctx, uuid, decision, vm_state, vm_power_state, source)
        return start

    def _begin_repair(
        self, session: Any, ctx: RequestContext, row: Instance, repair: Repair, reason: str
    ) -> Any:
        """Start the repair's task in the caller's transaction (as the API would)."""
        action, task_state, rpc, allowed = _REPAIRS[repair]
        if allowed is not None and row.vm_state not in allowed:
            return None
        from testbed.compute.api import record_action

        now = self.runtime.clock.now()
        task_id = new_uuid()
        row.task_state = task_state
        row.task_id = task_id
        record_action(session, ctx, row.uuid, action, now)
        session.flush()
        finish_event(
            session,
            row.uuid,
            ctx.request_id,
            SYNC_EVENT,
            now=now,
            result=SUCCESS,
            host=self.host,
            details=reason,
        )
        uuid, host = row.uuid, self.host

        def cast() -> None:
            getattr(self.compute_rpc, rpc)(ctx, host, uuid, task_id)

        return cast

    def _log(
        self,
        ctx: RequestContext,
        uuid: str,
        decision: Decision,
        vm_state: str,
        vm_power_state: int,
        source: str,
    ) -> None:
        LOG.warning(
            "%s (%s, vm_state %s, power %s)", decision.message, uuid, vm_state, vm_power_state
        )
        self.runtime.tracer.record(
            "log",
            request_id=ctx.request_id,
            source=current_service(),
            name="sync_power_state",
            instance_uuid=uuid,
            detail={
                "message": decision.message,
                "repair": decision.repair.value,
                "vm_state": vm_state,
                "vm_power_state": vm_power_state,
                "source": source,
                "policy": self.policy,
            },
        )
