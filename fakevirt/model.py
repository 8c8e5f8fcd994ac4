"""Plain state objects of a fakevirt world: hosts, shared storage, domain records, events.

Nothing here talks to callers; :mod:`fakevirt.world` owns the lock and the behaviour.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fakevirt import constants as C
from fakevirt.domxml import DomainSpec

if TYPE_CHECKING:
    from fakevirt.connection import virConnect
    from fakevirt.jobs import MigrationJob

TEST_URI = "test:///default"
PORT = 16509


@dataclass
class SharedStorage:
    """A filesystem or volume mounted at ``mount_path`` on several hosts.

    A file under ``mount_path`` is the same file on every host that mounts it. ``fs`` is what
    libvirt 9 would make of the filesystem when checking migration safety: ``"local"`` (the
    default: a Docker volume or any filesystem shared behind libvirt's back, file disks on it
    need ``VIR_MIGRATE_UNSAFE``), ``"nfs"`` (a shared filesystem libvirt knows: file disks
    need cache='none' or 'directsync', or readonly/shareable) or ``"cluster"`` (GFS2, Ceph,
    ...: always safe).
    """

    name: str
    mount_path: str
    hosts: set[str] = field(default_factory=set)
    fs: str = "local"
    files: dict[str, int] = field(default_factory=dict)


@dataclass
class DomainRecord:
    """One domain on one host: its live and persistent definitions and its run state."""

    spec: DomainSpec
    config: DomainSpec | None
    state: int = C.VIR_DOMAIN_SHUTOFF
    reason: int = C.VIR_DOMAIN_SHUTOFF_UNKNOWN
    id: int = -1
    managed_save: bool = False
    started_at: float = 0.0
    cpu_ns: int = 0
    job: MigrationJob | None = None
    completed_job: dict[str, Any] | None = None
    max_downtime_ms: int = 300
    incoming: bool = False
    shutdown_due: float | None = None

    @property
    def active(self) -> bool:
        """True while the domain has a running (or paused) process."""
        return self.id >= 0

    @property
    def persistent(self) -> bool:
        """True when the domain has a persistent configuration."""
        return self.config is not None


@dataclass
class Host:
    """A compute host: capacity, identity, a file namespace and its domains."""

    hostname: str
    uri: str
    flavour: str = "qemu"
    vcpus: int = 8
    memory_kib: int = 16 * 1024 * 1024
    disk_bytes: int = 100 * 1024**3
    cpu_model: str = "Skylake-Client-IBRS"
    cpu_vendor: str = "Intel"
    host_uuid: str = ""
    arch: str = "x86_64"
    mhz: int = 2400
    kvm: bool = False
    shutdown_seconds: float | None = None
    status: str = "up"
    domains: dict[str, DomainRecord] = field(default_factory=dict)
    next_id: int = 1
    files: dict[str, int] = field(default_factory=dict)
    mounts: dict[str, SharedStorage] = field(default_factory=dict)
    conns: list[virConnect] = field(default_factory=list)

    def by_name(self, name: str) -> DomainRecord | None:
        """The domain with that name, or None."""
        for rec in self.domains.values():
            if rec.spec.name == name:
                return rec
        return None

    def by_id(self, dom_id: int) -> DomainRecord | None:
        """The running domain with that id, or None."""
        for rec in self.domains.values():
            if rec.id == dom_id and dom_id >= 0:
                return rec
        return None

    # ---- the host's file namespace ---------------------------------------------------
    def _where(self, path: str) -> tuple[dict[str, int], str, SharedStorage | None]:
        path = posixpath.normpath(path)
        for mount, store in self.mounts.items():
            if path == mount:
                return store.files, ".", store
            if mount == "/":
                return store.files, path.lstrip("/") or ".", store
            if path.startswith(mount) and path[len(mount)] == "/":
                return store.files, path[len(mount) + 1 :], store
        return self.files, path, None

    def shared_storage_of(self, path: str) -> SharedStorage | None:
        """The shared storage holding path on this host, or None for a host-local path."""
        return self._where(path)[2]

    def create_file(self, path: str, size: int = 0) -> None:
        """Create (or truncate to ``size``) the file at path, as seen from this host."""
        files, key, _ = self._where(path)
        files[key] = int(size)

    def delete_file(self, path: str) -> bool:
        """Delete the file at path; True when it existed."""
        files, key, _ = self._where(path)
        return files.pop(key, None) is not None

    def file_exists(self, path: str) -> bool:
        """True when path exists as seen from this host."""
        files, key, _ = self._where(path)
        return key in files

    def file_size(self, path: str) -> int | None:
        """The size of the file at path, or None when it does not exist."""
        files, key, _ = self._where(path)
        return files.get(key)

    def list_files(self) -> list[str]:
        """Every file visible on this host (local and on its mounts), as absolute paths."""
        out = list(self.files)
        for mount, store in self.mounts.items():
            out += [posixpath.join(mount, rel) for rel in store.files]
        return sorted(out)


@dataclass
class Registration:
    """A domain event callback registered on a connection."""

    cb_id: int
    dom_uuid: str | None
    event_id: int
    cb: Callable[..., Any]
    opaque: Any


@dataclass
class Delivery:
    """A callback invocation waiting for the event loop (or run at once)."""

    due: float
    call: Callable[[], None]
