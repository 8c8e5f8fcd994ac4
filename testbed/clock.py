"""The clock every service runs on.

Simulated durations (a guest booting, a disk being copied, a live migration's memory
copy) and periodic tasks (heartbeats, power-state sync, auto-confirm) all go through one
:class:`Clock`.  :class:`SimClock` keeps *virtual* time, which is what makes a 40-second
migration real in the timeline and instant in a test.

How virtual time moves
----------------------
Every unit of work in flight holds an *activity unit*: a queued bus message, a timer
callback being run, an API request being served.  A thread that blocks through the clock
(``sleep``, a :class:`Signal` wait, an RPC reply wait) gives its unit back while blocked.
When no unit is held the cloud is *quiescent*; then, in ``auto`` mode, the clock jumps to
the earliest deadline somebody is waiting for (a sleeper, an RPC timeout, a foreground
timer), firing background timers (periodic tasks) due on the way at their own time.
Background timers alone never pull time forward: an idle cloud stands still until
:meth:`SimClock.advance` is called.  In ``manual`` mode only :meth:`SimClock.advance` moves
time, so a test can stop a migration half-way and look at it.

Rule for code running on the clock: never block on anything but the clock's own
primitives (``sleep``, :class:`Signal`), or time cannot tell that the thread is waiting.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from testbed.workers import ElasticPool

__all__ = ["Clock", "ClockError", "RealClock", "Signal", "SimClock", "Timer"]


class ClockError(RuntimeError):
    """Raised for misuse of the clock, or when :meth:`Clock.settle` times out."""


class Timer(Protocol):
    """A scheduled callback that may be cancelled before it fires."""

    def cancel(self) -> None:
        """Stop the callback from running if it has not started yet."""


class Clock(Protocol):
    """What services need from time.  Both the virtual and the real clock provide it."""

    def now(self) -> float:
        """Seconds since the epoch, on this clock."""

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds`` of this clock's time."""

    def call_later(
        self, delay: float, fn: Callable[[], None], *, background: bool = False
    ) -> Timer:
        """Run ``fn`` once after ``delay`` seconds.

        ``background`` marks housekeeping (periodic tasks) that must not pull virtual time
        forward by itself.
        """

    def signal(self) -> Signal:
        """A one-shot event whose waiters are visible to the clock."""

    def activity(self) -> contextlib.AbstractContextManager[None]:
        """Mark the calling thread busy for the duration of the ``with`` block."""

    def hold(self) -> None:
        """Take an activity unit on behalf of work that is about to be queued."""

    def release(self) -> None:
        """Give back a unit taken by :meth:`hold` (or by a delivered :class:`Signal`)."""

    def run_held(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` in the calling thread, owning a unit already taken by :meth:`hold`."""

    def settle(self, timeout: float = 30.0) -> None:
        """Wait (wall-clock) until no work is in flight and nothing is about to run."""


class Signal:
    """A one-shot event.  ``wait`` gives the waiter's activity unit back while blocked.

    The thread that calls :meth:`set` is busy; it hands a unit to the waiter before
    returning, so the clock never sees a gap in which nobody is busy.
    """

    __slots__ = ("_clock", "_cond", "_holds", "_is_set", "_timed_out", "_waiting")

    def __init__(self, clock: _ActivityClock) -> None:
        self._clock = clock
        self._cond = threading.Condition(clock._lock)
        self._is_set = False
        self._waiting = False
        self._holds = False
        self._timed_out = False

    def is_set(self) -> bool:
        """Whether :meth:`set` has been called."""
        return self._is_set

    def set(self) -> None:
        """Wake the waiter (if any); later waits return at once."""
        with self._cond:
            if self._is_set:
                return
            self._is_set = True
            if self._waiting and self._holds and not self._timed_out:
                self._clock._busy += 1
            self._clock._forget_sleeper(self)
            self._cond.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until set or until ``timeout`` clock seconds pass; True if set."""
        clock = self._clock
        with self._cond:
            if self._is_set:
                return True
            if self._waiting:
                raise ClockError("a Signal has a single waiter")
            self._waiting, self._timed_out = True, False
            self._holds = clock._local_units() > 0
            if self._holds:
                clock._busy -= 1
            deadline = None if timeout is None else clock._time() + timeout
            clock._add_sleeper(self, deadline)
            try:
                clock._after_release()
                while not (self._is_set or self._timed_out):
                    clock._block(self, deadline)
                return self._is_set
            finally:
                self._waiting = False

    def _wake_on_deadline(self) -> None:
        """Called by the clock, under its lock, when time reaches the deadline."""
        if self._is_set or self._timed_out:
            return
        self._timed_out = True
        self._clock._forget_sleeper(self)
        if self._holds:
            self._clock._busy += 1
        self._cond.notify_all()


@dataclass(order=True)
class _TimerEntry:
    deadline: float
    seq: int
    fn: Callable[[], None] = field(compare=False)
    background: bool = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class _ActivityClock:
    """Activity-unit accounting shared by both clocks."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._busy = 0
        self._sleepers: dict[Signal, float | None] = {}
        self._timers: list[_TimerEntry] = []
        self._seq = itertools.count()
        self._local = threading.local()
        self._pool = ElasticPool("clock")

    # -- time source, supplied by subclasses ---------------------------------------------
    def _time(self) -> float:
        raise NotImplementedError

    def _block(self, signal: Signal, deadline: float | None) -> None:
        """Block the waiter of ``signal`` once; caller holds the lock."""
        raise NotImplementedError

    def _after_release(self) -> None:
        """Hook run under the lock whenever a unit may just have been given back."""
        if self._busy == 0:
            self._idle.notify_all()

    # -- public ---------------------------------------------------------------------------
    def now(self) -> float:
        with self._lock:
            return self._time()

    def signal(self) -> Signal:
        return Signal(self)

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        self.signal().wait(seconds)

    def call_later(
        self, delay: float, fn: Callable[[], None], *, background: bool = False
    ) -> Timer:
        with self._lock:
            entry = _TimerEntry(self._time() + max(delay, 0.0), next(self._seq), fn, background)
            heapq.heappush(self._timers, entry)
            self._timer_added(entry)
            return entry

    def every(self, interval: float, fn: Callable[[], None]) -> Timer:
        """Run ``fn`` every ``interval`` seconds, as a background task."""
        return _Periodic(self, interval, fn)

    @contextlib.contextmanager
    def activity(self) -> Iterator[None]:
        self.hold()
        self._local.units = self._local_units() + 1
        try:
            yield
        finally:
            self._local.units -= 1
            self.release()

    @contextlib.contextmanager
    def released(self) -> Iterator[None]:
        """Give back the calling thread's units for the block (to settle or advance from a
        thread that serves a request, such as the control API's)."""
        units = self._local_units()
        with self._lock:
            self._busy -= units
            self._local.units = 0
            self._after_release()
        try:
            yield
        finally:
            with self._lock:
                self._busy += units
                self._local.units = units

    def hold(self) -> None:
        with self._lock:
            self._busy += 1

    def release(self) -> None:
        with self._lock:
            self._busy -= 1
            if self._busy < 0:
                raise ClockError("activity unit released twice")
            self._after_release()

    def run_held(self, fn: Callable[[], None]) -> None:
        self._local.units = self._local_units() + 1
        try:
            fn()
        finally:
            self._local.units -= 1
            self.release()

    def submit_held(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on a worker thread, owning a unit already taken by :meth:`hold`."""
        self._pool.submit(lambda: self.run_held(fn))

    def busy(self) -> int:
        """How many activity units are held right now (for diagnostics)."""
        with self._lock:
            return self._busy

    def close(self) -> None:
        """Stop firing timers and let worker threads finish."""
        with self._lock:
            self._timers.clear()
        self._pool.close()

    # -- internals ------------------------------------------------------------------------
    def _local_units(self) -> int:
        units: int = getattr(self._local, "units", 0)
        return units

    def _add_sleeper(self, signal: Signal, deadline: float | None) -> None:
        self._sleepers[signal] = deadline

    def _forget_sleeper(self, signal: Signal) -> None:
        self._sleepers.pop(signal, None)

    def _timer_added(self, entry: _TimerEntry) -> None:
        pass

    def _fire(self, entry: _TimerEntry) -> None:
        """Run a due timer on a worker thread; caller holds the lock."""
        self._busy += 1
        fn = entry.fn
        self._pool.submit(lambda: self.run_held(fn))


class _Periodic:
    """A background timer that re-arms itself after each run."""

    def __init__(self, clock: _ActivityClock, interval: float, fn: Callable[[], None]) -> None:
        self._clock, self._interval, self._fn = clock, interval, fn
        self._cancelled = False
        self._timer: Timer = clock.call_later(interval, self._run, background=True)

    def _run(self) -> None:
        if self._cancelled:
            return
        try:
            self._fn()
        finally:
            if not self._cancelled:
                self._timer = self._clock.call_later(self._interval, self._run, background=True)

    def cancel(self) -> None:
        self._cancelled = True
        self._timer.cancel()


class SimClock(_ActivityClock):
    """Virtual time.  See the module docstring for how it moves.

    ``start`` is the initial time (default: now, to the second).  ``mode`` is ``"auto"``
    (jump to the next deadline whenever the cloud is quiescent) or ``"manual"`` (only
    :meth:`advance` moves time).
    """

    def __init__(self, start: float | None = None, *, mode: str = "auto") -> None:
        super().__init__()
        # Virtual time starts at the wall-clock time (clients such as keystoneauth compare
        # token expiry with real time) unless a test fixes it.
        self._now = float(int(time.time())) if start is None else start
        self._mode = "auto"
        self.set_mode(mode)

    @property
    def mode(self) -> str:
        """``"auto"`` or ``"manual"``."""
        return self._mode

    def set_mode(self, mode: str) -> None:
        """Switch between ``"auto"`` and ``"manual"`` time."""
        if mode not in ("auto", "manual"):
            raise ClockError(f"unknown clock mode {mode!r}; expected 'auto' or 'manual'")
        with self._lock:
            self._mode = mode
            self._after_release()

    def _time(self) -> float:
        return self._now

    def _block(self, signal: Signal, deadline: float | None) -> None:
        signal._cond.wait()

    def _timer_added(self, entry: _TimerEntry) -> None:
        if not entry.background:
            self._after_release()

    def _after_release(self) -> None:
        if self._busy == 0 and self._mode == "auto":
            self._step(limit=None)
        if self._busy == 0:
            self._idle.notify_all()

    def _next_deadline(self, *, include_background: bool) -> float | None:
        """The earliest deadline of a sleeper or live timer."""
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)
        candidates = [d for d in self._sleepers.values() if d is not None]
        candidates += [
            t.deadline
            for t in self._timers
            if not t.cancelled and (include_background or not t.background)
        ]
        return min(candidates) if candidates else None

    def _step(self, limit: float | None) -> bool:
        """Move to the next deadline (not past ``limit``) and wake what is due there.

        In auto mode (``limit`` None) only work deadlines pull time; background timers due
        on the way fire at their own time first.  Returns True if anything was woken.
        """
        work = self._next_deadline(include_background=False)
        target = work if limit is None else limit
        if target is None:
            return False
        nxt = self._next_deadline(include_background=True)
        if nxt is None or nxt > target:
            return False
        self._now = max(self._now, nxt)
        woke = False
        for signal, deadline in list(self._sleepers.items()):
            if deadline is not None and deadline <= self._now:
                signal._wake_on_deadline()
                woke = True
        while self._timers and self._timers[0].deadline <= self._now:
            entry = heapq.heappop(self._timers)
            if not entry.cancelled:
                self._fire(entry)
                woke = True
        return woke

    def advance(self, seconds: float, *, timeout: float = 30.0) -> None:
        """Let ``seconds`` of virtual time pass, running everything due on the way.

        Waits (wall-clock, at most ``timeout``) for the cloud to be quiescent between
        steps, so each timer and sleeper runs at its own moment.  In auto mode, work
        started on the way may carry time past the target.
        """
        if seconds < 0:
            raise ClockError("the clock cannot go backwards")
        with self._lock:
            target = self._now + seconds
            while True:
                self._wait_quiescent(timeout)
                if not self._step(limit=target):
                    break
            self._now = max(self._now, target)
            self._wait_quiescent(timeout)

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until nothing is busy (and, in auto mode, no work deadline is pending)."""
        with self._lock:
            self._wait_quiescent(timeout)

    def _wait_quiescent(self, timeout: float) -> None:
        if self._local_units():
            raise ClockError("settle/advance called from inside the cloud would deadlock")
        end = time.monotonic() + timeout

        def quiet() -> bool:
            if self._busy:
                return False
            return self._mode == "manual" or self._next_deadline(include_background=False) is None

        while not quiet():
            left = end - time.monotonic()
            if left <= 0 or not self._idle.wait(left):
                raise ClockError(
                    f"the cloud did not settle within {timeout:g} s "
                    f"({self._busy} busy, {len(self._sleepers)} waiting)"
                )


class RealClock(_ActivityClock):
    """Wall-clock time, for the real (QEMU) backend.  Same accounting, real waits."""

    def __init__(self) -> None:
        super().__init__()
        self._wakeup = threading.Condition(self._lock)
        self._runner = threading.Thread(target=self._run_timers, name="clock-timers", daemon=True)
        self._closed = False
        self._runner.start()

    def _time(self) -> float:
        return time.time()

    def _block(self, signal: Signal, deadline: float | None) -> None:
        signal._cond.wait(None if deadline is None else max(deadline - time.time(), 0.0))
        if deadline is not None and time.time() >= deadline:
            signal._wake_on_deadline()

    def _timer_added(self, entry: _TimerEntry) -> None:
        self._wakeup.notify_all()

    def _run_timers(self) -> None:
        with self._lock:
            while not self._closed:
                while self._timers and self._timers[0].cancelled:
                    heapq.heappop(self._timers)
                if self._timers and self._timers[0].deadline <= time.time():
                    self._fire(heapq.heappop(self._timers))
                    continue
                wait = self._timers[0].deadline - time.time() if self._timers else None
                self._wakeup.wait(wait)

    @property
    def mode(self) -> str:
        """Always ``"real"``: wall-clock time moves by itself."""
        return "real"

    def set_mode(self, mode: str) -> None:
        """Real time has no modes to switch between."""
        raise ClockError("the real clock has no auto/manual mode; use the simulated clock")

    def advance(self, seconds: float, *, timeout: float = 30.0) -> None:
        """Real time cannot be advanced."""
        raise ClockError("the real clock cannot be advanced; use the simulated clock")

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until nothing is busy and nobody sleeps on a deadline."""
        end = time.monotonic() + timeout
        with self._lock:
            while self._busy or any(d is not None for d in self._sleepers.values()):
                left = end - time.monotonic()
                if left <= 0:
                    raise ClockError(f"the cloud did not settle within {timeout:g} s")
                self._idle.wait(min(left, 0.05))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._wakeup.notify_all()
        super().close()
