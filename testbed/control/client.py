"""A client of the control API, over any keystoneauth session (in-process or HTTP).

control = ControlClient(session, base_url)
control.settle(); control.advance(600); control.inject({"target": "bus", ...})
"""

from __future__ import annotations

from typing import Any

__all__ = ["ControlClient", "ControlError"]


class ControlError(RuntimeError):
    """The control API refused a request, or is not there."""


class ControlClient:
    """Reset, clock, periodic tasks, faults and trace of a test-bed cloud."""

    def __init__(self, session: Any, base_url: str) -> None:
        self._session = session
        self.base_url = base_url.rstrip("/") + "/testbed/v1"

    def _request(
        self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        response = self._session.request(
            self.base_url + path,
            method,
            json=body,
            params=params,
            raise_exc=False,
            headers={"Accept": "application/json"},
        )
        if response.status_code >= 400:
            raise ControlError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def available(self) -> bool:
        """Whether the cloud has a control API (a test-bed cloud) that we may use."""
        try:
            self._request("GET", "")
        except ControlError:
            return False
        except Exception:
            return False
        return True

    def info(self) -> dict[str, Any]:
        """Backend, topology, hosts, clock and options of the cloud."""
        result: dict[str, Any] = self._request("GET", "")["cloud"]
        return result

    def reset(self, topology: str | dict[str, Any] | None = None) -> None:
        """Throw all state away (optionally with another topology)."""
        self._request("POST", "/reset", {"topology": topology})

    def now(self) -> float:
        """The cloud's clock."""
        return float(self._request("GET", "/clock")["clock"]["now"])

    def set_clock_mode(self, mode: str) -> None:
        """``auto`` (simulated durations pass at once) or ``manual`` (only advance)."""
        self._request("PUT", "/clock", {"mode": mode})

    def advance(self, seconds: float) -> float:
        """Let ``seconds`` of clock time pass; returns the new time."""
        return float(self._request("POST", "/clock/advance", {"seconds": seconds})["clock"]["now"])

    def settle(self, timeout: float = 60.0) -> None:
        """Wait until nothing is in flight in the cloud."""
        self._request("POST", "/settle", {"timeout": timeout})

    def run_periodic_tasks(self, task: str | None = None, host: str | None = None) -> list[str]:
        """Run periodic tasks now; returns the names of those that ran."""
        ran: list[str] = self._request("POST", "/periodic-tasks", {"task": task, "host": host})[
            "ran"
        ]
        return ran

    def inject(self, fault: dict[str, Any]) -> dict[str, Any]:
        """Inject a fault (see ``testbed/control/faults.py``); returns it with its id."""
        result: dict[str, Any] = self._request("POST", "/faults", fault)["fault"]
        return result

    def faults(self) -> list[dict[str, Any]]:
        """Faults in force."""
        result: list[dict[str, Any]] = self._request("GET", "/faults")["faults"]
        return result

    def clear_faults(self, fault_id: str | None = None) -> None:
        """Clear one fault, or all."""
        self._request("DELETE", f"/faults/{fault_id}" if fault_id else "/faults")

    def trace(
        self, *, request_id: str | None = None, server: str | None = None, since: int | None = None
    ) -> dict[str, Any]:
        """Trace events: ``{"events": [...], "last_seq": N}``."""
        params = {
            k: v
            for k, v in (("request_id", request_id), ("server", server), ("since", since))
            if v is not None
        }
        result: dict[str, Any] = self._request("GET", "/trace", params=params)
        return result

    def invariants(self) -> list[str]:
        """Violations of the cloud's invariants (empty when consistent)."""
        result: list[str] = self._request("GET", "/invariants")["violations"]
        return result
