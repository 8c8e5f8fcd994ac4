"""Disk files on fake hosts: fakevirt's stand-in for running ``qemu-img`` on a host.

On a real node the driver's image backend creates, copies and deletes disk images with
qemu-img (or cp/rm) on that node. On fakevirt it calls these helpers instead, naming the host
by an open ``virConnect``, a connection URI or a hostname. A path under a shared storage
mount is the same file on every host mounting it. Domains on QEMU-like hosts fail to start
when a file or block disk is missing (``World.check_disk_files``), and block migration needs
the disk pre-created at the same path on the destination, as on real nodes.

This module is fakevirt-only: it has no counterpart in libvirt-python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fakevirt.model import Host

if TYPE_CHECKING:
    from fakevirt.connection import virConnect
    from fakevirt.world import World


def _host(where: virConnect | str, world: World | None = None) -> tuple[World, Host]:
    from fakevirt import world as default_world
    from fakevirt.connection import virConnect as _Conn

    if isinstance(where, _Conn):
        return where.world, where.host
    w = world or default_world()
    return w, w.host(where)


def create_image(
    where: virConnect | str,
    path: str,
    size: int,
    fmt: str = "qcow2",
    backing: str | None = None,
    world: World | None = None,
) -> None:
    """``qemu-img create -f fmt [-b backing] path size`` on the host (size in bytes)."""
    w, host = _host(where, world)
    with w.lock:
        host.create_file(path, size)


def delete(where: virConnect | str, path: str, world: World | None = None) -> bool:
    """``rm -f path`` on the host; True when the file existed."""
    w, host = _host(where, world)
    with w.lock:
        return host.delete_file(path)


def exists(where: virConnect | str, path: str, world: World | None = None) -> bool:
    """``test -e path`` on the host."""
    w, host = _host(where, world)
    with w.lock:
        return host.file_exists(path)


def size(where: virConnect | str, path: str, world: World | None = None) -> int | None:
    """The virtual size of the image at path (``qemu-img info``), None if missing."""
    w, host = _host(where, world)
    with w.lock:
        return host.file_size(path)


def copy(
    src: virConnect | str,
    src_path: str,
    dst: virConnect | str,
    dst_path: str,
    world: World | None = None,
) -> None:
    """Copy an image between hosts (``scp``/``rsync``, or ``cp`` on the same host)."""
    w, shost = _host(src, world)
    _, dhost = _host(dst, world)
    with w.lock:
        sz = shost.file_size(src_path)
        if sz is None:
            raise FileNotFoundError(f"{shost.hostname}:{src_path}")
        dhost.create_file(dst_path, sz)


def resize(where: virConnect | str, path: str, new_size: int, world: World | None = None) -> None:
    """``qemu-img resize path new_size``."""
    w, host = _host(where, world)
    with w.lock:
        if not host.file_exists(path):
            raise FileNotFoundError(f"{host.hostname}:{path}")
        host.create_file(path, new_size)


def list_files(where: virConnect | str, world: World | None = None) -> list[str]:
    """Every file the host sees (local and on its shared mounts)."""
    w, host = _host(where, world)
    with w.lock:
        return host.list_files()
