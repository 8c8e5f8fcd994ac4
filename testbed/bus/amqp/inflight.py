"""Activity units held for messages on the wire.

The clock cannot see a message travelling through RabbitMQ.  So that ``settle()`` still
waits for it, whoever knows a message is on its way holds a unit for it under a key (the
message id, or a server's backlog); the thread that receives it takes the unit over, a
"done" notice releases it, and a deadline releases it in any case (the consumer may have
vanished together with the message).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from testbed.clock import RealClock, Timer

__all__ = ["InFlight"]

LOG = logging.getLogger(__name__)


@dataclass
class _Held:
    units: int
    timer: Timer


class InFlight:
    """Units held per key, each key with a deadline ``timeout`` seconds away."""

    def __init__(self, clock: RealClock, timeout: float) -> None:
        self._clock = clock
        self._timeout = timeout
        self._lock = threading.Lock()
        self._held: dict[str, _Held] = {}

    def hold(self, key: str, units: int) -> None:
        """Take ``units`` activity units for the messages known as ``key``."""
        if units <= 0:
            return
        for _ in range(units):
            self._clock.hold()
        timer = self._clock.call_later(self._timeout, lambda: self._expire(key), background=True)
        with self._lock:
            self._held[key] = _Held(units, timer)

    def take(self, key: str) -> bool:
        """Take over one unit of ``key`` (the caller now owns it); False if none is left."""
        with self._lock:
            held = self._held.get(key)
            if held is None:
                return False
            held.units -= 1
            if held.units == 0:
                del self._held[key]
                held.timer.cancel()
            return True

    def release(self, key: str) -> None:
        """Give back one unit of ``key`` (a server elsewhere handled the message)."""
        if self.take(key):
            self._clock.release()

    def drop(self, key: str) -> None:
        """Give back every unit of ``key``."""
        with self._lock:
            held = self._held.pop(key, None)
        if held is not None:
            held.timer.cancel()
            self._give_back(held.units)

    def drop_all(self) -> None:
        """Give back every unit (the bus closes)."""
        with self._lock:
            keys = list(self._held)
        for key in keys:
            self.drop(key)

    def _expire(self, key: str) -> None:
        with self._lock:
            held = self._held.pop(key, None)
        if held is not None:
            LOG.warning("%d message(s) of %s not handled in %g s", held.units, key, self._timeout)
            self._give_back(held.units)

    def _give_back(self, units: int) -> None:
        for _ in range(units):
            self._clock.release()
