"""The clock fakevirt's simulated durations run on.

A clock is anything with ``now() -> float`` and ``sleep(seconds) -> None``. The default,
:class:`InstantClock`, keeps its own virtual time: ``sleep`` adds to it and returns at once,
so a 40-second migration takes microseconds. The control plane injects its own virtual-time
clock (whose ``sleep`` blocks the calling thread until virtual time reaches the deadline)
with :func:`fakevirt.set_clock` or ``World(clock=...)``.

fakevirt never holds its world lock while sleeping and sleeps in small steps, so other threads
can call ``jobStats``/``abortJob``/``migrateStartPostCopy`` while a migration runs.
"""

from __future__ import annotations

import threading
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """What fakevirt needs from a clock."""

    def now(self) -> float:
        """Current time in seconds."""
        ...

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of clock time pass for the calling thread."""
        ...


class InstantClock:
    """A virtual clock whose ``sleep`` advances time instantly, without blocking."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        """Current virtual time in seconds."""
        return self._now

    def sleep(self, seconds: float) -> None:
        """Advance virtual time by ``seconds`` (negative values are ignored)."""
        if seconds > 0:
            with self._lock:
                self._now += seconds

    def advance(self, seconds: float) -> None:
        """Same as :meth:`sleep`; reads better in tests."""
        self.sleep(seconds)
