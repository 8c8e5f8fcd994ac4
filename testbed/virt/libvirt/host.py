"""The connection to one host's libvirtd (Nova's ``virt/libvirt/host.py``, the part that
keeps ``Host.get_connection`` working, and its cache of the host's capabilities).

The connection is opened on first use and reopened when it is no longer alive (libvirtd
restarted, the host came back from a crash).  Opening happens outside the lock: an open
blocks while the host hangs (on the clock), and a thread waiting for a plain lock
meanwhile would hold virtual time still.  Two threads reconnecting at once each open one;
the one that loses the race closes its spare.
"""

from __future__ import annotations

import copy
import logging
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

__all__ = ["HostConnection", "cpu_info_of"]

LOG = logging.getLogger(__name__)


class HostConnection:
    """The live connection to a libvirtd through the ``libvirt`` module; ``uri`` gives its
    address at each (re)open (a restarted node may have a new one)."""

    def __init__(self, libvirt: Any, uri: Callable[[], str]) -> None:
        self.libvirt = libvirt
        self.uri = uri
        self._conn: Any = None
        self._lock = threading.Lock()
        self._cpu_info: tuple[Any, dict[str, Any]] | None = None

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

    def cpu_info(self) -> dict[str, Any]:
        """The host CPU (:func:`cpu_info_of`), parsed once per connection as Nova's
        ``Host.get_capabilities`` keeps what it parsed: every live migration's
        destination check looks at it.  A reopened connection is asked again."""
        conn = self.get()
        cached = self._cpu_info
        if cached is None or cached[0] is not conn:
            cached = (conn, cpu_info_of(conn.getCapabilities()))
            self._cpu_info = cached
        return copy.deepcopy(cached[1])

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


def cpu_info_of(capabilities_xml: str) -> dict[str, Any]:
    """arch, model, vendor and topology of the host CPU from the capabilities XML."""
    try:
        cpu = ET.fromstring(capabilities_xml).find("./host/cpu")
    except ET.ParseError:
        cpu = None
    if cpu is None:
        return {"arch": "x86_64"}
    topology = cpu.find("topology")
    return {
        "arch": (cpu.findtext("arch") or "x86_64").strip(),
        "model": (cpu.findtext("model") or "").strip(),
        "vendor": (cpu.findtext("vendor") or "").strip(),
        "topology": {
            k: int(v)
            for k, v in (topology.attrib if topology is not None else {}).items()
            if v.isdigit()
        },
        "features": sorted(f.get("name", "") for f in cpu.findall("feature")),
    }
