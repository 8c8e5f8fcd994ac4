"""The connection to one host's libvirtd (Nova's ``virt/libvirt/host.py``, the part that
keeps ``Host.get_connection`` working).

The connection is opened on first use and reopened when it is no longer alive (libvirtd
restarted, the host came back from a crash).  Opening happens outside the lock: an open
blocks while the host hangs (on the clock), and a thread waiting for a plain lock
meanwhile would hold virtual time still.  Two threads reconnecting at once each open one;
the one that loses the race closes its spare.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["HostConnection"]

LOG = logging.getLogger(__name__)


class HostConnection:
    """The live connection to a libvirtd through the ``libvirt`` module; ``uri`` gives its
    address at each (re)open (a restarted node may have a new one)."""

    def __init__(self, libvirt: Any, uri: Callable[[], str]) -> None:
        self.libvirt = libvirt
        self.uri = uri
        self._conn: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        """The connection, (re)opened if it is not alive; libvirt's error if it cannot be."""
        with self._lock:
            if self._conn is not None and self._alive(self._conn):
                return self._conn
        opened = self.libvirt.open(self.uri())
        with self._lock:
            if self._conn is None or not self._alive(self._conn):
                self._conn, opened = opened, None
            current = self._conn
        if opened is not None:  # another thread reconnected first
            self._close_quietly(opened)
        return current

    def _alive(self, conn: Any) -> bool:
        try:
            return bool(conn.isAlive())
        except self.libvirt.libvirtError:
            return False

    def _close_quietly(self, conn: Any) -> None:
        try:
            conn.close()
        except self.libvirt.libvirtError as exc:
            LOG.debug("closing a spare connection to %s: %s", self.uri(), exc)
