"""The HA engine: notices failed compute hosts and evacuates their instances.

It runs in the conductor service as the periodic task ``ha_check`` (every
``ha_check_interval`` clock seconds) and does nothing unless enabled (``ha_enabled``, or
at run time through the control API: ``PUT /testbed/v1/ha``).  A compute host whose
``nova-compute`` is *down* (no heartbeat for ``service_down_time``, or forced down) and
that still holds instances is a failure; it is handled once per failure (again after the
host has been up in between), as Masakari's host-failure flow does:

1. the host's compute service is disabled ("Masakari detected host failed.");
2. each instance with a task under way, or in a vm_state evacuate refuses (anything but
   active, stopped, error), is reset to ``error`` first (an ``os-resetState``);
3. each instance is evacuated, per ``ha_recovery_method``:

   - ``auto``: anywhere the scheduler finds room;
   - ``reserved_host``: to the standby hosts of ``ha_reserved_hosts``, in order (the
     first one up; its compute service is enabled first; when an evacuation there fails
     the next reserved host is tried);
   - ``auto_priority``: ``auto``, then ``reserved_host`` for what failed;
   - ``rh_priority``: ``reserved_host``, then ``auto`` for what failed;

4. the outcome of each instance is followed until its evacuation ends, recorded in the
   host's :class:`~testbed.ha.models.HANotification` (``running`` -> ``finished`` or
   ``failed``) and as an event ``ha_recover_instance`` of the instance's ``evacuate``
   action.

The engine uses the compute API's own logic (as Masakari uses Nova's API), with an admin
context of user ``masakari``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from testbed.compute import states
from testbed.compute.actions import ERROR, SUCCESS
from testbed.compute.api import InstanceOperations
from testbed.compute.api_hosts import COMPUTE_BINARY, service_is_up
from testbed.compute.evacuate_api import EVACUATE_VM_STATES, EvacuateOperations
from testbed.compute.models import Instance, Service
from testbed.compute.records import Event, InstanceRecords
from testbed.context import RequestContext, service_scope
from testbed.exceptions import CloudError
from testbed.ha.models import HANotification
from testbed.service import Runtime

__all__ = ["DISABLED_REASON", "METHODS", "HAEngine", "HASettings"]

LOG = logging.getLogger(__name__)

METHODS = ("auto", "reserved_host", "auto_priority", "rh_priority")
DISABLED_REASON = "Masakari detected host failed."
RECOVER_EVENT = "ha_recover_instance"
_PLANS = {
    "auto": ("auto",),
    "reserved_host": ("reserved_host",),
    "auto_priority": ("auto", "reserved_host"),
    "rh_priority": ("reserved_host", "auto"),
}


@dataclass
class HASettings:
    """What the engine does; changeable at run time (the control API)."""

    enabled: bool = False
    recovery_method: str = "auto"
    reserved_hosts: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe."""
        return {
            "enabled": self.enabled,
            "recovery_method": self.recovery_method,
            "reserved_hosts": list(self.reserved_hosts),
        }


class HAEngine:
    """Host-failure recovery for one cloud."""

    def __init__(self, runtime: Runtime) -> None:
        config = runtime.config
        self.runtime = runtime
        self.settings = HASettings(
            enabled=config.ha_enabled,
            recovery_method=config.ha_recovery_method,
            reserved_hosts=list(config.ha_reserved_hosts),
        )
        self.evacuate_ops = EvacuateOperations(runtime)
        self.instance_ops = InstanceOperations(runtime)
        self.records = InstanceRecords(runtime, "ha-engine")
        self._lock = threading.Lock()
        self._handled: set[str] = set()  # hosts whose current failure is handled
        self._used_reserved: set[str] = set()
        self._follow_up_armed = False
        self._progress_lock = threading.Lock()

    # -- the periodic task ------------------------------------------------------------------
    def ha_check(self) -> None:
        """Look for failed hosts (start their recovery) and follow running recoveries."""
        if not self.settings.enabled:
            return
        with service_scope("ha-engine", RequestContext.admin()), self._progress_lock:
            for host in self._failed_hosts():
                self._recover_host(host)
            self._progress()

    def _failed_hosts(self) -> list[str]:
        now = self.runtime.clock.now()
        down_time = self.runtime.config.service_down_time
        with self.runtime.store.session() as session:
            services = list(
                session.scalars(select(Service).where(Service.binary == COMPUTE_BINARY))
            )
            status = {s.host: service_is_up(s, now, down_time) for s in services}
            occupied = set(
                session.scalars(
                    select(Instance.host).where(
                        Instance.deleted.is_(False), Instance.host.is_not(None)
                    )
                )
            )
        with self._lock:
            for host, up in status.items():
                if up:
                    self._handled.discard(host)
            failed = [
                h for h, up in status.items() if not up and h in occupied and h not in self._handled
            ]
            self._handled.update(failed)
        return sorted(failed)

    # -- starting a recovery ----------------------------------------------------------------
    def _recover_host(self, host: str) -> None:
        method = self.settings.recovery_method
        if method not in METHODS:
            LOG.error("unknown ha_recovery_method %r; using auto", method)
            method = "auto"
        LOG.warning("HA engine: compute host %s failed; recovering (%s)", host, method)
        now = self.runtime.clock.now()
        with self.runtime.store.session() as session:
            service = session.scalars(
                select(Service).where(Service.host == host, Service.binary == COMPUTE_BINARY)
            ).first()
            if service is not None:
                service.disabled = True
                service.disabled_reason = DISABLED_REASON
            instances: list[dict[str, Any]] = [
                {
                    "uuid": row.uuid,
                    "vm_state": row.vm_state,
                    "task_state": row.task_state,
                    "reset": False,
                    "attempts": [],
                    "status": "pending",
                    "host": host,
                    "message": None,
                }
                for row in session.scalars(
                    select(Instance)
                    .where(Instance.host == host, Instance.deleted.is_(False))
                    .order_by(Instance.created_at, Instance.uuid)
                )
            ]
            note = HANotification(
                hostname=host,
                status="running",
                recovery_method=method,
                instances=instances,
                created_at=now,
            )
            session.add(note)
            session.flush()
            note_id = note.id
        for item in instances:
            self._prepare(item)
            self._evacuate(item, host, _PLANS[method])
        self._save(note_id, instances)

    def _prepare(self, item: dict[str, Any]) -> None:
        """Masakari's rule: a task under way or an unusual vm_state -> reset to error."""
        if item["vm_state"] in EVACUATE_VM_STATES and item["task_state"] is None:
            return
        ctx = self._ctx()
        try:
            self.instance_ops.reset_state(ctx, item["uuid"], states.ERROR)
            item["reset"] = True
        except CloudError as exc:
            item["message"] = f"reset to error failed: {exc}"

    def _evacuate(self, item: dict[str, Any], failed_host: str, plan: tuple[str, ...]) -> None:
        """Try the next evacuation the plan allows; marks the item failed when none is left."""
        for method in plan:
            for target in self._targets(method, item):
                ctx = self._ctx()
                try:
                    self.evacuate_ops.evacuate(ctx, item["uuid"], host=target)
                except CloudError as exc:
                    item["attempts"].append(
                        {"method": method, "host": target, "error": str(exc)[:255]}
                    )
                    continue
                item["attempts"].append(
                    {"method": method, "host": target, "request_id": ctx.request_id}
                )
                item["plan"] = list(plan)
                return
        item["status"] = "failed"
        item["message"] = item.get("message") or "no evacuation could be started"

    def _targets(self, method: str, item: dict[str, Any]) -> list[str | None]:
        tried = {(a["method"], a["host"]) for a in item["attempts"]}
        if method == "auto":
            return [] if ("auto", None) in tried else [None]
        targets: list[str | None] = []
        for host in self.settings.reserved_hosts:
            if ("reserved_host", host) in tried or not self._usable_reserved(host):
                continue
            targets.append(host)
        return targets

    def _usable_reserved(self, host: str) -> bool:
        """Up; enabled here for its new job (Masakari enables a reserved host's service)."""
        now = self.runtime.clock.now()
        with self.runtime.store.session() as session:
            service = session.scalars(
                select(Service).where(Service.host == host, Service.binary == COMPUTE_BINARY)
            ).first()
            if service is None or not service_is_up(
                service, now, self.runtime.config.service_down_time
            ):
                return False
            service.disabled = False
            service.disabled_reason = None
        self._used_reserved.add(host)
        return True

    # -- following recoveries ---------------------------------------------------------------
    def progress(self) -> None:
        """Update running notifications from their instances' states (one caller at a
        time: the periodic check and the follow-up timer may meet; nothing in here
        waits on the clock, so a plain mutex is enough)."""
        with self._progress_lock:
            self._progress()

    def _progress(self) -> None:
        with self.runtime.store.session() as session:
            running = [
                (n.id, n.hostname, [dict(i) for i in n.instances])
                for n in session.scalars(
                    select(HANotification).where(HANotification.status == "running")
                )
            ]
        for note_id, failed_host, instances in running:
            for item in instances:
                if item["status"] == "pending":
                    self._follow(item, failed_host)
            self._save(note_id, instances)

    def _follow(self, item: dict[str, Any], failed_host: str) -> None:
        inst = self.records.load(item["uuid"])
        if inst is None or inst["deleted"]:
            item.update(status="skipped", message="deleted during the recovery")
            return
        if inst["task_state"] is not None:
            return
        last = item["attempts"][-1] if item["attempts"] else {}
        ctx = RequestContext.admin(request_id=last.get("request_id"))
        if inst["host"] != failed_host:
            item.update(status="recovered", host=inst["host"], vm_state_after=inst["vm_state"])
            details = (
                f"Recovered by the HA engine from failed host {failed_host} to {inst['host']} "
                f"({last.get('method')})."
            )
            self.records.record_event(ctx, item["uuid"], Event(RECOVER_EVENT, SUCCESS, details))
            return
        self.records.record_event(
            ctx,
            item["uuid"],
            Event(RECOVER_EVENT, ERROR, f"Evacuation from {failed_host} failed."),
        )
        self._evacuate(item, failed_host, tuple(item.get("plan") or ("auto",)))

    def _save(self, note_id: int, instances: list[dict[str, Any]]) -> None:
        pending = any(i["status"] == "pending" for i in instances)
        failed = any(i["status"] == "failed" for i in instances)
        with self.runtime.store.session() as session:
            note = session.get(HANotification, note_id)
            if note is None:
                return
            note.instances = instances
            if not pending:
                note.status = "failed" if failed else "finished"
        if pending:
            self._arm_follow_up()

    def _arm_follow_up(self) -> None:
        """Follow up soon, as work in flight (a settle waits for the recovery to end)."""
        with self._lock:
            if self._follow_up_armed:
                return
            self._follow_up_armed = True
        self.runtime.clock.call_later(self.runtime.config.report_interval, self._follow_up)

    def _follow_up(self) -> None:
        with self._lock:
            self._follow_up_armed = False
        with service_scope("ha-engine", RequestContext.admin()):
            self.progress()

    # -- reading --------------------------------------------------------------------------
    def notifications(self) -> list[dict[str, Any]]:
        """Every notification, newest first."""
        with self.runtime.store.session() as session:
            return [
                {
                    "notification_uuid": n.uuid,
                    "type": n.type,
                    "hostname": n.hostname,
                    "status": n.status,
                    "recovery_method": n.recovery_method,
                    "created_at": n.created_at,
                    "updated_at": n.updated_at,
                    "instances": list(n.instances or []),
                }
                for n in session.scalars(select(HANotification).order_by(HANotification.id.desc()))
            ]

    @staticmethod
    def _ctx() -> RequestContext:
        return RequestContext(user_id="masakari", project_id=None, roles=("admin",))
