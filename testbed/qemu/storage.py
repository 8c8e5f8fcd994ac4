"""Files on node containers: what ``qemu-img``, ``rm``, ``test`` and ``scp`` do on a real
compute host, run inside the node (``docker exec``) or through Docker's archive API.

Copies between nodes go through ``docker cp``'s API (``get_archive`` / ``put_archive``),
which also reads from a stopped (killed) container: a host-local disk can be fetched from a
dead host, as an operator would recover it from its disk.
"""

from __future__ import annotations

import io
import posixpath
import tarfile

from testbed.qemu.nodes import Node, NodeError, NodePath

__all__ = ["copy_file_between", "create_qcow2", "create_raw", "file_exists", "remove_file"]


def create_qcow2(node: Node, path: str, size_gb: int, backing: NodePath | None = None) -> None:
    """``qemu-img create -f qcow2`` of ``size_gb`` GiB (an overlay on ``backing`` if given)."""
    node.create_disk(path, f"{max(int(size_gb), 1)}G", backing=backing)


def create_raw(node: Node, path: str, size_gb: int) -> None:
    """A sparse raw file of ``size_gb`` GiB (a volume)."""
    node.exec(["mkdir", "-p", posixpath.dirname(path)])
    node.exec(["qemu-img", "create", "-q", "-f", "raw", path, f"{max(int(size_gb), 1)}G"])


def remove_file(node: Node, path: str, *, prune_dir: bool = True) -> None:
    """``rm -f`` the file, then remove its directory when it is empty."""
    script = 'rm -f -- "$1"'
    if prune_dir:
        script += '; rmdir -- "$(dirname -- "$1")" 2>/dev/null || true'
    node.exec(["sh", "-c", script, "sh", path])


def file_exists(node: Node, path: str) -> bool:
    """Whether ``path`` exists on the node."""
    return node.exec(["test", "-e", path], check=False).exit_code == 0


def copy_file_between(src: Node, dst: Node, path: str, dest_path: str | None = None) -> int:
    """Copy ``path`` from ``src`` to ``dest_path`` (default the same path) on ``dst``;
    returns the bytes copied.  ``src`` may be stopped; ``dst`` must be running."""
    dest_path = dest_path or path
    try:
        stream, _stat = src.container.get_archive(path)
    except Exception as exc:  # docker.errors.NotFound / APIError
        raise NodeError(f"{src.name}: cannot read {path}: {exc}") from exc
    archive = b"".join(stream)
    name = posixpath.basename(dest_path)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        member = tar.next()
        if member is None or not member.isfile():
            raise NodeError(f"{src.name}: {path} is not a regular file")
        data = tar.extractfile(member)
        assert data is not None
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w") as renamed:
            member.name = name
            renamed.addfile(member, data)
    dst.exec(["mkdir", "-p", posixpath.dirname(dest_path)])
    if not dst.container.put_archive(posixpath.dirname(dest_path), out.getvalue()):
        raise NodeError(f"{dst.name}: could not write {dest_path}")
    return int(member.size)
