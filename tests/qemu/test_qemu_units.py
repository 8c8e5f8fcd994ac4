"""Unit tests of the pieces that need no Docker: cpio writer, recipes, XML, storage groups."""

from __future__ import annotations

import gzip
import stat
import xml.etree.ElementTree as ET
from pathlib import Path, PurePath

import pytest

from testbed.qemu.cpio import NewcWriter
from testbed.qemu.guest import GuestImage, domain_xml, module_load_order, recipe_digest
from testbed.qemu.image import NodeRecipe
from testbed.qemu.nodes import _storage_groups
from testbed.qemu.serial import heartbeats

# No Docker needed, but they belong to the real backend: they run in tox's qemu environment.
pytestmark = pytest.mark.qemu


def _parse_newc(data: bytes) -> list[tuple[str, int, bytes, tuple[int, int]]]:
    entries: list[tuple[str, int, bytes, tuple[int, int]]] = []
    pos = 0
    while True:
        assert data[pos : pos + 6] == b"070701"
        fields = [int(data[pos + 6 + 8 * i : pos + 14 + 8 * i], 16) for i in range(13)]
        mode, size, rmaj, rmin, namesize = fields[1], fields[6], fields[9], fields[10], fields[11]
        name_start = pos + 110
        name = data[name_start : name_start + namesize - 1].decode()
        body = name_start + namesize
        body += -body % 4
        payload = data[body : body + size]
        pos = body + size
        pos += -pos % 4
        if name == "TRAILER!!!":
            return entries
        entries.append((name, mode, payload, (rmaj, rmin)))


def test_newc_archive_round_trips() -> None:
    writer = NewcWriter()
    writer.add_dir("dev")
    writer.add_char_device("dev/console", 5, 1)
    writer.add_file("init", b"#!/bin/sh\necho hi\n", mode=0o755)
    writer.add_symlink("sh", "busybox")
    data = writer.finish()
    assert len(data) % 4 == 0
    entries = {name: (mode, payload, rdev) for name, mode, payload, rdev in _parse_newc(data)}
    assert stat.S_ISDIR(entries["dev"][0])
    assert stat.S_ISCHR(entries["dev/console"][0]) and entries["dev/console"][2] == (5, 1)
    assert entries["init"][1] == b"#!/bin/sh\necho hi\n"
    assert stat.S_IMODE(entries["init"][0]) == 0o755
    assert stat.S_ISLNK(entries["sh"][0]) and entries["sh"][1] == b"busybox"
    with pytest.raises(RuntimeError):
        writer.add_file("late", b"")


def test_recipes_hash_stably_and_change_with_contents() -> None:
    assert NodeRecipe().tag == NodeRecipe().tag
    assert NodeRecipe().tag.startswith("testbed-qemu-node:")
    assert NodeRecipe(packages=(*NodeRecipe().packages, "less")).tag != NodeRecipe().tag
    assert recipe_digest() == recipe_digest()


def test_module_load_order_puts_dependencies_first(tmp_path: Path) -> None:
    mods = tmp_path / "lib/modules/6.1.0-test/kernel/drivers"
    mods.mkdir(parents=True)
    for name, deps in {
        "virtio": "virtio_ring",
        "virtio_ring": "",
        "virtio_blk": "virtio,virtio_ring",
    }.items():
        (mods / f"{name}.ko").write_bytes(
            b"\x7fELF\0license=GPL\0depends=" + deps.encode() + b"\0intree=Y\0"
        )
    order = [name for name, _ in module_load_order(tmp_path, ["virtio_blk", "virtio_pci"])]
    assert order == ["virtio_ring", "virtio", "virtio_blk"]  # virtio_pci: built in


def test_domain_xml_is_tcg_direct_kernel_boot() -> None:
    image = GuestImage(
        Path("/c"), Path("/c/vmlinuz"), Path("/c/initrd.gz"), Path("/c/root.qcow2")
    ).on_node("/opt/testbed/guest")
    root = ET.fromstring(
        domain_xml(
            "g<1>",
            image,
            "/var/lib/testbed/instances/g/disk.qcow2",
            "/var/log/testbed/g.serial",
            memory_mib=96,
        )
    )
    assert root.get("type") == "qemu"
    assert root.findtext("name") == "g<1>"
    assert root.findtext("os/kernel") == "/opt/testbed/guest/vmlinuz"
    assert root.findtext("os/initrd") == "/opt/testbed/guest/initrd.gz"
    assert "console=ttyS0" in (root.findtext("os/cmdline") or "")
    serial = root.find("devices/serial/source")
    assert serial is not None and serial.get("path") == "/var/log/testbed/g.serial"
    assert root.findtext("memory") == "96"
    assert PurePath(image.root_qcow2) == PurePath("/opt/testbed/guest/root.qcow2")


def test_storage_groups() -> None:
    names = ["a", "b", "c"]
    assert set(_storage_groups(names, True).values()) == {"shared"}
    assert _storage_groups(names, False) == {"a": "a", "b": "b", "c": "c"}
    groups = _storage_groups(names, [["a", "b"]])
    assert groups["a"] == groups["b"] != groups["c"]
    with pytest.raises(ValueError):
        _storage_groups(names, [["a", "zzz"]])


def test_heartbeats_parses_serial_text() -> None:
    text = "[ 0.1] noise\ndisk-counter 2\nheartbeat 1\nheartbeat 2\r\nheartbeat 3"
    assert heartbeats(text) == [1, 2, 3]


def test_gzip_initrd_is_deterministic() -> None:
    writer = NewcWriter()
    writer.add_file("init", b"x")
    data = writer.finish()
    assert gzip.compress(data, mtime=0) == gzip.compress(data, mtime=0)


def test_importing_testbed_qemu_is_lazy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, testbed.qemu; "
        "assert 'docker' not in sys.modules and 'libvirt' not in sys.modules, "
        "sorted(m for m in sys.modules if m.split('.')[0] in ('docker', 'libvirt'))"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)
