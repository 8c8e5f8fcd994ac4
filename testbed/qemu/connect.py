"""Opening libvirt connections to node containers safely.

Three things every connection to a node needs (see docs/qemu.md):

- a fast TCP probe of libvirtd's port first: ``libvirt.open()`` to a dead address blocks ~39 s
  before "No route to host";
- libvirt's default event loop, registered before the first ``open`` and run by one daemon
  thread, so that lifecycle events, close callbacks and keepalive work;
- keepalive (``setKeepAlive(2, 3)``): calls to a hung (paused) host fail after ~8 s instead of
  blocking forever.
"""

from __future__ import annotations

import socket
import threading
from typing import Any, Protocol
from urllib.parse import urlsplit

LIBVIRT_TCP_PORT = 16509
KEEPALIVE = (2, 3)

_loop_lock = threading.Lock()
_loop_thread: threading.Thread | None = None


class NodeUnreachable(ConnectionError):
    """libvirtd does not accept TCP connections at the node's address."""


class HasLibvirtUri(Protocol):
    """Anything with a ``libvirt_uri`` (e.g. :class:`testbed.qemu.nodes.Node`)."""

    @property
    def libvirt_uri(self) -> str: ...


def ensure_event_loop() -> None:
    """Register libvirt's default event implementation and run it in a daemon thread (once).

    Must happen before the first connection is opened for keepalive and callbacks to work.
    """
    global _loop_thread
    import libvirt

    with _loop_lock:
        if _loop_thread is not None:
            return
        libvirt.virEventRegisterDefaultImpl()

        def run() -> None:
            while True:
                libvirt.virEventRunDefaultImpl()

        _loop_thread = threading.Thread(target=run, name="libvirt-event-loop", daemon=True)
        _loop_thread.start()


def probe(host: str, port: int = LIBVIRT_TCP_PORT, timeout: float = 1.0) -> bool:
    """True when a TCP connection to ``host:port`` succeeds within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _uri_of(target: str | HasLibvirtUri) -> str:
    return target if isinstance(target, str) else target.libvirt_uri


def open_connection(
    target: str | HasLibvirtUri,
    *,
    probe_timeout: float = 1.0,
    keepalive: tuple[int, int] | None = KEEPALIVE,
) -> Any:
    """Open a read-write ``libvirt.virConnect`` to a node (or a ``qemu+tcp://`` URI).

    Probes the TCP port first (raises :class:`NodeUnreachable` within ``probe_timeout``
    instead of blocking ~39 s), makes sure the event loop runs, and sets keepalive
    (interval, count) unless ``keepalive`` is None.
    """
    import libvirt

    uri = _uri_of(target)
    parts = urlsplit(uri)
    if parts.scheme.endswith("+tcp") and parts.hostname:
        port = parts.port or LIBVIRT_TCP_PORT
        if not probe(parts.hostname, port, probe_timeout):
            raise NodeUnreachable(
                f"libvirtd does not accept connections at {parts.hostname}:{port} "
                f"(probe timeout {probe_timeout} s)"
            )
    ensure_event_loop()
    conn = libvirt.open(uri)
    if keepalive is not None:
        conn.setKeepAlive(*keepalive)
    return conn
