"""The fake backend: compute hosts in a ``fakevirt`` world of their own.

Each :class:`FakeBackend` owns a fresh :class:`fakevirt.world.World`, so every cloud (and
every test) is isolated from the others; under pytest-xdist each worker process has its
own worlds anyway.  The world runs on the cloud's clock (:meth:`FakeBackend.attach`), so
the simulated durations fakevirt knows (a slow operation, a migration) and the boot time
this backend adds (``Config.boot_seconds``) are virtual time.

Storage, as on the real nodes: ``/var/lib/testbed/instances`` on each host (shared by the
hosts of a ``shared_storage`` group), ``/var/lib/testbed/volumes`` shared by every host.
"""

from __future__ import annotations

import posixpath
from typing import Any

from fakevirt import storage
from fakevirt.binding import LibvirtModule
from fakevirt.faults import KINDS, Fault
from fakevirt.world import World
from testbed.exceptions import BadRequest
from testbed.service import Runtime
from testbed.virt.backend import GuestBoot, HostSpec, host_spec_from_dict

__all__ = ["INSTANCES_PATH", "SERIAL_DIR", "VOLUMES_PATH", "FakeBackend"]

INSTANCES_PATH = "/var/lib/testbed/instances"
VOLUMES_PATH = "/var/lib/testbed/volumes"
SERIAL_DIR = "/var/log/testbed"
_VOLUME_STORAGE = "volumes"
_GIB = 1024**3


class FakeBackend:
    """A :class:`~testbed.virt.backend.VirtBackend` over a private fakevirt world."""

    name = "fake"
    instances_path = INSTANCES_PATH
    serial_dir = SERIAL_DIR

    def __init__(self) -> None:
        self.world = World()
        self.libvirt: LibvirtModule = self.world.libvirt_module()
        self._specs: dict[str, HostSpec] = {}
        self._runtime: Runtime | None = None
        self.world.add_shared_storage(_VOLUME_STORAGE, VOLUMES_PATH, [])

    def attach(self, runtime: Runtime) -> None:
        """Run the world on the cloud's clock and take the boot time from its config."""
        self._runtime = runtime
        self.world.clock = runtime.clock

    # -- hosts ----------------------------------------------------------------------------
    def add_host(self, spec: dict[str, Any]) -> None:
        """A fake QEMU host with the topology's capacity, mounting the shared storage."""
        host = host_spec_from_dict(spec)
        self.world.add_host(
            host.name,
            vcpus=host.vcpus,
            memory_mb=host.memory_mb,
            disk_gb=host.disk_gb,
            cpu_model=host.cpu_model,
        )
        self.world.mount(_VOLUME_STORAGE, host.name)
        if host.shared_storage:
            if host.shared_storage not in self.world.storages:
                self.world.add_shared_storage(host.shared_storage, INSTANCES_PATH, [])
            self.world.mount(host.shared_storage, host.name)
        self._specs[host.name] = host

    def uri(self, host: str) -> str:
        """``fake://<host>/system``."""
        return f"fake://{host}/system"

    def host_spec(self, host: str) -> HostSpec:
        """The topology's entry for ``host``."""
        return self._specs[host]

    def hosts(self) -> list[str]:
        """Every host added."""
        return list(self._specs)

    def guest_boot(self) -> GuestBoot:
        """Fake guests boot from their root disk."""
        return GuestBoot()

    # -- disks ----------------------------------------------------------------------------
    def create_disk(
        self, host: str, path: str, size_gb: int, image: dict[str, Any] | None = None
    ) -> None:
        """A file of ``size_gb`` (at least the image's size) on the host."""
        size = max(int(size_gb) * _GIB, int((image or {}).get("size") or 0))
        storage.create_image(host, path, size, world=self.world)

    def delete_disk(self, host: str, path: str) -> None:
        """Remove the file if it exists."""
        storage.delete(host, path, world=self.world)

    def disk_exists(self, host: str, path: str) -> bool:
        """Whether the host sees the file (locally or on shared storage)."""
        return storage.exists(host, path, world=self.world)

    def copy_disk(self, src_host: str, dst_host: str, path: str) -> None:
        """Copy the file to the same path on another host."""
        storage.copy(src_host, path, dst_host, path, world=self.world)

    # -- volumes --------------------------------------------------------------------------
    def _volume_path(self, volume_id: str) -> str:
        return posixpath.join(VOLUMES_PATH, f"volume-{volume_id}")

    def create_volume(self, volume_id: str, size_gb: int) -> str:
        """A file on the storage every host mounts."""
        path = self._volume_path(volume_id)
        with self.world.lock:
            storage = self.world.storages[_VOLUME_STORAGE]
            storage.files[posixpath.relpath(path, VOLUMES_PATH)] = int(size_gb) * _GIB
        return path

    def delete_volume(self, volume_id: str) -> None:
        """Remove the volume's file."""
        path = self._volume_path(volume_id)
        with self.world.lock:
            storage = self.world.storages[_VOLUME_STORAGE]
            storage.files.pop(posixpath.relpath(path, VOLUMES_PATH), None)

    # -- guests ---------------------------------------------------------------------------
    def wait_for_boot(self, host: str, domain_name: str, serial_log: str) -> None:
        """``Config.boot_seconds`` of clock time."""
        if self._runtime is not None:
            self._runtime.clock.sleep(self._runtime.config.boot_seconds)

    # -- host failures and faults (the control API) -----------------------------------------
    def crash_host(self, host: str) -> None:
        """The hypervisor dies with its guests."""
        self.world.inject(Fault(kind="host_crash", host=host))

    def recover_host(self, host: str) -> None:
        """The hypervisor is back (its guests are not)."""
        self.world.inject(Fault(kind="host_recover", host=host))

    def fault_kinds(self) -> dict[str, str]:
        """The hypervisor faults that can be injected, with their parameters."""
        return dict(KINDS)

    def inject_fault(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Inject a fakevirt fault (its dict form); returns it with its id."""
        try:
            handle = self.world.inject(dict(spec))
        except (TypeError, ValueError, KeyError) as exc:
            raise BadRequest(f"bad hypervisor fault: {exc}") from exc
        return handle.to_dict()

    def list_faults(self) -> list[dict[str, Any]]:
        """The hypervisor faults in force."""
        return [f.to_dict() for f in self.world.active_faults()]

    def clear_faults(self, fault_id: str | int | None = None) -> None:
        """Clear one fault (by id) or all of them."""
        if fault_id is None:
            self.world.clear_faults()
        else:
            self.world.clear_fault(int(fault_id))
