"""The real ``libvirt`` module as the libvirt driver sees it on the qemu backend.

The driver calls ``backend.libvirt.open(uri)`` exactly as it does on fakevirt.  On real
nodes every connection needs three things the bare ``libvirt.open`` does not give (see
:mod:`testbed.qemu.connect`): a fast TCP probe first (a dead node's address blocks
``open`` ~39 s), libvirt's default event loop running in a thread (lifecycle events, close
callbacks, keepalive), and keepalive itself (calls to a hung node fail after ~8 s instead
of blocking forever).  :func:`libvirt_module` returns a copy of the module's namespace
whose ``open``, ``openAuth`` and ``openReadOnly`` do that; every other name (constants,
``libvirtError``, classes) is libvirt's own.

A node that does not accept connections fails the way libvirt fails for an unreachable
``qemu+tcp`` host: ``libvirtError`` with ``VIR_ERR_SYSTEM_ERROR`` / ``VIR_FROM_RPC`` and
"unable to connect to server at '<ip>:16509': No route to host".
"""

from __future__ import annotations

import types
from typing import Any
from urllib.parse import urlsplit

from testbed.qemu.connect import KEEPALIVE, LIBVIRT_TCP_PORT, ensure_event_loop, probe

__all__ = ["PROBE_TIMEOUT", "libvirt_module", "unreachable_error"]

#: Seconds the TCP probe waits for libvirtd to accept before the node counts as down.
PROBE_TIMEOUT = 1.0


def unreachable_error(libvirt: Any, host: str, port: int) -> Any:
    """The ``libvirtError`` real libvirt raises when a ``qemu+tcp`` host is unreachable."""
    message = f"unable to connect to server at '{host}:{port}': No route to host"
    error = libvirt.libvirtError(message)
    error.err = (
        libvirt.VIR_ERR_SYSTEM_ERROR,
        libvirt.VIR_FROM_RPC,
        message,
        libvirt.VIR_ERR_ERROR,
        None,
        None,
        None,
        113,  # EHOSTUNREACH
        0,
    )
    error.args = (message,)
    return error


def _ignore_error(_ctx: Any, _error: Any) -> None:
    """libvirt's error callback: the error is raised as ``libvirtError`` anyway."""


def libvirt_module(probe_timeout: float = PROBE_TIMEOUT) -> types.ModuleType:
    """libvirt-python's module surface with probing, event-loop and keepalive ``open``s."""
    import libvirt

    # Errors are raised as libvirtError; without a handler libvirt also prints each one.
    libvirt.registerErrorHandler(_ignore_error, None)
    module = types.ModuleType("libvirt", "libvirt with safe opens for node containers")
    module.__dict__.update({k: v for k, v in vars(libvirt).items() if not k.startswith("__")})

    def checked(uri: str | None) -> str:
        if not uri:
            raise unreachable_error(libvirt, "localhost", LIBVIRT_TCP_PORT)
        parts = urlsplit(uri)
        if parts.scheme.endswith("+tcp") and parts.hostname:
            port = parts.port or LIBVIRT_TCP_PORT
            if not probe(parts.hostname, port, probe_timeout):
                raise unreachable_error(libvirt, parts.hostname, port)
        ensure_event_loop()
        return uri

    def keepalive(conn: Any) -> Any:
        conn.setKeepAlive(*KEEPALIVE)
        return conn

    def open_(name: str | None = None) -> Any:
        return keepalive(libvirt.open(checked(name)))

    def open_read_only(name: str | None = None) -> Any:
        return keepalive(libvirt.openReadOnly(checked(name)))

    def open_auth(uri: str, auth: list[Any], flags: int = 0) -> Any:
        return keepalive(libvirt.openAuth(checked(uri), auth, flags))

    module.__dict__.update(open=open_, openReadOnly=open_read_only, openAuth=open_auth)
    return module
