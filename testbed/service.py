"""What every service shares: the runtime it runs on and how it joins the bus.

A service is an *endpoint* (an object whose public methods are its RPC methods) served on
a topic, plus periodic tasks on the clock.  Services never call each other directly:
only through the bus, with the RPC client classes in each package's ``rpcapi.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from testbed.bus.base import Bus, Subscription
from testbed.clock import RealClock, SimClock, Timer
from testbed.config import Config
from testbed.store.db import Store
from testbed.trace import Tracer

__all__ = ["Runtime", "Service"]


@dataclass
class Runtime:
    """The shared machinery: options, clock, bus, store and trace.

    ``virt`` is the hypervisor backend (see :mod:`testbed.virt`): which libvirt module and
    which URI each compute host uses.  ``extras`` is for the assembling code.
    """

    config: Config
    clock: SimClock | RealClock
    bus: Bus
    store: Store
    tracer: Tracer
    virt: Any = None
    extras: dict[str, Any] = field(default_factory=dict)


class Service:
    """Base of every bus-facing service.

    Subclasses set ``binary`` (e.g. ``nova-conductor``) and implement :meth:`endpoint`;
    ``lifeline`` is the name the trace uses; ``periodic_tasks`` lists (interval, fn).
    """

    binary: str = ""

    def __init__(self, runtime: Runtime, *, host: str = "controller") -> None:
        self.runtime = runtime
        self.host = host
        self._subscriptions: list[Subscription] = []
        self._timers: list[Timer] = []

    @property
    def topic(self) -> str:
        """The topic this service serves."""
        raise NotImplementedError

    @property
    def lifeline(self) -> str:
        """The name of this service in the trace and sequence diagrams."""
        return self.topic

    def endpoint(self) -> object:
        """The object whose public methods are this service's RPC methods."""
        raise NotImplementedError

    def periodic_tasks(self) -> list[tuple[float, Callable[[], None]]]:
        """(interval in clock seconds, task) pairs run in the background."""
        return []

    def start(self) -> None:
        """Join the bus and start the periodic tasks."""
        self._subscriptions.append(
            self.runtime.bus.serve(self.topic, self.endpoint(), service=self.lifeline)
        )
        for interval, task in self.periodic_tasks():
            if interval > 0:
                self._timers.append(self.runtime.clock.every(interval, task))

    def stop(self) -> None:
        """Leave the bus and stop the periodic tasks (as a crashed or stopped service)."""
        for sub in self._subscriptions:
            sub.stop()
        for timer in self._timers:
            timer.cancel()
        self._subscriptions.clear()
        self._timers.clear()
