"""A deterministic writer for the ``newc`` cpio format (what ``cpio -H newc`` writes and the
Linux kernel unpacks as an initramfs).

Written here rather than calling ``cpio`` so that the archive needs no root (device nodes such
as ``/dev/console`` are just entries), has fixed timestamps and owners (same bytes every
build), and needs one package less on the host.
"""

from __future__ import annotations

import io
import stat

_MAGIC = b"070701"


class NewcWriter:
    """Collects entries in memory; :meth:`finish` returns the archive bytes."""

    def __init__(self) -> None:
        self._buf = io.BytesIO()
        self._ino = 1
        self._done = False

    def _entry(
        self,
        name: str,
        mode: int,
        data: bytes = b"",
        rdev: tuple[int, int] = (0, 0),
        nlink: int = 1,
    ) -> None:
        if self._done:
            raise RuntimeError("archive already finished")
        encoded = name.encode() + b"\0"
        fields = (
            self._ino,
            mode,
            0,
            0,
            nlink,
            0,
            len(data),
            0,
            0,
            rdev[0],
            rdev[1],
            len(encoded),
            0,
        )
        self._ino += 1
        header = _MAGIC + b"".join(b"%08X" % value for value in fields)
        self._buf.write(header + encoded)
        self._pad()
        self._buf.write(data)
        self._pad()

    def _pad(self) -> None:
        self._buf.write(b"\0" * (-self._buf.tell() % 4))

    def add_dir(self, name: str, mode: int = 0o755) -> None:
        """A directory entry (parents must be added first)."""
        self._entry(name, stat.S_IFDIR | mode, nlink=2)

    def add_file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        """A regular file with the given contents."""
        self._entry(name, stat.S_IFREG | mode, data)

    def add_symlink(self, name: str, target: str) -> None:
        """A symbolic link pointing at ``target``."""
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def add_char_device(self, name: str, major: int, minor: int, mode: int = 0o600) -> None:
        """A character device node (e.g. ``dev/console`` = 5:1)."""
        self._entry(name, stat.S_IFCHR | mode, rdev=(major, minor))

    def finish(self) -> bytes:
        """Append the trailer and return the archive."""
        self._entry("TRAILER!!!", 0, nlink=1)
        self._done = True
        return self._buf.getvalue()
