"""Endpoints the bus tests serve (also used by the child process of the two-process test)."""

from __future__ import annotations

import threading
from typing import Any

from testbed.bus.base import Bus
from testbed.clock import RealClock, SimClock
from testbed.context import RequestContext, current_service
from testbed.exceptions import Conflict


class Echo:
    """Records what it receives, in the order it handles it."""

    def __init__(self, clock: SimClock | RealClock) -> None:
        self.clock = clock
        self.seen: list[tuple[str, Any]] = []
        self._lock = threading.Lock()

    def _note(self, entry: tuple[str, Any]) -> None:
        with self._lock:
            self.seen.append(entry)

    def echo(self, ctx: RequestContext, value: Any, **_about: Any) -> dict[str, Any]:
        self._note((current_service(), value))
        return {"value": value, "user": ctx.user_id}

    def conflict(self, ctx: RequestContext) -> None:
        raise Conflict("busy")

    def boom(self, ctx: RequestContext) -> None:
        raise ValueError("internal")

    def slow(self, ctx: RequestContext, seconds: float) -> float:
        self.clock.sleep(seconds)
        self._note(("slow", self.clock.now()))
        return self.clock.now()

    def unserialisable(self, ctx: RequestContext) -> object:
        return object()

    def values(self) -> list[Any]:
        """What it received, without the lifelines."""
        with self._lock:
            return [value for _service, value in self.seen]


class Relay:
    """Answers by calling another topic: a service calling a service."""

    def __init__(self, bus: Bus, target: str) -> None:
        self.bus, self.target = bus, target

    def relay(self, ctx: RequestContext, value: Any) -> Any:
        return self.bus.call(ctx, self.target, "echo", value=value)["value"]
