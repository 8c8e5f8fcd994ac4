"""Per-instance locks whose waits the clock can see.

The compute manager serialises the handlers of one instance (a delete waits for the
build in progress, as Nova's ``@utils.synchronized(instance.uuid)`` does).  A plain
``threading.Lock`` would hide the waiter from the virtual clock and stall time while the
holder sleeps on it (a guest booting), so waiters block on a clock :class:`Signal` and
the lock is handed over in first-come order.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Iterator

from testbed.clock import Clock, Signal

__all__ = ["KeyedLock"]


class KeyedLock:
    """One mutex per key (an instance uuid); waiting goes through the clock."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._mutex = threading.Lock()
        self._waiters: dict[str, deque[Signal]] = {}

    @contextlib.contextmanager
    def hold(self, key: str) -> Iterator[None]:
        """Hold ``key`` for the ``with`` block, waiting for earlier holders first."""
        signal: Signal | None = None
        with self._mutex:
            queue = self._waiters.get(key)
            if queue is None:
                self._waiters[key] = deque()
            else:
                signal = self._clock.signal()
                queue.append(signal)
        if signal is not None:
            signal.wait()
        try:
            yield
        finally:
            self._release(key)

    def _release(self, key: str) -> None:
        with self._mutex:
            queue = self._waiters[key]
            following = queue.popleft() if queue else None
            if following is None:
                del self._waiters[key]
        if following is not None:
            following.set()

    def held(self, key: str) -> bool:
        """Whether somebody holds ``key`` now (for diagnostics)."""
        with self._mutex:
            return key in self._waiters
