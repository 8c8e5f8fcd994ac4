"""The hypervisor backend: which libvirt module the compute hosts use, and their storage.

A :class:`VirtBackend` is the one object that knows whether the cloud runs on
``fakevirt`` or on real libvirt + QEMU nodes.  The libvirt driver asks it for the libvirt
module and the URI of its host, and for what only the host itself could do (create a
disk file: the equivalent of ``qemu-img`` on the host).  The volume service asks it for
volume files, which live on storage every host mounts.

Keep this protocol small: anything the libvirt API can express goes through the libvirt
API, so the same driver runs unchanged on both backends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["GuestBoot", "HostSpec", "VirtBackend", "host_spec_from_dict"]


@dataclass(frozen=True)
class HostSpec:
    """A compute host of the topology."""

    name: str
    vcpus: int
    memory_mb: int
    disk_gb: int
    cpu_model: str = "qemu64"
    shared_storage: str | None = None
    availability_zone: str = "nova"


def host_spec_from_dict(spec: dict[str, Any]) -> HostSpec:
    """A :class:`HostSpec` from a topology ``hosts:`` entry (unknown keys are ignored)."""
    return HostSpec(
        name=str(spec["name"]),
        vcpus=int(spec.get("vcpus", 8)),
        memory_mb=int(spec.get("memory_mb", 16384)),
        disk_gb=int(spec.get("disk_gb", 200)),
        cpu_model=str(spec.get("cpu_model") or "qemu64"),
        shared_storage=spec.get("shared_storage") or None,
        availability_zone=str(spec.get("availability_zone") or "nova"),
    )


@dataclass(frozen=True)
class GuestBoot:
    """How guests boot on this backend: direct kernel boot (``kernel`` set) or from the
    root disk (``kernel`` None)."""

    kernel: str | None = None
    initrd: str | None = None
    cmdline: str | None = None


class VirtBackend(Protocol):
    """What the control plane needs from a hypervisor backend."""

    #: ``"fake"`` or ``"qemu"``.
    name: str
    #: The libvirt module (``fakevirt`` or ``libvirt``).
    libvirt: Any
    #: Where each host keeps its instances' files (Nova's ``instances_path``).
    instances_path: str
    #: A host-local directory for the guests' serial console logs.
    serial_dir: str

    def uri(self, host: str) -> str:
        """The libvirt URI of a compute host (``fake://h1/system``, ``qemu+tcp://...``)."""

    def add_host(self, spec: dict[str, Any]) -> None:
        """Bring up a compute host of the topology (name, vcpus, memory_mb, disk_gb,
        cpu_model, shared_storage, availability_zone)."""

    def host_spec(self, host: str) -> HostSpec:
        """The topology's description of a host; ``KeyError`` if unknown."""

    def hosts(self) -> list[str]:
        """Every host added so far."""

    def guest_boot(self) -> GuestBoot:
        """How guests boot (direct kernel or disk)."""

    # -- disks on a host ------------------------------------------------------------------
    def create_disk(
        self, host: str, path: str, size_gb: int, image: dict[str, Any] | None = None
    ) -> None:
        """Create a disk file on ``host`` (from ``image`` when given)."""

    def delete_disk(self, host: str, path: str) -> None:
        """Delete a disk file (and its instance directory when empty); missing is fine."""

    def disk_exists(self, host: str, path: str) -> bool:
        """Whether ``path`` exists on ``host`` (seen through shared storage too)."""

    def copy_disk(self, src_host: str, dst_host: str, path: str) -> None:
        """Copy a disk file between hosts (cold migration without shared storage)."""

    # -- volumes (storage mounted on every host) ------------------------------------------
    def create_volume(self, volume_id: str, size_gb: int) -> str:
        """Create a volume's file; returns its path (the same on every host)."""

    def delete_volume(self, volume_id: str) -> None:
        """Delete a volume's file; missing is fine."""

    # -- guests ---------------------------------------------------------------------------
    def wait_for_boot(self, host: str, domain_name: str, serial_log: str) -> None:
        """Block (on the clock) until a just-started guest has booted."""
