"""fakevirt: a pure-Python stand-in for the libvirt-python module.

``import fakevirt as libvirt`` gives the same names, signatures, constants (generated from
libvirt's API XML), error codes and return shapes as libvirt-python, over a simulated
:class:`World` of hosts. See docs/fakevirt.md for URIs, faults, the clock and events.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from fakevirt import storage
from fakevirt.binding import LibvirtModule
from fakevirt.clock import Clock, InstantClock
from fakevirt.connection import open_connection, virConnect
from fakevirt.constants import *  # noqa: F403
from fakevirt.constants import LIBVIR_VERSION_NUMBER, VIR_CONNECT_RO
from fakevirt.constants import __all__ as _constant_names
from fakevirt.domain import virDomain
from fakevirt.errors import (
    libvirtError,
    registerErrorHandler,
    virGetLastError,
    virGetLastErrorCode,
    virGetLastErrorDomain,
    virGetLastErrorMessage,
    virResetLastError,
)
from fakevirt.faults import Fault, FaultHandle, supported_kinds
from fakevirt.model import TEST_URI, Host, SharedStorage
from fakevirt.world import World

DEFAULT_TEST_URI = TEST_URI

_state_lock = threading.Lock()
_world: list[World] = [World()]
_event_impl = [False]


def world() -> World:
    """The module-level default world that ``open()`` connects into."""
    return _world[0]


def reset(clock: Clock | None = None, immediate_events: bool = False) -> World:
    """Replace the default world by a fresh one (only the test:///default host exists).

    Connections into the old world keep working against the old world's objects.
    """
    with _state_lock:
        _world[0] = World(clock=clock or InstantClock(), immediate_events=immediate_events)
        return _world[0]


def set_clock(clock: Clock) -> None:
    """Make the default world run on ``clock`` (migration progress, delays, keepalive)."""
    _world[0].clock = clock


def open(name: str | None = None) -> virConnect:
    """Open a connection (``fake://<host>/system``, ``qemu+tcp://<host>/system``, ...)."""
    return open_connection(world(), name or os.environ.get("LIBVIRT_DEFAULT_URI", TEST_URI), False)


def openReadOnly(name: str | None = None) -> virConnect:
    """Open a read-only connection."""
    return open_connection(world(), name or os.environ.get("LIBVIRT_DEFAULT_URI", TEST_URI), True)


def openAuth(uri: str, auth: list[Any], flags: int | None = 0) -> virConnect:
    """Open a connection; credentials are accepted and not checked."""
    return open_connection(world(), uri or TEST_URI, bool((flags or 0) & VIR_CONNECT_RO))


def getVersion(name: str | None = None) -> int:
    """libvirt's version number (9.0.0 -> 9000000)."""
    return LIBVIR_VERSION_NUMBER


def virInitialize() -> int:
    """No-op, returns 0."""
    return 0


def virEventRegisterDefaultImpl() -> int:
    """Register the default event loop (recorded; fakevirt always has one). Returns 0."""
    _event_impl[0] = True
    return 0


def virEventRunDefaultImpl() -> int:
    """Run one iteration of the event loop: deliver every queued event/close callback.

    When nothing is queued it waits up to ``world().event_loop_block`` real seconds for
    something (so a loop thread does not spin), then returns 0.
    """
    return world().run_events()


def run_pending_events() -> int:
    """fakevirt-only: deliver what is queued without waiting; returns how many were run."""
    w = world()
    n = w.pending_events()
    w.run_events(block=0)
    return n


def virEventAddTimeout(timeout: int, cb: Callable[..., Any], opaque: Any) -> int:
    """Unsupported in fakevirt: timers of the default loop are not simulated."""
    raise NotImplementedError("fakevirt does not simulate event loop timers")


__all__ = [
    "DEFAULT_TEST_URI",
    "Fault",
    "FaultHandle",
    "Host",
    "LibvirtModule",
    "SharedStorage",
    "World",
    "getVersion",
    "libvirtError",
    "open",
    "openAuth",
    "openReadOnly",
    "registerErrorHandler",
    "reset",
    "run_pending_events",
    "set_clock",
    "storage",
    "supported_kinds",
    "virConnect",
    "virDomain",
    "virEventRegisterDefaultImpl",
    "virEventRunDefaultImpl",
    "virGetLastError",
    "virGetLastErrorCode",
    "virGetLastErrorDomain",
    "virGetLastErrorMessage",
    "virInitialize",
    "virResetLastError",
    "world",
    *_constant_names,
]
