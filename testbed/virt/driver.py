"""The hypervisor seam of a compute host: :class:`ComputeDriver`.

The compute manager only ever talks to a driver; the driver talks to the hypervisor.  The
vocabulary, as in Nova's ``nova/virt/driver.py``:

- an *instance* is the control plane's record of a server (here a plain dict of the
  ``instances`` row: ``uuid``, ``display_name``, ``flavor`` {vcpus, memory_mb, root_gb,
  ephemeral_gb, swap}, ``image_ref``, ``project_id``, ...);
- a *guest* (or *domain*, in libvirt's words) is what runs on the hypervisor for it;
- ``network_info`` is the list of VIFs the network service allocated
  (``{port_id, network_id, mac_address, fixed_ips, ...}``);
- ``block_device_info`` describes the disks: ``{root_device_name, block_device_mapping:
  [{connection_info, mount_device, boot_index, delete_on_termination}], ephemerals: [],
  swap: None}``; a volume's ``connection_info`` is what the volume service handed out
  (``{driver_volume_type: "file", data: {device_path}}``);
- the *power state* (:class:`testbed.compute.states.power_state`) is what the hypervisor
  reports; the manager writes it to the instance, never the other way round.

Every driver call is recorded as a ``driver`` trace event from ``compute:<host>`` to
``hypervisor:<host>`` (see :func:`driver_call`).  ``capabilities`` says what a driver
supports; the compute manager and the API consult it instead of guessing.
"""

from __future__ import annotations

import functools
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar, cast

from testbed.exceptions import CloudError, NotFound
from testbed.service import Runtime

__all__ = [
    "CAPABILITIES",
    "ComputeDriver",
    "GuestNotFound",
    "HypervisorError",
    "InstanceInfo",
    "driver_call",
]

#: Every capability a driver declares (Nova's names where Nova has them).
CAPABILITIES: tuple[str, ...] = (
    "has_imagecache",
    "supports_evacuate",
    "supports_migrate_to_same_host",
    "supports_attach_interface",
    "supports_device_tagging",
    "supports_multiattach",
    "supports_pause",
    "supports_suspend",
    "supports_soft_reboot",
    "supports_volume_attach",
    "supports_cold_migration",
    "supports_live_migration",
    "supports_block_migration",
)


class HypervisorError(CloudError):
    """The hypervisor refused or failed an operation (the message says which)."""

    code = 500
    msg_fmt = "Hypervisor error: %(reason)s"


class GuestNotFound(NotFound):
    """The hypervisor has no guest for the instance (Nova's InstanceNotFound, from the
    driver's side)."""

    msg_fmt = "Instance %(instance_id)s could not be found on the hypervisor."


@dataclass(frozen=True)
class InstanceInfo:
    """What the hypervisor says about a guest: its power state (power_state.*)."""

    state: int
    internal_id: str | None = None


F = TypeVar("F", bound=Callable[..., Any])


def driver_call(fn: F) -> F:
    """Record a call of a driver method as a ``driver`` trace event.

    The event goes from ``compute:<host>`` to ``hypervisor:<host>``, is named after the
    method, carries the instance uuid when the first argument is an instance dict, and
    records the clock seconds the call took (``detail.clock_seconds``) and any error.
    """

    @functools.wraps(fn)
    def wrapper(self: ComputeDriver, *args: Any, **kwargs: Any) -> Any:
        instance = args[0] if args and isinstance(args[0], dict) else kwargs.get("instance")
        uuid = instance.get("uuid") if isinstance(instance, dict) else None
        clock = self.runtime.clock
        started, wall = clock.now(), time.perf_counter()
        error: str | None = None
        try:
            return fn(self, *args, **kwargs)
        except Exception as exc:
            error = type(exc).__name__
            raise
        finally:
            detail: dict[str, Any] = {"clock_seconds": clock.now() - started}
            if error:
                detail["error"] = error
            self.runtime.tracer.record_here(
                "driver",
                source=f"compute:{self.host}",
                target=f"hypervisor:{self.host}",
                name=fn.__name__,
                instance_uuid=uuid if isinstance(uuid, str) else None,
                detail=detail,
                duration=time.perf_counter() - wall,
            )

    return cast(F, wrapper)


class ComputeDriver(ABC):
    """What a compute host needs from its hypervisor.

    One driver per compute host (``host``).  Methods block the calling thread for as long
    as the operation takes on the runtime's clock (a boot, a clean shutdown), so callers
    must not hold a store session across them.
    """

    #: What this driver supports; every key of :data:`CAPABILITIES` is present.
    capabilities: ClassVar[dict[str, bool]] = dict.fromkeys(CAPABILITIES, False)

    def __init__(self, runtime: Runtime, host: str) -> None:
        self.runtime = runtime
        self.host = host

    # -- the host -------------------------------------------------------------------------
    @abstractmethod
    def init_host(self) -> None:
        """Connect to the hypervisor of this host; called once when the service starts."""

    @abstractmethod
    def get_available_resource(self) -> dict[str, Any]:
        """The host's capacity: ``{vcpus, memory_mb, local_gb, cpu_info (dict: arch,
        model, vendor, topology), hypervisor_type, hypervisor_version (int),
        hypervisor_hostname, running_vms}``."""

    @abstractmethod
    def list_instance_uuids(self) -> list[str]:
        """The uuids of every guest defined on this host (running or not)."""

    # -- lifecycle ------------------------------------------------------------------------
    @abstractmethod
    def spawn(
        self,
        instance: dict[str, Any],
        image: dict[str, Any] | None,
        network_info: list[dict[str, Any]],
        block_device_info: dict[str, Any],
        *,
        reuse_disks: bool = False,
    ) -> None:
        """Create the guest's disks, define it and start it; return once it has booted.

        ``image`` is the image as the image service shows it (None when booting from a
        volume).  On failure the driver leaves nothing behind it would not also remove in
        :meth:`destroy`, and raises (the manager then reschedules).  ``reuse_disks``
        (evacuation on shared storage): local disks that already exist are used as they
        are, not created again.
        """

    @abstractmethod
    def destroy(
        self,
        instance: dict[str, Any],
        network_info: list[dict[str, Any]],
        block_device_info: dict[str, Any] | None = None,
        destroy_disks: bool = True,
    ) -> None:
        """Stop the guest hard, undefine it and (with ``destroy_disks``) delete its local
        disks.  A guest that does not exist is not an error."""

    @abstractmethod
    def power_off(self, instance: dict[str, Any], clean_shutdown: bool = True) -> None:
        """Stop the guest: ask it to shut down (``clean_shutdown``, bounded by
        ``Config.shutdown_timeout``), then pull the plug."""

    @abstractmethod
    def power_on(
        self,
        instance: dict[str, Any],
        network_info: list[dict[str, Any]],
        block_device_info: dict[str, Any] | None = None,
    ) -> None:
        """Start a stopped guest and wait for it to boot."""

    @abstractmethod
    def reboot(
        self,
        instance: dict[str, Any],
        network_info: list[dict[str, Any]],
        reboot_type: str,
        block_device_info: dict[str, Any] | None = None,
    ) -> None:
        """``SOFT``: ask the guest to restart (falls back to hard when it does not);
        ``HARD``: power-cycle it from its definition."""

    @abstractmethod
    def pause(self, instance: dict[str, Any]) -> None:
        """Freeze the guest's vCPUs in memory (power state PAUSED)."""

    @abstractmethod
    def unpause(self, instance: dict[str, Any]) -> None:
        """Let a paused guest run again."""

    @abstractmethod
    def suspend(self, instance: dict[str, Any]) -> None:
        """Save the guest's memory to disk and stop it (libvirt's managed save)."""

    @abstractmethod
    def resume(
        self,
        instance: dict[str, Any],
        network_info: list[dict[str, Any]],
        block_device_info: dict[str, Any] | None = None,
    ) -> None:
        """Restore a suspended guest from its saved memory."""

    @abstractmethod
    def get_info(self, instance: dict[str, Any]) -> InstanceInfo:
        """The guest's power state; raises :class:`GuestNotFound` if there is none."""

    # -- volumes --------------------------------------------------------------------------
    @abstractmethod
    def attach_volume(
        self, connection_info: dict[str, Any], instance: dict[str, Any], mountpoint: str
    ) -> None:
        """Plug a volume into the guest at ``mountpoint`` (``/dev/vdb``)."""

    @abstractmethod
    def detach_volume(
        self, connection_info: dict[str, Any], instance: dict[str, Any], mountpoint: str
    ) -> None:
        """Unplug a volume from the guest."""

    # -- HA: lifecycle events, shared storage (testbed/virt/libvirt/lifecycle.py) -----------
    def register_lifecycle_handler(self, handler: Callable[[str, int], None]) -> None:
        """Call ``handler(instance_uuid, power_state)`` when the hypervisor reports a guest
        stopped, started, paused or resumed (Nova's lifecycle events).  Default: none."""
        return None

    def unregister_lifecycle_handler(self) -> None:
        """Stop the lifecycle events (the service stops)."""
        return None

    def instance_on_disk(self, instance: dict[str, Any]) -> bool:
        """Whether the instance's local disks are visible here (shared instance storage,
        as Nova's ``instance_on_disk``); evacuation keeps them when they are."""
        return False

    # -- migration (the libvirt driver's are in testbed/virt/libvirt/migration.py) ----------
    # Cold: the source's migrate_disk_and_power_off, the destination's finish_migration;
    # then confirm_migration on the source, or revert_migration_at_destination followed by
    # finish_revert_migration on the source.  Live: check_can_live_migrate_destination
    # (destination), check_can_live_migrate_source (source), pre_live_migration
    # (destination), live_migration (source, monitored; live_migration_abort /
    # live_migration_force_complete from another thread), then
    # post_live_migration_at_destination + cleanup_live_migration_source, or
    # rollback_live_migration_at_destination (and migrate_back when the guest had moved).
    def migrate_disk_and_power_off(
        self,
        instance: dict[str, Any],
        dest: str,
        flavor: dict[str, Any],
        block_device_info: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Cold migration, source side: stop the guest and copy its disks to ``dest``;
        returns the disk info the destination needs (``{shared_storage, copied}``)."""
        raise NotImplementedError(self._unsupported("cold migration"))

    def finish_migration(
        self,
        instance: dict[str, Any],
        disk_info: dict[str, Any],
        network_info: list[dict[str, Any]],
        block_device_info: dict[str, Any],
        power_on: bool = True,
    ) -> None:
        """Cold migration, destination side: define and (maybe) start the guest."""
        raise NotImplementedError(self._unsupported("cold migration"))

    def confirm_migration(
        self, instance: dict[str, Any], migration: dict[str, Any], disk_info: dict[str, Any]
    ) -> None:
        """Cold migration confirmed, source side: remove the old guest (and disks)."""
        raise NotImplementedError(self._unsupported("cold migration"))

    def revert_migration_at_destination(
        self, instance: dict[str, Any], migration: dict[str, Any], disk_info: dict[str, Any]
    ) -> None:
        """Cold migration reverted, destination side: remove the new guest."""
        raise NotImplementedError(self._unsupported("cold migration"))

    def finish_revert_migration(
        self,
        instance: dict[str, Any],
        network_info: list[dict[str, Any]],
        block_device_info: dict[str, Any],
        power_on: bool = True,
    ) -> None:
        """Cold migration reverted, source side: the old guest runs again."""
        raise NotImplementedError(self._unsupported("cold migration"))

    def check_can_live_migrate_destination(
        self, instance: dict[str, Any], src_cpu_info: dict[str, Any], block_migration: bool | None
    ) -> dict[str, Any]:
        """Live migration pre-check on the destination (CPU, shared-storage probe)."""
        raise NotImplementedError(self._unsupported("live migration"))

    def cleanup_live_migration_destination_check(self, dest_check_data: dict[str, Any]) -> None:
        """Remove what the destination pre-check left (its probe file)."""
        raise NotImplementedError(self._unsupported("live migration"))

    def check_can_live_migrate_source(
        self,
        instance: dict[str, Any],
        dest_check_data: dict[str, Any],
        block_device_info: dict[str, Any],
    ) -> dict[str, Any]:
        """Live migration pre-check on the source; returns the migrate data (which kind:
        block, shared instances path, volume-backed)."""
        raise NotImplementedError(self._unsupported("live migration"))

    def pre_live_migration(
        self,
        instance: dict[str, Any],
        block_device_info: dict[str, Any],
        network_info: list[dict[str, Any]],
        migrate_data: dict[str, Any],
    ) -> dict[str, Any]:
        """Destination side: prepare the disks a block migration needs."""
        raise NotImplementedError(self._unsupported("live migration"))

    def live_migration(
        self,
        instance: dict[str, Any],
        dest: str,
        migrate_data: dict[str, Any],
        on_progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Move the running guest to ``dest``, reporting progress; returns the completed
        job's statistics."""
        raise NotImplementedError(self._unsupported("live migration"))

    def live_migration_abort(self, instance: dict[str, Any]) -> None:
        """Abort the running live migration."""
        raise NotImplementedError(self._unsupported("live migration"))

    def live_migration_force_complete(self, instance: dict[str, Any]) -> None:
        """Make the running live migration complete (post-copy, or pause the guest)."""
        raise NotImplementedError(self._unsupported("live migration"))

    def post_live_migration_at_destination(
        self, instance: dict[str, Any], migrate_data: dict[str, Any]
    ) -> dict[str, Any]:
        """Destination side, after the switchover; returns the completed job's statistics
        as the hypervisor reports them here (``downtime`` in ms), or {}."""
        raise NotImplementedError(self._unsupported("live migration"))

    def cleanup_live_migration_source(
        self, instance: dict[str, Any], migrate_data: dict[str, Any]
    ) -> None:
        """Source side, after success: remove what is left of the guest here."""
        raise NotImplementedError(self._unsupported("live migration"))

    def rollback_live_migration_at_destination(
        self, instance: dict[str, Any], migrate_data: dict[str, Any]
    ) -> None:
        """Destination side, after a failure: remove the guest and created disks."""
        raise NotImplementedError(self._unsupported("live migration"))

    def migrate_back(
        self, instance: dict[str, Any], dest: str, migrate_data: dict[str, Any]
    ) -> None:
        """Bring a guest that already reached ``dest`` back to this host."""
        raise NotImplementedError(self._unsupported("live migration"))

    def _unsupported(self, what: str) -> str:
        return f"{type(self).__name__} does not support {what} yet (see its capabilities)"
