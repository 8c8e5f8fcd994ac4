"""The libvirt driver: a :class:`ComputeDriver` over libvirt-python's API.

It calls the libvirt module of the backend (``runtime.virt.libvirt``: ``fakevirt`` or the
real ``libvirt``) on the URI of its host, with the calls Nova's libvirt driver makes:
``defineXML`` + ``createWithFlags`` to spawn, ``shutdown`` (then ``destroy``) to power off,
``suspend``/``resume`` to pause, ``managedSave`` to suspend, ``attachDeviceFlags`` for
volumes.  Disk files are created through the backend (``qemu-img`` on the host); the
guest's boot is awaited through the backend too (a simulated boot time, or the real
guest's heartbeat).  Nothing here knows which backend it runs on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar

from testbed.service import Runtime
from testbed.virt.driver import (
    CAPABILITIES,
    ComputeDriver,
    GuestNotFound,
    HypervisorError,
    InstanceInfo,
    driver_call,
)
from testbed.virt.libvirt.guest_xml import (
    GuestConfig,
    GuestDisk,
    disk_xml,
    domain_name,
    guest_xml,
)
from testbed.virt.libvirt.host import HostConnection
from testbed.virt.libvirt.migration import LibvirtMigrationMixin
from testbed.virt.libvirt.power import power_state_of

__all__ = ["LibvirtDriver"]

LOG = logging.getLogger(__name__)

#: Nova's [libvirt] wait_soft_reboot_seconds.
SOFT_REBOOT_SECONDS = 120


class LibvirtDriver(LibvirtMigrationMixin, ComputeDriver):
    """Compute driver for QEMU guests through libvirt (TCG: ``type='qemu'``)."""

    capabilities: ClassVar[dict[str, bool]] = {
        **dict.fromkeys(CAPABILITIES, False),
        "supports_pause": True,
        "supports_suspend": True,
        "supports_soft_reboot": True,
        "supports_volume_attach": True,
        "supports_evacuate": True,
        # migrations: testbed/virt/libvirt/migration.py
        "supports_cold_migration": True,
        "supports_live_migration": True,
        "supports_block_migration": True,
    }

    def __init__(self, runtime: Runtime, host: str) -> None:
        super().__init__(runtime, host)
        if runtime.virt is None:
            raise HypervisorError(reason="the runtime has no hypervisor backend (runtime.virt)")
        self.backend = runtime.virt
        self.libvirt = self.backend.libvirt
        self._host_connection = HostConnection(self.libvirt, lambda: self.backend.uri(host))

    # -- connection -----------------------------------------------------------------------
    @property
    def conn(self) -> Any:
        """The connection to this host's libvirtd, (re)opened when it is not alive (as
        Nova's ``Host.get_connection`` does after libvirtd restarts)."""
        try:
            return self._host_connection.get()
        except self.libvirt.libvirtError as exc:
            raise self._error(exc) from exc

    def host_cpu_info(self) -> dict[str, Any]:
        """The host CPU from its capabilities (arch, model, vendor, topology, features)."""
        try:
            return self._host_connection.cpu_info()
        except self.libvirt.libvirtError as exc:
            raise self._error(exc) from exc

    def _domain(self, instance: dict[str, Any]) -> Any:
        try:
            return self.conn.lookupByUUIDString(instance["uuid"])
        except self.libvirt.libvirtError as exc:
            if exc.get_error_code() == self.libvirt.VIR_ERR_NO_DOMAIN:
                raise GuestNotFound(instance_id=instance["uuid"]) from exc
            raise self._error(exc) from exc

    def _error(self, exc: Exception) -> HypervisorError:
        get = getattr(exc, "get_error_message", None)
        message = get() if callable(get) else None
        return HypervisorError(reason=message or str(exc))

    def _state(self, dom: Any) -> int:
        state: int = dom.state(0)[0]
        return state

    # -- host -----------------------------------------------------------------------------
    @driver_call
    def init_host(self) -> None:
        """Open the connection (keepalive where the library supports it)."""
        conn = self.conn
        try:
            conn.setKeepAlive(5, 3)
        except Exception as exc:  # no event loop registered: keepalive is optional
            LOG.debug("keepalive not enabled on %s: %s", self.host, exc)

    @driver_call
    def get_available_resource(self) -> dict[str, Any]:
        """Capacity from ``getInfo``/``getCapabilities``; local disk from the topology."""
        conn = self.conn
        info = conn.getInfo()
        cpu_info = self.host_cpu_info()
        try:
            local_gb = self.backend.host_spec(self.host).disk_gb
        except KeyError:
            local_gb = 0
        return {
            "vcpus": int(info[2]),
            "memory_mb": int(info[1]),
            "local_gb": int(local_gb),
            "cpu_info": cpu_info,
            "hypervisor_type": str(conn.getType()),
            "hypervisor_version": int(conn.getVersion()),
            "hypervisor_hostname": str(conn.getHostname()),
            "running_vms": int(conn.numOfDomains()),
        }

    @driver_call
    def list_instance_uuids(self) -> list[str]:
        """Every domain of the host (running or defined)."""
        return [str(d.UUIDString()) for d in self.conn.listAllDomains(0)]

    # -- HA (lifecycle events: testbed/virt/libvirt/lifecycle.py) --------------------------
    def register_lifecycle_handler(self, handler: Callable[[str, int], None]) -> None:
        """``domainEventRegisterAny`` LIFECYCLE on this host's connection."""
        from testbed.virt.libvirt.lifecycle import LifecycleEvents

        self.unregister_lifecycle_handler()
        events = LifecycleEvents(self.runtime, self.libvirt, handler)
        events.register(self.conn)
        self._lifecycle: LifecycleEvents | None = events

    def unregister_lifecycle_handler(self) -> None:
        """Deregister the lifecycle callback."""
        events = getattr(self, "_lifecycle", None)
        if events is not None:
            events.unregister()
            self._lifecycle = None

    def instance_on_disk(self, instance: dict[str, Any]) -> bool:
        """The root disk (``<instances_path>/<uuid>/disk``) exists on this host."""
        return bool(self.backend.disk_exists(self.host, self._local_disk_paths(instance)[0]))

    # -- lifecycle ------------------------------------------------------------------------
    @driver_call
    def spawn(
        self,
        instance: dict[str, Any],
        image: dict[str, Any] | None,
        network_info: list[dict[str, Any]],
        block_device_info: dict[str, Any],
        *,
        reuse_disks: bool = False,
    ) -> None:
        """Create the disks, define the domain, start it and wait for the boot
        (``reuse_disks``: keep local disks that exist already, as an evacuation on shared
        storage does)."""
        config = self._guest_config(instance, image, network_info, block_device_info)
        created: list[str] = []
        dom = None
        try:
            for disk in config.disks:
                if reuse_disks and self.backend.disk_exists(self.host, disk.path):
                    continue
                if disk.serial is None:  # a local disk, not a volume
                    self.backend.create_disk(
                        self.host, disk.path, self._disk_size(instance, disk), image=image
                    )
                    created.append(disk.path)
            dom = self.conn.defineXML(guest_xml(config))
            dom.createWithFlags(0)
        except Exception as exc:
            self._undo_spawn(dom, created)
            if isinstance(exc, self.libvirt.libvirtError):
                raise self._error(exc) from exc
            raise
        self.backend.wait_for_boot(self.host, config.name, config.serial_log)

    def _undo_spawn(self, dom: Any, disks: list[str]) -> None:
        try:
            if dom is not None:
                if dom.isActive():
                    dom.destroy()
                dom.undefineFlags(self.libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
        except Exception as exc:
            LOG.warning("cleaning up a failed spawn on %s: %s", self.host, exc)
        for path in disks:
            self.backend.delete_disk(self.host, path)

    @driver_call
    def destroy(
        self,
        instance: dict[str, Any],
        network_info: list[dict[str, Any]],
        block_device_info: dict[str, Any] | None = None,
        destroy_disks: bool = True,
    ) -> None:
        """Pull the plug, undefine, and delete the instance's local disks."""
        try:
            dom = self._domain(instance)
        except GuestNotFound:
            dom = None
        if dom is not None:
            lv = self.libvirt
            try:
                if dom.isActive():
                    try:
                        dom.destroy()
                    except lv.libvirtError as exc:
                        # The guest stopped between isActive() and destroy(): fine when it
                        # is now shut off (Nova's driver tolerates this too).
                        if exc.get_error_code() != lv.VIR_ERR_OPERATION_INVALID or (dom.isActive()):
                            raise
                dom.undefineFlags(lv.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
            except lv.libvirtError as exc:
                if exc.get_error_code() != lv.VIR_ERR_NO_DOMAIN:
                    raise self._error(exc) from exc
        if destroy_disks:
            for path in self._local_disk_paths(instance):
                self.backend.delete_disk(self.host, path)

    @driver_call
    def power_off(self, instance: dict[str, Any], clean_shutdown: bool = True) -> None:
        """ACPI shutdown (re-sent every ``shutdown_retry_interval``, for at most
        ``shutdown_timeout`` seconds), then destroy."""
        dom = self._domain(instance)
        try:
            running = self._state(dom) == self.libvirt.VIR_DOMAIN_RUNNING
            if clean_shutdown and running and self._clean_shutdown(dom):
                return
            if dom.isActive():
                dom.destroy()
        except self.libvirt.libvirtError as exc:
            raise self._error(exc) from exc

    def _clean_shutdown(self, dom: Any) -> bool:
        """True when the guest shut itself down in time."""
        config = self.runtime.config
        clock = self.runtime.clock
        retry = max(int(config.shutdown_retry_interval), 1)
        dom.shutdown()
        for waited in range(int(config.shutdown_timeout) + 1):
            if waited:
                clock.sleep(1.0)
                if waited % retry == 0 and dom.isActive():
                    dom.shutdown()
            if not dom.isActive():
                return True
        return False

    @driver_call
    def power_on(
        self,
        instance: dict[str, Any],
        network_info: list[dict[str, Any]],
        block_device_info: dict[str, Any] | None = None,
    ) -> None:
        """Start the defined domain and wait for it to boot."""
        dom = self._domain(instance)
        try:
            if not dom.isActive():
                dom.createWithFlags(0)
        except self.libvirt.libvirtError as exc:
            raise self._error(exc) from exc
        self._wait_for_boot(instance)

    @driver_call
    def reboot(
        self,
        instance: dict[str, Any],
        network_info: list[dict[str, Any]],
        reboot_type: str,
        block_device_info: dict[str, Any] | None = None,
    ) -> None:
        """SOFT: shutdown and start again (hard when the guest ignores it); HARD: destroy
        and start from the definition."""
        dom = self._domain(instance)
        try:
            if reboot_type.upper() != "HARD" and self._soft_reboot(dom):
                self._wait_for_boot(instance)
                return
            if dom.isActive():
                dom.destroy()
            dom.createWithFlags(0)
        except self.libvirt.libvirtError as exc:
            raise self._error(exc) from exc
        self._wait_for_boot(instance)

    def _soft_reboot(self, dom: Any) -> bool:
        """Nova's soft reboot: ask for shutdown, start again once off."""
        if self._state(dom) != self.libvirt.VIR_DOMAIN_RUNNING:
            return False
        dom.shutdown()
        for _ in range(SOFT_REBOOT_SECONDS):
            if not dom.isActive():
                dom.createWithFlags(0)
                return True
            self.runtime.clock.sleep(1.0)
        return False

    @driver_call
    def pause(self, instance: dict[str, Any]) -> None:
        """``virDomainSuspend``: vCPUs stop, memory stays."""
        self._call(instance, "suspend")

    @driver_call
    def unpause(self, instance: dict[str, Any]) -> None:
        """``virDomainResume``."""
        self._call(instance, "resume")

    @driver_call
    def suspend(self, instance: dict[str, Any]) -> None:
        """``virDomainManagedSave``: memory saved to disk, domain shut off."""
        self._call(instance, "managedSave", 0)

    @driver_call
    def resume(
        self,
        instance: dict[str, Any],
        network_info: list[dict[str, Any]],
        block_device_info: dict[str, Any] | None = None,
    ) -> None:
        """Start from the managed save image."""
        self._call(instance, "createWithFlags", 0)

    def _call(self, instance: dict[str, Any], method: str, *args: Any) -> None:
        dom = self._domain(instance)
        try:
            getattr(dom, method)(*args)
        except self.libvirt.libvirtError as exc:
            raise self._error(exc) from exc

    @driver_call
    def get_info(self, instance: dict[str, Any]) -> InstanceInfo:
        """The power state from ``virDomainGetState``."""
        dom = self._domain(instance)
        try:
            return InstanceInfo(state=power_state_of(self.libvirt, self._state(dom)))
        except self.libvirt.libvirtError as exc:
            if exc.get_error_code() == self.libvirt.VIR_ERR_NO_DOMAIN:
                raise GuestNotFound(instance_id=instance["uuid"]) from exc
            raise self._error(exc) from exc

    # -- volumes --------------------------------------------------------------------------
    @driver_call
    def attach_volume(
        self, connection_info: dict[str, Any], instance: dict[str, Any], mountpoint: str
    ) -> None:
        """``attachDeviceFlags`` on the config (and the live domain when running)."""
        self._device(instance, connection_info, mountpoint, "attachDeviceFlags")

    @driver_call
    def detach_volume(
        self, connection_info: dict[str, Any], instance: dict[str, Any], mountpoint: str
    ) -> None:
        """``detachDeviceFlags`` from the config (and the live domain when running)."""
        self._device(instance, connection_info, mountpoint, "detachDeviceFlags")

    def _device(
        self, instance: dict[str, Any], connection_info: dict[str, Any], mountpoint: str, op: str
    ) -> None:
        dom = self._domain(instance)
        disk = _volume_disk(connection_info, mountpoint)
        lv = self.libvirt
        try:
            flags = lv.VIR_DOMAIN_AFFECT_CONFIG
            if dom.isActive():
                flags |= lv.VIR_DOMAIN_AFFECT_LIVE
            getattr(dom, op)(disk_xml(disk), flags)
        except lv.libvirtError as exc:
            raise self._error(exc) from exc

    # -- helpers --------------------------------------------------------------------------
    def _wait_for_boot(self, instance: dict[str, Any]) -> None:
        name = domain_name(instance["uuid"])
        self.backend.wait_for_boot(self.host, name, self._serial_log(instance))

    def _instance_dir(self, instance: dict[str, Any]) -> str:
        return f"{self.backend.instances_path.rstrip('/')}/{instance['uuid']}"

    def _serial_log(self, instance: dict[str, Any]) -> str:
        return f"{self.backend.serial_dir.rstrip('/')}/{instance['uuid']}.log"

    def _local_disk_paths(self, instance: dict[str, Any]) -> list[str]:
        base = self._instance_dir(instance)
        return [f"{base}/disk", f"{base}/disk.eph0", f"{base}/disk.swap"]

    @staticmethod
    def _disk_size(instance: dict[str, Any], disk: GuestDisk) -> int:
        flavor = instance.get("flavor") or {}
        if disk.path.endswith("/disk.eph0"):
            return int(flavor.get("ephemeral_gb") or 0)
        if disk.path.endswith("/disk.swap"):
            return max(1, -(-int(flavor.get("swap") or 0) // 1024))
        return max(int(flavor.get("root_gb") or 0), 1)

    def _guest_config(
        self,
        instance: dict[str, Any],
        image: dict[str, Any] | None,
        network_info: list[dict[str, Any]],
        block_device_info: dict[str, Any],
    ) -> GuestConfig:
        flavor = instance.get("flavor") or {}
        volumes = [m for m in block_device_info.get("block_device_mapping") or [] if m]
        root_volume = next((m for m in volumes if m.get("boot_index") == 0), None)
        base = self._instance_dir(instance)
        disks: list[GuestDisk] = []
        if root_volume is None:
            disks.append(GuestDisk(f"{base}/disk", "vda"))
        if int(flavor.get("ephemeral_gb") or 0):
            disks.append(GuestDisk(f"{base}/disk.eph0", "vdb"))
        if int(flavor.get("swap") or 0):
            disks.append(GuestDisk(f"{base}/disk.swap", "vdc"))
        for mapping in volumes:
            disks.append(_volume_disk(mapping["connection_info"], mapping.get("mount_device")))
        return GuestConfig(
            name=domain_name(instance["uuid"]),
            uuid=instance["uuid"],
            memory_mb=int(flavor.get("memory_mb", flavor.get("ram", 512))),
            vcpus=int(flavor.get("vcpus", 1)),
            boot=self.backend.guest_boot(),
            serial_log=self._serial_log(instance),
            disks=disks,
            vifs=list(network_info or []),
            metadata={
                "display_name": instance.get("display_name", ""),
                "creation_time": instance.get("created_at", ""),
                "flavor": flavor,
                "user_id": instance.get("user_id", ""),
                "project_id": instance.get("project_id", ""),
                "image_ref": (image or {}).get("id") or instance.get("image_ref"),
            },
        )


def _volume_disk(connection_info: dict[str, Any], mountpoint: str | None) -> GuestDisk:
    data = connection_info.get("data") or {}
    path = data.get("device_path") or data.get("path")
    if not path:
        raise HypervisorError(reason=f"volume connection_info has no device_path: {data}")
    target = (mountpoint or "/dev/vdb").rsplit("/", 1)[-1]
    return GuestDisk(
        str(path), target, driver_type="raw", serial=str(data.get("volume_id") or target)
    )
