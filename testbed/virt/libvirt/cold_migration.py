"""The libvirt driver's cold migration (resize, migrate), with the libvirt API only.

Nova's ``migrate_disk_and_power_off`` / ``finish_migration``: the source stops the guest
and, unless the destination shares its instances directory (detected with a probe file,
as Nova does), copies its local disks there through the backend (``copy_disk``); the
destination defines the guest with the new flavor and starts it (unless it was stopped).
Confirm removes the source's guest (and its disks when they are not shared); revert
removes the destination's and starts the source's again.
"""

from __future__ import annotations

import uuid as uuidlib
from typing import TYPE_CHECKING, Any

from testbed.virt.driver import ComputeDriver, HypervisorError, driver_call
from testbed.virt.libvirt.guest_xml import GuestConfig, guest_xml
from testbed.virt.libvirt.migration_errors import ResizeError

if TYPE_CHECKING:
    from testbed.virt.backend import VirtBackend

__all__ = ["LibvirtColdMigrationMixin"]


class LibvirtColdMigrationMixin(ComputeDriver):
    """Cold migration for :class:`~testbed.virt.libvirt.driver.LibvirtDriver` (and the
    helpers the live half shares: shared-storage detection, defining and removing guests).

    The driver provides the connection and helpers declared below.
    """

    libvirt: Any
    backend: VirtBackend

    # -- provided by the driver --------------------------------------------------------------
    @property
    def conn(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def host_cpu_info(self) -> dict[str, Any]:  # pragma: no cover - overridden
        raise NotImplementedError

    def _domain(self, instance: dict[str, Any]) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def _error(self, exc: Exception) -> HypervisorError:  # pragma: no cover - overridden
        raise NotImplementedError

    def _wait_for_boot(self, instance: dict[str, Any]) -> None:  # pragma: no cover
        raise NotImplementedError

    def _instance_dir(self, instance: dict[str, Any]) -> str:  # pragma: no cover
        raise NotImplementedError

    def _guest_config(
        self,
        instance: dict[str, Any],
        image: dict[str, Any] | None,
        network_info: list[dict[str, Any]],
        block_device_info: dict[str, Any],
    ) -> GuestConfig:  # pragma: no cover - overridden
        raise NotImplementedError

    def _disk_size(self, instance: dict[str, Any], disk: Any) -> int:  # pragma: no cover
        raise NotImplementedError

    # -- shared storage -------------------------------------------------------------------
    def _local_disks(
        self, instance: dict[str, Any], block_device_info: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        """The instance's local (non-volume) disks: path, target device, size in GiB."""
        config = self._guest_config(instance, None, [], block_device_info or {})
        return [
            {"path": d.path, "target": d.target, "size_gb": self._disk_size(instance, d)}
            for d in config.disks
            if d.serial is None
        ]

    def _probe_path(self, name: str) -> str:
        return f"{self.backend.instances_path.rstrip('/')}/{name}"

    def shares_instances_path_with(self, other_host: str) -> bool:
        """Whether ``other_host`` sees this host's instances directory: a probe file
        created here and looked for there (Nova's ``_is_storage_shared_with``)."""
        if other_host == self.host:
            return True
        probe = self._probe_path(f".testbed-probe-{uuidlib.uuid4().hex}")
        self.backend.create_disk(self.host, probe, 0)
        try:
            return bool(self.backend.disk_exists(other_host, probe))
        finally:
            self.backend.delete_disk(self.host, probe)

    # -- cold migration ---------------------------------------------------------------------
    @driver_call
    def migrate_disk_and_power_off(
        self,
        instance: dict[str, Any],
        dest: str,
        flavor: dict[str, Any],
        block_device_info: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Source side: refuse to shrink the root disk, stop the guest, copy its local
        disks to ``dest`` unless the instances directory is shared.  Returns the disk
        info ``finish_migration`` needs: ``{shared_storage, copied: [paths]}``."""
        old = instance.get("flavor") or {}
        volume_root = any(
            m.get("boot_index") == 0
            for m in (block_device_info or {}).get("block_device_mapping") or []
        )
        if not volume_root and int(flavor.get("root_gb") or 0) < int(old.get("root_gb") or 0):
            raise ResizeError(reason="Unable to resize disk down.")
        shared = self.shares_instances_path_with(dest)
        self._power_off_for_move(instance)
        copied: list[str] = []
        if not shared:
            for disk in self._local_disks(instance, block_device_info):
                if self.backend.disk_exists(self.host, disk["path"]):
                    self.backend.copy_disk(self.host, dest, disk["path"])
                    copied.append(disk["path"])
        return {"shared_storage": shared, "copied": copied}

    def _power_off_for_move(self, instance: dict[str, Any]) -> None:
        lv = self.libvirt
        dom = self._domain(instance)
        try:
            if dom.isActive():
                dom.shutdown()
                clock = self.runtime.clock
                for _ in range(int(self.runtime.config.shutdown_timeout)):
                    if not dom.isActive():
                        break
                    clock.sleep(1.0)
                if dom.isActive():
                    dom.destroy()
        except lv.libvirtError as exc:
            raise self._error(exc) from exc

    @driver_call
    def finish_migration(
        self,
        instance: dict[str, Any],
        disk_info: dict[str, Any],
        network_info: list[dict[str, Any]],
        block_device_info: dict[str, Any],
        power_on: bool = True,
    ) -> None:
        """Destination side: create the disks the new flavor adds, define the guest with
        the new flavor and start it (``power_on``)."""
        self._define_and_start(instance, network_info, block_device_info, power_on)

    @driver_call
    def confirm_migration(
        self, instance: dict[str, Any], migration: dict[str, Any], disk_info: dict[str, Any]
    ) -> None:
        """Source side, after confirm: undefine the source's guest and delete its disks
        (kept when the destination shares them; nothing to do on the same host)."""
        if migration.get("dest_compute") == self.host:
            return
        self._remove_guest(instance, delete_disks=not disk_info.get("shared_storage"))

    @driver_call
    def revert_migration_at_destination(
        self, instance: dict[str, Any], migration: dict[str, Any], disk_info: dict[str, Any]
    ) -> None:
        """Destination side of a revert: remove the new guest (its disks unless shared);
        on the same host only stop it (the source's definition comes back next)."""
        if migration.get("source_compute") == self.host:
            self._power_off_for_move(instance)
            return
        self._remove_guest(instance, delete_disks=not disk_info.get("shared_storage"))

    @driver_call
    def finish_revert_migration(
        self,
        instance: dict[str, Any],
        network_info: list[dict[str, Any]],
        block_device_info: dict[str, Any],
        power_on: bool = True,
    ) -> None:
        """Source side of a revert: define the guest with the old flavor again and start
        it (``power_on``)."""
        self._define_and_start(instance, network_info, block_device_info, power_on)

    def _define_and_start(
        self,
        instance: dict[str, Any],
        network_info: list[dict[str, Any]],
        block_device_info: dict[str, Any],
        power_on: bool,
    ) -> None:
        lv = self.libvirt
        config = self._guest_config(instance, None, network_info, block_device_info)
        for disk in config.disks:
            if disk.serial is None and not self.backend.disk_exists(self.host, disk.path):
                self.backend.create_disk(self.host, disk.path, self._disk_size(instance, disk))
        try:
            dom = self.conn.defineXML(guest_xml(config))
            if power_on and not dom.isActive():
                dom.createWithFlags(0)
        except lv.libvirtError as exc:
            raise self._error(exc) from exc
        if power_on:
            self._wait_for_boot(instance)

    def _remove_guest(self, instance: dict[str, Any], *, delete_disks: bool) -> None:
        lv = self.libvirt
        try:
            dom = self.conn.lookupByUUIDString(instance["uuid"])
        except lv.libvirtError:
            dom = None
        if dom is not None:
            try:
                if dom.isActive():
                    dom.destroy()
                dom.undefineFlags(lv.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
            except lv.libvirtError as exc:
                if exc.get_error_code() != lv.VIR_ERR_NO_DOMAIN:
                    raise self._error(exc) from exc
        if delete_disks:
            for disk in self._local_disks(instance, None):
                self.backend.delete_disk(self.host, disk["path"])

    # -- live migration: checks -------------------------------------------------------------
