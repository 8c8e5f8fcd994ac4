"""Lifecycle events from libvirt to the compute manager (Nova's ``virt/libvirt/host.py``).

The driver registers one ``VIR_DOMAIN_EVENT_ID_LIFECYCLE`` callback per connection with
``domainEventRegisterAny``; libvirt calls it from its event loop.  The callback maps the
libvirt event to the power state it announces, as Nova does (STOPPED -> SHUTDOWN,
STARTED and RESUMED -> RUNNING, SUSPENDED -> PAUSED; every other event is ignored), and
hands ``(uuid, power_state)`` to the manager's handler *off* the event loop: a STOPPED
event after :data:`STOPPED_EVENT_DELAY` clock seconds (a reboot's STARTED cancels it, as
Nova's ``_event_emit_delayed`` does), the others at once, each on a clock worker thread;
an event announcing the state an event still waiting to be handled announces is dropped
(a guest starting sends STARTED then RESUMED: one sync is enough).

The event loop itself: real libvirt needs ``virEventRegisterDefaultImpl`` and one thread
running ``virEventRunDefaultImpl`` (``testbed.qemu.connect.ensure_event_loop``); any other
libvirt module (fakevirt) gets a daemon thread of its own here, stopped when its last
user leaves.  The loop thread holds no activity unit while it waits, so it never stops
virtual time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from testbed.clock import Timer
from testbed.compute.states import power_state
from testbed.service import Runtime

__all__ = ["STOPPED_EVENT_DELAY", "EventLoops", "LifecycleEvents", "event_power_state"]

LOG = logging.getLogger(__name__)

#: Nova's libvirt ``Host._lifecycle_delay``: a STOPPED event waits this long (clock s).
STOPPED_EVENT_DELAY = 15.0

Handler = Callable[[str, int], None]


def event_power_state(libvirt: Any, event: int, detail: int) -> int | None:
    """The power state a libvirt lifecycle event announces, or None (ignored)."""
    if event == libvirt.VIR_DOMAIN_EVENT_STOPPED:
        return power_state.SHUTDOWN
    if event in (libvirt.VIR_DOMAIN_EVENT_STARTED, libvirt.VIR_DOMAIN_EVENT_RESUMED):
        return power_state.RUNNING
    if event == libvirt.VIR_DOMAIN_EVENT_SUSPENDED:
        return power_state.PAUSED
    return None


class EventLoops:
    """One ``virEventRunDefaultImpl`` loop per libvirt module, shared by its drivers."""

    _lock = threading.Lock()
    _users: dict[int, int] = {}
    _stops: dict[int, threading.Event] = {}

    @classmethod
    def acquire(cls, libvirt: Any) -> None:
        """Make sure the module's event loop runs (counts one user)."""
        if getattr(libvirt, "__name__", "") == "libvirt":
            from testbed.qemu.connect import ensure_event_loop

            ensure_event_loop()
            return
        key = id(libvirt)
        with cls._lock:
            cls._users[key] = cls._users.get(key, 0) + 1
            if cls._users[key] > 1:
                return
            stop = threading.Event()
            cls._stops[key] = stop

        def run() -> None:
            while not stop.is_set():
                try:
                    libvirt.virEventRunDefaultImpl()
                except Exception:  # a callback failing must not end the loop
                    LOG.exception("libvirt event loop callback failed")

        threading.Thread(target=run, name="libvirt-events", daemon=True).start()

    @classmethod
    def release(cls, libvirt: Any) -> None:
        """One user less; the loop ends (within its idle wait) when none is left."""
        key = id(libvirt)
        with cls._lock:
            if key not in cls._users:
                return
            cls._users[key] -= 1
            if cls._users[key] <= 0:
                del cls._users[key]
                cls._stops.pop(key).set()


class LifecycleEvents:
    """The lifecycle callback of one driver connection, feeding one handler."""

    def __init__(self, runtime: Runtime, libvirt: Any, handler: Handler) -> None:
        self.runtime = runtime
        self.libvirt = libvirt
        self.handler = handler
        self._delayed: dict[str, Timer] = {}
        self._queued: dict[str, int] = {}  # uuid -> state of the event waiting to be handled
        self._lock = threading.Lock()
        self._conn: Any = None
        self._callback_id: int | None = None

    def register(self, conn: Any) -> None:
        """Register the callback on ``conn`` and start the event loop."""
        EventLoops.acquire(self.libvirt)
        self._conn = conn
        self._callback_id = conn.domainEventRegisterAny(
            None, self.libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._callback, None
        )

    def unregister(self) -> None:
        """Stop listening (the service stops)."""
        if self._conn is not None and self._callback_id is not None:
            try:
                self._conn.domainEventDeregisterAny(self._callback_id)
            except Exception as exc:  # a dead connection has no callbacks left anyway
                LOG.debug("deregistering lifecycle events: %s", exc)
            EventLoops.release(self.libvirt)
        self._conn, self._callback_id = None, None
        with self._lock:
            for timer in self._delayed.values():
                timer.cancel()
            self._delayed.clear()

    def _callback(self, conn: Any, dom: Any, event: int, detail: int, opaque: Any) -> None:
        """libvirt's callback: never blocks, only schedules."""
        state = event_power_state(self.libvirt, event, detail)
        if state is None:
            return
        uuid = str(dom.UUIDString())
        clock = self.runtime.clock
        with self._lock:
            pending = self._delayed.pop(uuid, None)
            if pending is not None:
                pending.cancel()
            if state == power_state.SHUTDOWN:
                self._delayed[uuid] = clock.call_later(
                    STOPPED_EVENT_DELAY,
                    lambda: self._emit(uuid, state, delayed=True),
                    background=True,
                )
                return
            if self._queued.get(uuid) == state:
                return
            self._queued[uuid] = state
        clock.hold()
        clock.submit_held(lambda: self._emit(uuid, state, delayed=False))

    def _emit(self, uuid: str, state: int, *, delayed: bool) -> None:
        with self._lock:
            if delayed:
                self._delayed.pop(uuid, None)
            elif self._queued.get(uuid) == state:
                del self._queued[uuid]
        try:
            self.handler(uuid, state)
        except Exception:
            LOG.exception("handling the lifecycle event of %s failed", uuid)
