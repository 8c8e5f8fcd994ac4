"""One board for every fault a test can inject, whatever it hits.

A fault is a JSON object with a ``target``:

- ``bus``: a :class:`testbed.bus.base.BusFault` (``topic``, ``method``, ``action`` drop |
  delay | error, ``seconds``, ``times``).
- ``hypervisor``: passed to the hypervisor backend (fakevirt's fault kinds: host crash or
  hang, guest shutdown or crash, a domain's state changed behind the cloud's back, a
  migration failing at a phase, lost or delayed events, slow operations); see
  ``docs/fakevirt.md``.
- ``host``: the whole compute host: ``kind`` ``crash`` (the hypervisor host crashes and
  its nova-compute dies with it) or ``recover`` (it comes back, and its compute service
  starts again), ``service_stop`` / ``service_start`` (only nova-compute).

Each injected fault gets an id (``bus-3``, ``hv-1``, ``host-2``) to clear it by.
"""

from __future__ import annotations

import itertools
import threading
from typing import TYPE_CHECKING, Any

from testbed.bus.base import BusFault
from testbed.exceptions import BadRequest, NotFound

if TYPE_CHECKING:
    from testbed.cloud import Cloud

__all__ = ["FaultBoard"]

HOST_KINDS = ("crash", "recover", "service_stop", "service_start")


class FaultBoard:
    """Injects, lists and clears faults on a cloud (across its resets)."""

    def __init__(self, cloud: Cloud) -> None:
        self._cloud = cloud
        self._lock = threading.Lock()
        self._host_events: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)

    def kinds(self) -> dict[str, Any]:
        """What can be injected, per target."""
        virt = self._cloud.runtime.virt
        hv_kinds = list(virt.fault_kinds()) if virt is not None else []
        return {"bus": ["drop", "delay", "error"], "hypervisor": hv_kinds, "host": list(HOST_KINDS)}

    def list(self) -> list[dict[str, Any]]:
        """Every fault in force."""
        runtime = self._cloud.runtime
        faults = [
            {"id": f"bus-{f.id}", "target": "bus", **f.to_dict()} for f in runtime.bus.faults()
        ]
        if runtime.virt is not None:
            faults += [
                {**f, "id": f"hv-{f['id']}", "target": "hypervisor"}
                for f in runtime.virt.list_faults()
            ]
        with self._lock:
            faults += list(self._host_events.values())
        return faults

    def inject(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Inject one fault; returns it with its id."""
        spec = dict(spec)
        target = spec.pop("target", None)
        if target == "bus":
            spec.pop("id", None)
            try:
                fault = self._cloud.runtime.bus.inject(BusFault(**spec))
            except TypeError as exc:
                raise BadRequest(f"bad bus fault: {exc}") from exc
            return {"id": f"bus-{fault.id}", "target": "bus", **fault.to_dict()}
        if target == "hypervisor":
            virt = self._cloud.runtime.virt
            if virt is None:
                raise BadRequest("this cloud has no hypervisor backend to inject into")
            injected = virt.inject_fault(spec)
            return {**injected, "id": f"hv-{injected['id']}", "target": "hypervisor"}
        if target == "host":
            return self._host_fault(spec)
        raise BadRequest(f"'target' must be one of bus, hypervisor, host; not {target!r}")

    def _host_fault(self, spec: dict[str, Any]) -> dict[str, Any]:
        kind, host = spec.get("kind"), spec.get("host")
        if kind not in HOST_KINDS:
            raise BadRequest(f"host fault 'kind' must be one of {HOST_KINDS}, not {kind!r}")
        if host not in {h.name for h in self._cloud.topology.hosts}:
            raise NotFound(f"Compute host {host!r} could not be found.")
        cloud = self._cloud
        if kind == "crash":
            cloud.crash_host(host)
        elif kind == "recover":
            cloud.recover_host(host)
        elif kind == "service_stop":
            cloud.stop_compute(host)
        else:
            cloud.start_compute(host)
        event = {"id": f"host-{next(self._ids)}", "target": "host", "kind": kind, "host": host}
        with self._lock:
            if kind in ("crash", "service_stop"):
                self._host_events[event["id"]] = event
            else:
                self._host_events = {
                    k: v for k, v in self._host_events.items() if v["host"] != host
                }
        return event

    def clear(self, fault_id: str | None = None) -> None:
        """Clear one fault by id, or every fault (crashed hosts recover)."""
        runtime = self._cloud.runtime
        if fault_id is None:
            runtime.bus.clear_faults()
            if runtime.virt is not None:
                runtime.virt.clear_faults()
            with self._lock:
                events = list(self._host_events.values())
            for event in events:
                self._host_fault(
                    {
                        "kind": "recover" if event["kind"] == "crash" else "service_start",
                        "host": event["host"],
                    }
                )
            return
        prefix, _, number = fault_id.partition("-")
        if prefix == "bus" and number.isdigit():
            if not any(f.id == int(number) for f in runtime.bus.faults()):
                raise NotFound(f"Fault {fault_id} could not be found.")
            runtime.bus.clear_faults(int(number))
        elif prefix == "hv" and runtime.virt is not None:
            runtime.virt.clear_faults(number)
        elif prefix == "host":
            with self._lock:
                found = self._host_events.get(fault_id)
            if found is None:
                raise NotFound(f"Fault {fault_id} could not be found.")
            event = found
            self._host_fault(
                {
                    "kind": "recover" if event["kind"] == "crash" else "service_start",
                    "host": event["host"],
                }
            )
        else:
            raise NotFound(f"Fault {fault_id} could not be found.")
