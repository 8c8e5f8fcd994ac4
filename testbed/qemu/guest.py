"""The tiny guest the real backend boots: a Debian kernel plus a busybox initramfs.

- kernel: ``vmlinuz`` from Debian's ``linux-image-cloud-amd64`` (the .deb is downloaded with
  ``apt-get download`` and unpacked with ``dpkg -x``; nothing is installed);
- initrd: busybox-static, the virtio block modules and ``files/guest-init`` in a ``newc`` cpio
  archive (written here, deterministically) compressed with gzip;
- root disk: a small empty qcow2 (``qemu-img create``); copy it per domain.

The guest's init prints ``disk-counter N`` once (a boot counter kept in sector 0 of its disk:
read, incremented, written back) and then ``heartbeat N`` every second on the serial console.

Every node sees the image read-only at the same path (:data:`GUEST_MOUNT`), which is what
direct kernel boot and live migration need. The directory name is a hash of the recipe, so the
image is built once and rebuilt only when the recipe changes.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from xml.sax.saxutils import escape

from testbed.qemu.cpio import NewcWriter

#: Where each node sees the guest image (a read-only bind mount).
GUEST_MOUNT = "/opt/testbed/guest"
KERNEL_PACKAGE = "linux-image-cloud-amd64"
BUSYBOX_PACKAGE = "busybox-static"
#: Kernel modules the guest needs for its virtio disk (dependencies are added automatically).
GUEST_MODULES: tuple[str, ...] = ("virtio_pci", "virtio_blk")
ROOT_DISK_SIZE = "16M"
KERNEL_CMDLINE = "console=ttyS0 quiet panic=-1 rdinit=/init sysrq_always_enabled=1"
_RECIPE_VERSION = "1"

Progress = Callable[[str, float], None]


class GuestBuildError(RuntimeError):
    """The guest image could not be built; the message says which step failed."""


@dataclass(frozen=True)
class GuestImage:
    """Paths of a guest image: on the host after :func:`ensure_guest_image`, or on a node
    after :meth:`on_node`."""

    directory: Path
    kernel: Path
    initrd: Path
    root_qcow2: Path
    cmdline: str = KERNEL_CMDLINE

    def on_node(self, mount: str = GUEST_MOUNT) -> GuestImage:
        """The same image as seen inside a node container (mounted at ``mount``)."""
        base = Path(mount)
        return replace(
            self,
            directory=base,
            kernel=base / self.kernel.name,
            initrd=base / self.initrd.name,
            root_qcow2=base / self.root_qcow2.name,
        )


def _init_script() -> bytes:
    return resources.files("testbed.qemu").joinpath("files", "guest-init").read_bytes()


def recipe_digest() -> str:
    """SHA-256 over everything the guest image is made of."""
    h = hashlib.sha256()
    for part in (
        _RECIPE_VERSION,
        KERNEL_PACKAGE,
        BUSYBOX_PACKAGE,
        *GUEST_MODULES,
        ROOT_DISK_SIZE,
        KERNEL_CMDLINE,
    ):
        h.update(part.encode() + b"\0")
    h.update(_init_script())
    return h.hexdigest()


def default_cache_dir() -> Path:
    """``$TESTBED_CACHE_DIR`` or ``$XDG_CACHE_HOME/nova-testbed`` (``~/.cache/nova-testbed``)."""
    if os.environ.get("TESTBED_CACHE_DIR"):
        return Path(os.environ["TESTBED_CACHE_DIR"])
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "nova-testbed"


def _image_at(directory: Path) -> GuestImage:
    return GuestImage(
        directory, directory / "vmlinuz", directory / "initrd.gz", directory / "root.qcow2"
    )


def ensure_guest_image(
    dest_dir: Path | str | None = None,
    *,
    progress: Progress | None = None,
    force: bool = False,
) -> GuestImage:
    """Return the guest image under ``dest_dir`` (default: the user cache), building it when
    missing. The image sits in ``dest_dir/guest-<hash>/``; building is atomic (rename)."""
    base = Path(dest_dir) if dest_dir is not None else default_cache_dir()
    directory = base / f"guest-{recipe_digest()[:12]}"
    image = _image_at(directory)
    report = progress or (lambda _m, _t: None)
    started = time.monotonic()

    def stage(message: str) -> None:
        report(message, time.monotonic() - started)

    if not force and all(p.is_file() for p in (image.kernel, image.initrd, image.root_qcow2)):
        stage(f"guest image {directory} is cached")
        return image
    for tool in ("apt-get", "dpkg", "qemu-img"):
        if shutil.which(tool) is None:
            pkg = "qemu-utils" if tool == "qemu-img" else "apt/dpkg (Debian or Ubuntu)"
            raise GuestBuildError(f"{tool} not found: the guest image needs {pkg}")
    base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".guest-build-", dir=base) as tmp:
        work = Path(tmp)
        out = work / "out"
        out.mkdir()
        stage(f"downloading {KERNEL_PACKAGE} and {BUSYBOX_PACKAGE}")
        kernel_root, busybox_root = _fetch_packages(work)
        stage("writing kernel, initramfs and root disk")
        vmlinuz = sorted((kernel_root / "boot").glob("vmlinuz-*"))
        if not vmlinuz:
            raise GuestBuildError(f"no vmlinuz in {KERNEL_PACKAGE}")
        shutil.copyfile(vmlinuz[-1], out / "vmlinuz")
        _write_initrd(out / "initrd.gz", kernel_root, busybox_root / "bin" / "busybox")
        _run(
            ["qemu-img", "create", "-q", "-f", "qcow2", str(out / "root.qcow2"), ROOT_DISK_SIZE],
            "qemu-img create",
        )
        for path in out.iterdir():
            path.chmod(0o644)
        out.chmod(0o755)
        if directory.exists():
            shutil.rmtree(directory)
        out.rename(directory)
    stage(f"guest image {directory} ready")
    return image


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise GuestBuildError(f"{what} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def _download(work: Path, package: str) -> Path:
    _run(
        ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", package],
        f"apt-get download {package} (did apt-get update run?)",
        cwd=work,
    )
    debs = sorted(work.glob(f"{package}_*.deb"))
    if not debs:
        raise GuestBuildError(f"apt-get download {package} produced no .deb")
    return debs[-1]


def _fetch_packages(work: Path) -> tuple[Path, Path]:
    meta = _download(work, KERNEL_PACKAGE)
    depends = _run(["dpkg-deb", "-f", str(meta), "Depends"], "dpkg-deb -f")
    match = re.search(r"(linux-image-[0-9][^\s,(]*)", depends)
    if match is None:
        raise GuestBuildError(f"cannot find the kernel package in Depends: {depends!r}")
    kernel_deb = _download(work, match.group(1))
    busybox_deb = _download(work, BUSYBOX_PACKAGE)
    kernel_root, busybox_root = work / "kernel", work / "busybox"
    _run(["dpkg", "-x", str(kernel_deb), str(kernel_root)], "dpkg -x kernel")
    _run(["dpkg", "-x", str(busybox_deb), str(busybox_root)], "dpkg -x busybox")
    return kernel_root, busybox_root


def _module_index(kernel_root: Path) -> dict[str, Path]:
    index: dict[str, Path] = {}
    for ko in (kernel_root / "lib" / "modules").glob("*/kernel/**/*.ko"):
        index[ko.stem.replace("-", "_")] = ko
    return index


def _module_depends(ko: Path) -> list[str]:
    """Read ``depends=`` from the module's .modinfo strings (no modinfo binary needed)."""
    match = re.search(rb"\0depends=([A-Za-z0-9_,-]*)\0", ko.read_bytes())
    if match is None or not match.group(1):
        return []
    return [name.replace("-", "_") for name in match.group(1).decode().split(",")]


def module_load_order(kernel_root: Path, wanted: Iterable[str]) -> list[tuple[str, Path]]:
    """The modules in ``wanted`` and their dependencies, dependencies first."""
    index = _module_index(kernel_root)
    order: list[tuple[str, Path]] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        if name not in index:  # built into the kernel
            return
        for dep in _module_depends(index[name]):
            visit(dep)
        order.append((name, index[name]))

    for name in wanted:
        visit(name)
    return order


def _write_initrd(dest: Path, kernel_root: Path, busybox: Path) -> None:
    writer = NewcWriter()
    for directory in ("bin", "dev", "etc", "lib", "lib/modules", "proc", "sys", "tmp"):
        writer.add_dir(directory)
    writer.add_char_device("dev/console", 5, 1, mode=0o600)
    writer.add_char_device("dev/null", 1, 3, mode=0o666)
    writer.add_file("bin/busybox", busybox.read_bytes(), mode=0o755)
    writer.add_symlink("bin/sh", "busybox")
    writer.add_file("init", _init_script(), mode=0o755)
    modules = module_load_order(kernel_root, GUEST_MODULES)
    for name, ko in modules:
        writer.add_file(f"lib/modules/{name}.ko", ko.read_bytes(), mode=0o644)
    writer.add_file("etc/modules-load", "".join(f"{n}\n" for n, _ in modules).encode(), mode=0o644)
    with dest.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(writer.finish())


def domain_xml(
    name: str,
    image: GuestImage,
    disk: str,
    serial_log: str,
    *,
    memory_mib: int = 128,
    vcpus: int = 1,
    uuid: str | None = None,
) -> str:
    """Libvirt domain XML for the tiny guest: TCG (``type='qemu'``), direct kernel boot from
    ``image`` (use :meth:`GuestImage.on_node` paths), ``disk`` (qcow2, virtio ``vda``) and the
    serial console written to ``serial_log`` (a file on the node)."""
    uuid_xml = f"<uuid>{escape(uuid)}</uuid>" if uuid else ""
    return f"""<domain type='qemu'>
  <name>{escape(name)}</name>{uuid_xml}
  <memory unit='MiB'>{memory_mib}</memory>
  <vcpu>{vcpus}</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{escape(str(image.kernel))}</kernel>
    <initrd>{escape(str(image.initrd))}</initrd>
    <cmdline>{escape(image.cmdline)}</cmdline>
  </os>
  <features><acpi/></features>
  <cpu mode='custom' match='exact' check='none'><model fallback='allow'>qemu64</model></cpu>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none'/>
      <source file='{escape(disk)}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='file'>
      <source path='{escape(serial_log)}'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
"""
