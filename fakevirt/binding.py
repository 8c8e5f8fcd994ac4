"""A libvirt module bound to one :class:`~fakevirt.world.World`: :meth:`World.libvirt_module`.

``import fakevirt as libvirt`` connects into the module-level default world. A program that
needs several independent worlds in one process (two clouds, two tests running side by side)
asks each world for its own module instead::

    w = fakevirt.World()
    w.add_host("node1")
    libvirt = w.libvirt_module()
    conn = libvirt.open("fake://node1/system")  # a host of w, never of another world

The object has libvirt-python's module surface (every ``VIR_*`` constant, ``libvirtError``,
``virConnect``, ``virDomain``, the last-error functions, ``getVersion``...) and binds the entry
points into "the" world to its own: ``open``, ``openReadOnly``, ``openAuth``, the event loop
(``virEventRegisterDefaultImpl``, ``virEventRunDefaultImpl``), ``run_pending_events``,
``set_clock``, ``world()`` and ``storage`` (the disk-file helpers, hostnames resolved in this
world).
"""

from __future__ import annotations

import os
import types
from typing import TYPE_CHECKING, Any

from fakevirt import constants as C
from fakevirt import storage as _storage
from fakevirt.clock import Clock
from fakevirt.connection import open_connection, virConnect
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

if TYPE_CHECKING:
    from fakevirt.world import World

__all__ = ["BoundStorage", "LibvirtModule"]

# Names shared by every bound module (they do not depend on the world).
_SHARED: dict[str, Any] = {
    **{name: getattr(C, name) for name in C.__all__},
    "DEFAULT_TEST_URI": TEST_URI,
    "Fault": Fault,
    "FaultHandle": FaultHandle,
    "Host": Host,
    "SharedStorage": SharedStorage,
    "libvirtError": libvirtError,
    "registerErrorHandler": registerErrorHandler,
    "supported_kinds": supported_kinds,
    "virConnect": virConnect,
    "virDomain": virDomain,
    "virGetLastError": virGetLastError,
    "virGetLastErrorCode": virGetLastErrorCode,
    "virGetLastErrorDomain": virGetLastErrorDomain,
    "virGetLastErrorMessage": virGetLastErrorMessage,
    "virResetLastError": virResetLastError,
}


class BoundStorage:
    """:mod:`fakevirt.storage` with hostnames resolved in one world (connections too)."""

    def __init__(self, world: World) -> None:
        self._world = world

    def create_image(
        self,
        where: virConnect | str,
        path: str,
        size: int,
        fmt: str = "qcow2",
        backing: str | None = None,
    ) -> None:
        """``qemu-img create`` on the host (size in bytes)."""
        _storage.create_image(where, path, size, fmt, backing, world=self._world)

    def delete(self, where: virConnect | str, path: str) -> bool:
        """``rm -f path`` on the host; True when the file existed."""
        return _storage.delete(where, path, world=self._world)

    def exists(self, where: virConnect | str, path: str) -> bool:
        """``test -e path`` on the host."""
        return _storage.exists(where, path, world=self._world)

    def size(self, where: virConnect | str, path: str) -> int | None:
        """The virtual size of the image at path, None if missing."""
        return _storage.size(where, path, world=self._world)

    def copy(
        self, src: virConnect | str, src_path: str, dst: virConnect | str, dst_path: str
    ) -> None:
        """Copy an image between hosts."""
        _storage.copy(src, src_path, dst, dst_path, world=self._world)

    def resize(self, where: virConnect | str, path: str, new_size: int) -> None:
        """``qemu-img resize path new_size``."""
        _storage.resize(where, path, new_size, world=self._world)

    def list_files(self, where: virConnect | str) -> list[str]:
        """Every file the host sees (local and on its shared mounts)."""
        return _storage.list_files(where, world=self._world)


class LibvirtModule(types.ModuleType):
    """libvirt-python's module surface with every entry point bound to one world.

    Get it from :meth:`fakevirt.world.World.libvirt_module` (one per world, cached).
    """

    def __init__(self, world: World) -> None:
        super().__init__("fakevirt", f"fakevirt bound to world {id(world):#x}")
        self.__dict__.update(_SHARED)
        self._world = world
        self.storage = BoundStorage(world)

    def world(self) -> World:
        """The world this module connects into."""
        return self._world

    def open(self, name: str | None = None) -> virConnect:
        """Open a connection (``fake://<host>/system``, ``qemu+tcp://<host>/system``, ...)."""
        uri = name or os.environ.get("LIBVIRT_DEFAULT_URI", TEST_URI)
        return open_connection(self._world, uri, False)

    def openReadOnly(self, name: str | None = None) -> virConnect:
        """Open a read-only connection."""
        uri = name or os.environ.get("LIBVIRT_DEFAULT_URI", TEST_URI)
        return open_connection(self._world, uri, True)

    def openAuth(self, uri: str, auth: list[Any], flags: int | None = 0) -> virConnect:
        """Open a connection; credentials are accepted and not checked."""
        return open_connection(self._world, uri or TEST_URI, bool((flags or 0) & C.VIR_CONNECT_RO))

    def getVersion(self, name: str | None = None) -> int:
        """libvirt's version number (9.0.0 -> 9000000)."""
        return C.LIBVIR_VERSION_NUMBER

    def virInitialize(self) -> int:
        """No-op, returns 0."""
        return 0

    def virEventRegisterDefaultImpl(self) -> int:
        """Register the default event loop (fakevirt always has one). Returns 0."""
        return 0

    def virEventRunDefaultImpl(self) -> int:
        """One iteration of this world's event loop (see :meth:`World.run_events`)."""
        return self._world.run_events()

    def run_pending_events(self) -> int:
        """fakevirt-only: deliver what is queued without waiting; returns how many ran."""
        n = self._world.pending_events()
        self._world.run_events(block=0)
        return n

    def set_clock(self, clock: Clock) -> None:
        """Make this world run on ``clock``."""
        self._world.clock = clock

    def virEventAddTimeout(self, timeout: int, cb: Any, opaque: Any) -> int:
        """Unsupported in fakevirt: timers of the default loop are not simulated."""
        raise NotImplementedError("fakevirt does not simulate event loop timers")

    def __repr__(self) -> str:
        return f"<fakevirt module bound to world {id(self._world):#x}>"
