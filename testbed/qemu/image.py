"""The node image: one container of it is one compute host (libvirtd + QEMU).

Built locally, no registry needed: ``mmdebstrap`` makes a Debian rootfs from Debian's packages
and streams it as a tar into ``docker import`` (ENTRYPOINT tini -> ``testbed-node-start``).
The tag is a hash of the recipe (suite, package list, config files, start script), so the image
is built once and rebuilt only when the recipe changes. ``tools/qemu/Dockerfile`` builds the
same image from the same files for machines that can pull a Debian base image.

Console use (the lead wires it as ``testbed image build``)::

    python -m testbed.qemu.image [--force] [--print-tag]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from testbed.qemu.engine import ensure_engine

#: Called with a human-readable progress line and the seconds elapsed since the build started.
Progress = Callable[[str, float], None]

IMAGE_REPOSITORY = "testbed-qemu-node"
RECIPE_LABEL = "org.nova-testbed.recipe"
SUITE = "bookworm"
NODE_PACKAGES: tuple[str, ...] = (
    "libvirt-daemon",
    "libvirt-daemon-driver-qemu",
    "libvirt-clients",
    "qemu-system-x86",
    "qemu-utils",
    "iproute2",
    "procps",
    "tini",
    "passwd",
)
#: (file in testbed/qemu/files, path in the image, mode)
NODE_FILES: tuple[tuple[str, str, int], ...] = (
    ("libvirtd.conf", "/etc/libvirt/libvirtd.conf", 0o644),
    ("qemu.conf", "/etc/libvirt/qemu.conf", 0o644),
    ("testbed-node-start", "/usr/local/bin/testbed-node-start", 0o755),
)
ENTRYPOINT = ("/usr/bin/tini", "--", "/usr/local/bin/testbed-node-start")
#: libvirtd looks its compiled-in user up before reading qemu.conf, even with user = "root".
USER_HOOK = (
    'chroot "$1" sh -c "getent group kvm >/dev/null || groupadd -r kvm; '
    "getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu; "
    "getent passwd libvirt-qemu >/dev/null || useradd -r -g libvirt-qemu -G kvm "
    '-d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu"'
)
DPKG_OPTS: tuple[str, ...] = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/info/*",
)
APT_OPTS: tuple[str, ...] = (
    # Snapshot or mirrored archives may serve Release files past their Valid-Until date.
    'Acquire::Check-Valid-Until "false"',
    'Acquire::Check-Date "false"',
)


class ImageBuildError(RuntimeError):
    """The node image could not be built; the message carries the tail of the build log."""


def _file_bytes(name: str) -> bytes:
    return resources.files("testbed.qemu").joinpath("files", name).read_bytes()


@dataclass(frozen=True)
class NodeRecipe:
    """Everything the node image is made of; its hash is the image tag."""

    suite: str = SUITE
    packages: tuple[str, ...] = NODE_PACKAGES
    files: tuple[tuple[str, str, int], ...] = NODE_FILES
    entrypoint: tuple[str, ...] = ENTRYPOINT
    extra: tuple[str, ...] = field(default=(USER_HOOK, *DPKG_OPTS))

    def digest(self) -> str:
        """SHA-256 over the recipe and the config files' contents."""
        h = hashlib.sha256()
        for part in (self.suite, *self.packages, *self.entrypoint, *self.extra):
            h.update(part.encode() + b"\0")
        for name, dest, mode in self.files:
            h.update(f"{name}\0{dest}\0{mode:o}\0".encode())
            h.update(_file_bytes(name))
        return h.hexdigest()

    @property
    def tag(self) -> str:
        """``testbed-qemu-node:<first 12 hex digits of the digest>``."""
        return f"{IMAGE_REPOSITORY}:{self.digest()[:12]}"


def _mirror_args() -> list[str]:
    """Use the host's apt sources (its mirror/proxy setup) when it has deb822 sources."""
    debian_sources = Path("/etc/apt/sources.list.d/debian.sources")
    if debian_sources.is_file():
        return [str(debian_sources)]
    sources_list = Path("/etc/apt/sources.list")
    if sources_list.is_file() and sources_list.read_text().strip():
        return [str(sources_list)]
    return ["http://deb.debian.org/debian"]


def mmdebstrap_command(recipe: NodeRecipe, files_dir: Path) -> list[str]:
    """The mmdebstrap command line that writes the node rootfs as a tar to stdout."""
    mmdebstrap = shutil.which("mmdebstrap")
    if mmdebstrap is None:
        raise ImageBuildError("mmdebstrap is not installed: apt-get install -y mmdebstrap")
    cmd = [
        mmdebstrap,
        "--mode=root",
        "--variant=essential",
        "--format=tar",
        f"--include={','.join(recipe.packages)}",
    ]
    cmd += [f"--dpkgopt={opt}" for opt in DPKG_OPTS]
    cmd += [f"--aptopt={opt}" for opt in APT_OPTS]
    cmd.append(f"--customize-hook={USER_HOOK}")
    for name, dest, mode in recipe.files:
        cmd.append(f"--customize-hook=upload {files_dir / name} {dest}")
        cmd.append(f'--customize-hook=chmod {mode:o} "$1{dest}"')
    cmd.append('--customize-hook=rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*')
    cmd += [recipe.suite, "-", *_mirror_args()]
    return cmd


def _image_id(client: Any, tag: str) -> str | None:
    import docker.errors

    try:
        return str(client.images.get(tag).id)
    except docker.errors.ImageNotFound:
        return None


def _image_exists(client: Any, tag: str) -> bool:
    return _image_id(client, tag) is not None


def _print_progress(message: str, elapsed: float) -> None:
    print(f"[{elapsed:6.1f}s] {message}", file=sys.stderr, flush=True)


def ensure_node_image(
    progress: Progress | None = None,
    *,
    force: bool = False,
    client: Any | None = None,
    recipe: NodeRecipe | None = None,
) -> str:
    """Return the tag of the node image, building it first when it is not there yet.

    Args:
        progress: called with (message, elapsed seconds) at each stage; silent when None.
        force: rebuild even when an image with the recipe's tag exists.
        client: a docker client (default: :func:`ensure_engine`).
        recipe: the recipe to build (default: the standard node recipe).
    """
    recipe = recipe or NodeRecipe()
    client = client or ensure_engine()
    report = progress or (lambda _msg, _t: None)
    started = time.monotonic()

    def stage(message: str) -> None:
        report(message, time.monotonic() - started)

    tag = recipe.tag
    previous = _image_id(client, tag)
    if not force and previous is not None:
        stage(f"node image {tag} is cached")
        return tag
    stage(f"building node image {tag} with mmdebstrap ({recipe.suite})")
    with tempfile.TemporaryDirectory(prefix="testbed-node-files-") as tmp:
        files_dir = Path(tmp)
        for name, _dest, _mode in recipe.files:
            (files_dir / name).write_bytes(_file_bytes(name))
        _build(client, recipe, files_dir, tag, stage)
    if previous is not None and previous != _image_id(client, tag):
        with contextlib.suppress(Exception):  # the replaced build, unless a container uses it
            client.images.remove(previous)
    stage(f"node image {tag} ready")
    return tag


def _build(
    client: Any, recipe: NodeRecipe, files_dir: Path, tag: str, stage: Callable[[str], None]
) -> None:
    cmd = mmdebstrap_command(recipe, files_dir)
    log_tail: collections.deque[str] = collections.deque(maxlen=40)
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    stderr = proc.stderr

    def read_log() -> None:
        for raw in stderr:
            line = raw.decode(errors="replace").rstrip()
            log_tail.append(line)
            if line.startswith("I: "):
                stage(line[3:])

    reader = threading.Thread(target=read_log, name="mmdebstrap-log", daemon=True)
    reader.start()
    repository, _, version = tag.partition(":")
    changes = [
        "ENTRYPOINT " + _json_list(recipe.entrypoint),
        f"LABEL {RECIPE_LABEL}={recipe.digest()}",
    ]
    import_error: Exception | None = None
    try:
        client.api.import_image_from_stream(
            proc.stdout, repository=repository, tag=version, changes=changes
        )
    except Exception as exc:  # reported below together with mmdebstrap's log
        import_error = exc
    finally:
        proc.stdout.close()
        returncode = proc.wait()
        reader.join(timeout=10)
    if returncode != 0 or import_error is not None:
        if returncode == 0 and _image_exists(client, tag):
            return
        detail = "\n".join(log_tail)
        raise ImageBuildError(
            f"node image build failed (mmdebstrap exit {returncode}, import: {import_error}):\n"
            f"{detail}"
        )
    if not _image_exists(client, tag):
        raise ImageBuildError(f"docker import did not produce {tag}:\n" + "\n".join(log_tail))
    stage("docker import done")


def _json_list(items: Sequence[str]) -> str:
    import json

    return json.dumps(list(items))


def build_cli(argv: Sequence[str] | None = None) -> int:
    """``testbed image build``: build (or find cached) the node and guest images.

    Returns the process exit status (0 on success).
    """
    parser = argparse.ArgumentParser(
        prog="testbed image build",
        description="Build the real backend's node image (libvirt + QEMU) and tiny guest image.",
    )
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    parser.add_argument("--print-tag", action="store_true", help="print only the image tag")
    parser.add_argument("--no-guest", action="store_true", help="skip the guest image")
    parser.add_argument(
        "--guest-dir",
        type=Path,
        default=None,
        help="where to put the guest image (default: the user cache)",
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    progress = None if args.print_tag else _print_progress
    try:
        tag = ensure_node_image(progress, force=args.force)
        if not args.no_guest:
            from testbed.qemu.guest import ensure_guest_image

            guest = ensure_guest_image(args.guest_dir, progress=progress, force=args.force)
            if not args.print_tag:
                print(f"guest image: {guest.directory}")
    except Exception as exc:
        print(f"testbed image build: {exc}", file=sys.stderr)
        return 1
    print(tag)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(build_cli())
