"""The clock fakevirt's simulated durations run on.

A clock is anything with ``now() -> float`` and ``sleep(seconds) -> None``. The default,
:class:`InstantClock`, keeps its own virtual time: ``sleep`` adds to it and returns at once,
so a 40-second migration takes microseconds. The control plane injects its own virtual-time
clock (whose ``sleep`` blocks the calling thread until virtual time reaches the deadline)
with :func:`fakevirt.set_clock` or ``World(clock=...)``.

fakevirt never holds its world lock while sleeping, so other threads can call
``jobStats``/``abortJob``/``migrateStartPostCopy`` while a migration runs.  A migration waits
on a wakeup (:func:`wakeup`) until its next phase boundary or until one of those calls, a
fault or a host's state change sets it: on the clock's own ``signal()`` when it has one (the
control plane's clock does), else by sleeping in steps and looking between them.
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


class Wakeup(Protocol):
    """What a running migration waits on: set when something it must see changes."""

    def set(self) -> None:
        """Wake the waiter."""
        ...

    def wait(self, timeout: float | None = None) -> bool:
        """Block until set or ``timeout`` clock seconds pass; True if set."""
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

    def signal(self) -> Wakeup:
        """A wakeup whose wait lets its whole timeout pass at once (unless already set)."""
        return _InstantWakeup(self)


class _InstantWakeup:
    """A wakeup on an :class:`InstantClock`: waiting lets the whole timeout pass at once."""

    def __init__(self, clock: InstantClock) -> None:
        self._clock = clock
        self._set = threading.Event()

    def set(self) -> None:
        self._set.set()

    def wait(self, timeout: float | None = None) -> bool:
        if not self._set.is_set() and timeout is not None:
            self._clock.sleep(timeout)
        return self._set.is_set()


class _SteppingWakeup:
    """A wakeup on a clock that can only ``sleep``: sleep in steps, looking between them."""

    def __init__(self, clock: Clock, step: float) -> None:
        self._clock = clock
        self._step = step
        self._set = threading.Event()

    def set(self) -> None:
        self._set.set()

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else self._clock.now() + timeout
        while not self._set.is_set():
            left = self._step if deadline is None else deadline - self._clock.now()
            if left <= 0:
                break
            self._clock.sleep(min(self._step, left))
        return self._set.is_set()


def wakeup(clock: Clock, step: float) -> Wakeup:
    """Something to wait on for up to a timeout that another thread can cut short with
    ``set()``: the clock's ``signal()`` if it has one, else one that looks every ``step``
    clock seconds."""
    signal = getattr(clock, "signal", None)
    if signal is not None:
        found: Wakeup = signal()
        return found
    return _SteppingWakeup(clock, step)
