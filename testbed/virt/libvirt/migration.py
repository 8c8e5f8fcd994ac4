"""The libvirt driver's migrations, with the libvirt API only: live here, cold in
:mod:`testbed.virt.libvirt.cold_migration`.

Everything here goes through the libvirt module of the backend and the backend's disk
operations (``create_disk``, ``copy_disk``, ``disk_exists``, ``delete_disk``), so the same
code runs on fakevirt and on real libvirt + QEMU nodes.

Live migration (``migrateToURI3``, peer to peer), with the flags real deployments use:

- always ``LIVE | PEER2PEER | PERSIST_DEST | UNDEFINE_SOURCE``;
- block migration: ``NON_SHARED_DISK`` with the destination's disks pre-created (at the
  same path and size) in ``pre_live_migration``; ``VIR_MIGRATE_PARAM_MIGRATE_DISKS``
  names the local disks when volumes are attached (they are not copied);
- shared instances directory, or volume-backed: nothing copied; file disks on a shared
  filesystem libvirt does not know (a Docker volume) need ``UNSAFE``;
- ``POSTCOPY`` when ``live_migration_permit_post_copy`` (so force-complete can switch).

The migration runs on a worker thread of the clock's pool while the calling thread
monitors it every half second of clock time, as Nova's ``_live_migration_monitor`` does:
progress from ``jobStats`` goes to the caller's ``on_progress`` at the first look and
every ``PROGRESS_EVERY`` looks after it (every 5 s, when Nova saves it), and once more
with the completed job's statistics; ``live_migration_completion_timeout``
(per GiB of data) and ``live_migration_progress_timeout`` trigger their action;
force-complete switches to post-copy or pauses the guest; abort is ``abortJob``.
"""

from __future__ import annotations

import logging
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from testbed.virt.driver import HypervisorError, driver_call
from testbed.virt.libvirt.cold_migration import LibvirtColdMigrationMixin
from testbed.virt.libvirt.migration_errors import (
    LiveMigrationAborted,
    MigrationPreCheckFailed,
    ResizeError,
)

if TYPE_CHECKING:
    pass

__all__ = [
    "MONITOR_INTERVAL",
    "PROGRESS_EVERY",
    "LibvirtMigrationMixin",
    "LiveMigrationAborted",
    "MigrationPreCheckFailed",
    "ResizeError",
]

LOG = logging.getLogger(__name__)

#: Clock seconds between two looks at a running live migration (Nova: 0.5).
MONITOR_INTERVAL = 0.5
#: Looks between two progress reports (Nova saves the migration's stats when ``n % 10 == 0``).
PROGRESS_EVERY = 10
_GIB = 1024**3


@dataclass
class _Monitor:
    """What another thread may ask of a running live migration."""

    actions: list[str] = field(default_factory=list)
    aborted_by: str | None = None


class LibvirtMigrationMixin(LibvirtColdMigrationMixin):
    """The migration half of :class:`~testbed.virt.libvirt.driver.LibvirtDriver`: live
    migration here, cold migration in :class:`LibvirtColdMigrationMixin`."""

    @driver_call
    def check_can_live_migrate_destination(
        self,
        instance: dict[str, Any],
        src_cpu_info: dict[str, Any],
        block_migration: bool | None,
    ) -> dict[str, Any]:
        """Destination side: the CPU must offer what the source's does; leaves a probe
        file in the instances directory for the source to look for."""
        mine = self.host_cpu_info()
        if src_cpu_info and not _cpu_compatible(src_cpu_info, mine):
            raise MigrationPreCheckFailed(
                reason=(
                    f"CPU doesn't have compatibility. The CPU of {self.host} "
                    f"({mine.get('vendor')} {mine.get('model')}) lacks what the source's "
                    f"({src_cpu_info.get('vendor')} {src_cpu_info.get('model')}) offers."
                )
            )
        probe = f".testbed-probe-{uuidlib.uuid4().hex}"
        self.backend.create_disk(self.host, self._probe_path(probe), 0)
        return {"probe": probe, "block_migration": block_migration, "dest_host": self.host}

    @driver_call
    def cleanup_live_migration_destination_check(self, dest_check_data: dict[str, Any]) -> None:
        """Destination side: remove the probe file."""
        if dest_check_data.get("probe"):
            self.backend.delete_disk(self.host, self._probe_path(dest_check_data["probe"]))

    @driver_call
    def check_can_live_migrate_source(
        self,
        instance: dict[str, Any],
        dest_check_data: dict[str, Any],
        block_device_info: dict[str, Any],
    ) -> dict[str, Any]:
        """Source side: shared instances directory? volume-backed? Resolve
        ``block_migration`` None ("auto") and refuse what cannot work."""
        probe = str(dest_check_data.get("probe") or "")
        shared = bool(probe) and self.backend.disk_exists(self.host, self._probe_path(probe))
        local = self._local_disks(instance, block_device_info)
        volumes = block_device_info.get("block_device_mapping") or []
        volume_backed = any(m.get("boot_index") == 0 for m in volumes)
        block = dest_check_data.get("block_migration")
        if block is None:
            block = not (shared or (volume_backed and not local))
        dest = dest_check_data.get("dest_host")
        if block and shared:
            raise MigrationPreCheckFailed(
                reason=f"{dest} is not on local storage: Block migration can not be used "
                "with shared storage."
            )
        if not block and not shared and local:
            raise MigrationPreCheckFailed(
                reason=f"{self.host} is not on shared storage: Shared storage live-migration "
                "requires either shared storage or boot-from-volume with no local disks."
            )
        return {
            **dest_check_data,
            "block_migration": bool(block),
            "is_shared_instance_path": shared,
            "is_volume_backed": volume_backed,
            "has_volumes": bool(volumes),
            "local_disks": local,
        }

    # -- live migration: the move -------------------------------------------------------------
    @driver_call
    def pre_live_migration(
        self,
        instance: dict[str, Any],
        block_device_info: dict[str, Any],
        network_info: list[dict[str, Any]],
        migrate_data: dict[str, Any],
    ) -> dict[str, Any]:
        """Destination side: pre-create the local disks a block migration copies (same
        path and size, as real libvirt needs); returns ``migrate_data`` with the disks
        created (for the rollback)."""
        created: list[str] = []
        if migrate_data.get("block_migration"):
            for disk in migrate_data.get("local_disks") or []:
                if not self.backend.disk_exists(self.host, disk["path"]):
                    self.backend.create_disk(self.host, disk["path"], int(disk["size_gb"]))
                    created.append(disk["path"])
        return {**migrate_data, "created_disks": created}

    def migration_flags(self, migrate_data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The ``migrateToURI3`` flags and parameters for this migration (see the module
        docstring)."""
        lv, config = self.libvirt, self.runtime.config
        flags = (
            lv.VIR_MIGRATE_LIVE
            | lv.VIR_MIGRATE_PEER2PEER
            | lv.VIR_MIGRATE_PERSIST_DEST
            | lv.VIR_MIGRATE_UNDEFINE_SOURCE
        )
        params: dict[str, Any] = {}
        block = bool(migrate_data.get("block_migration"))
        local = migrate_data.get("local_disks") or []
        if block:
            flags |= lv.VIR_MIGRATE_NON_SHARED_DISK
            if migrate_data.get("is_volume_backed") or migrate_data.get("has_volumes"):
                params[lv.VIR_MIGRATE_PARAM_MIGRATE_DISKS] = [d["target"] for d in local]
        if migrate_data.get("has_volumes") or not block:
            # disks that stay where they are, on storage libvirt cannot tell is shared
            flags |= lv.VIR_MIGRATE_UNSAFE
        if config.live_migration_permit_post_copy:
            flags |= lv.VIR_MIGRATE_POSTCOPY
        if config.live_migration_permit_auto_converge and not (flags & lv.VIR_MIGRATE_POSTCOPY):
            flags |= lv.VIR_MIGRATE_AUTO_CONVERGE
        if config.live_migration_bandwidth:
            params[lv.VIR_MIGRATE_PARAM_BANDWIDTH] = int(config.live_migration_bandwidth)
        return flags, params

    def _migration_uri(self, dest: str) -> tuple[str, str]:
        dconnuri = self.backend.uri(dest)
        host = urlsplit(dconnuri).hostname or dest
        return dconnuri, f"tcp://{host}"

    @driver_call
    def live_migration(
        self,
        instance: dict[str, Any],
        dest: str,
        migrate_data: dict[str, Any],
        on_progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Source side: move the running guest to ``dest`` and monitor it until it is
        done.  Returns the completed job's statistics (with ``downtime``); raises
        :class:`LiveMigrationAborted` when aborted, :class:`HypervisorError` on failure
        (the guest then still runs here)."""
        lv = self.libvirt
        dom = self._domain(instance)
        flags, params = self.migration_flags(migrate_data)
        dconnuri, migrate_uri = self._migration_uri(dest)
        params[lv.VIR_MIGRATE_PARAM_URI] = migrate_uri
        try:
            dom.migrateSetMaxDowntime(int(self.runtime.config.live_migration_downtime), 0)
        except lv.libvirtError as exc:
            LOG.debug("could not set the max downtime of %s: %s", instance["uuid"], exc)
        monitor = _Monitor()
        self._live_monitors()[instance["uuid"]] = monitor
        try:
            return self._run_and_monitor(
                instance, dom, dconnuri, params, flags, monitor, on_progress
            )
        finally:
            self._live_monitors().pop(instance["uuid"], None)

    def _run_and_monitor(
        self,
        instance: dict[str, Any],
        dom: Any,
        dconnuri: str,
        params: dict[str, Any],
        flags: int,
        monitor: _Monitor,
        on_progress: Callable[[dict[str, Any]], None] | None,
    ) -> dict[str, Any]:
        lv, clock, config = self.libvirt, self.runtime.clock, self.runtime.config
        done = clock.signal()
        outcome: dict[str, Any] = {}

        def migrate() -> None:
            try:
                dom.migrateToURI3(dconnuri, params, flags)
            except lv.libvirtError as exc:
                outcome["error"] = exc
            except Exception as exc:  # reported to the monitoring thread
                outcome["error"] = exc
            finally:
                done.set()

        clock.hold()
        clock.submit_held(migrate)  # on the clock's worker pool: no thread per migration
        started = clock.now()
        completion_timeout = config.live_migration_completion_timeout * _data_gib(
            instance, params, flags, lv
        )
        progress_timeout = float(getattr(config, "live_migration_progress_timeout", 0.0) or 0.0)
        best_remaining: int | None = None
        progress_at = started
        looks = 0
        while not done.wait(MONITOR_INTERVAL):
            stats = self._job_stats(dom)
            if stats is None:
                continue
            if on_progress is not None and looks % PROGRESS_EVERY == 0:
                on_progress(_progress(stats, lv))
            looks += 1
            remaining = int(stats.get(lv.VIR_DOMAIN_JOB_DATA_REMAINING, 0))
            now = clock.now()
            if best_remaining is None or remaining < best_remaining:
                best_remaining, progress_at = remaining, now
            if "force-complete" in monitor.actions:
                monitor.actions.remove("force-complete")
                self._force_complete(dom, flags)
            if monitor.aborted_by is None:
                if completion_timeout and now - started > completion_timeout:
                    self._on_timeout(dom, flags, monitor, "completion timeout")
                elif progress_timeout and now - progress_at > progress_timeout:
                    monitor.aborted_by = "progress timeout"
                    self._abort_job(dom)
        error = outcome.get("error")
        if error is not None:
            code = error.get_error_code() if hasattr(error, "get_error_code") else None
            if code == lv.VIR_ERR_OPERATION_ABORTED or monitor.aborted_by:
                raise LiveMigrationAborted(reason=monitor.aborted_by or "aborted by request")
            raise self._error(error) from error
        try:
            completed: dict[str, Any] = dict(dom.jobStats(lv.VIR_DOMAIN_JOB_STATS_COMPLETED))
        except lv.libvirtError:
            completed = {}
        if on_progress is not None and completed:
            on_progress(_progress(completed, lv))
        return completed

    def _job_stats(self, dom: Any) -> dict[str, Any] | None:
        try:
            stats: dict[str, Any] = dict(dom.jobStats(0))
        except self.libvirt.libvirtError:
            return None
        return stats if stats.get("type") != self.libvirt.VIR_DOMAIN_JOB_NONE else None

    def _on_timeout(self, dom: Any, flags: int, monitor: _Monitor, why: str) -> None:
        action = self.runtime.config.live_migration_timeout_action
        LOG.warning("live migration of %s: %s, action %s", dom.UUIDString(), why, action)
        if action == "force_complete":
            self._force_complete(dom, flags)
            monitor.actions.append("timed-out")
            return
        monitor.aborted_by = why
        self._abort_job(dom)

    def _force_complete(self, dom: Any, flags: int) -> None:
        """Post-copy when allowed, else pause the guest so the copy converges."""
        lv = self.libvirt
        try:
            if flags & lv.VIR_MIGRATE_POSTCOPY:
                dom.migrateStartPostCopy(0)
            else:
                dom.suspend()
        except lv.libvirtError as exc:
            LOG.warning("force-complete of %s failed: %s", dom.UUIDString(), exc)

    def _abort_job(self, dom: Any) -> None:
        try:
            dom.abortJob()
        except self.libvirt.libvirtError as exc:
            LOG.info("abortJob of %s: %s", dom.UUIDString(), exc)

    def _live_monitors(self) -> dict[str, _Monitor]:
        monitors: dict[str, _Monitor] = self.__dict__.setdefault("_live_monitors_", {})
        return monitors

    @driver_call
    def live_migration_abort(self, instance: dict[str, Any]) -> None:
        """Abort the running live migration of the instance (``abortJob``)."""
        monitor = self._live_monitors().get(instance["uuid"])
        if monitor is None:
            raise HypervisorError(reason=f"no live migration of {instance['uuid']} is running")
        monitor.aborted_by = "aborted by request"
        self._abort_job(self._domain(instance))

    @driver_call
    def live_migration_force_complete(self, instance: dict[str, Any]) -> None:
        """Ask the monitor to switch to post-copy (or pause the guest) at its next look."""
        monitor = self._live_monitors().get(instance["uuid"])
        if monitor is None:
            raise HypervisorError(reason=f"no live migration of {instance['uuid']} is running")
        monitor.actions.append("force-complete")

    @driver_call
    def post_live_migration_at_destination(
        self, instance: dict[str, Any], migrate_data: dict[str, Any]
    ) -> dict[str, Any]:
        """Destination side, after the switchover: the guest must be here; one paused by
        force-complete runs again (an active instance's guest runs).  Returns the
        completed job's statistics, which libvirt keeps on the destination (the source
        domain is gone with UNDEFINE_SOURCE): ``downtime`` in ms."""
        lv = self.libvirt
        dom = self._domain(instance)
        try:
            if instance.get("vm_state") == "active" and dom.state(0)[0] == lv.VIR_DOMAIN_PAUSED:
                dom.resume()
        except lv.libvirtError as exc:
            raise self._error(exc) from exc
        try:
            return dict(dom.jobStats(lv.VIR_DOMAIN_JOB_STATS_COMPLETED))
        except lv.libvirtError as exc:
            LOG.debug("no completed job statistics for %s: %s", instance["uuid"], exc)
            return {}

    @driver_call
    def cleanup_live_migration_source(
        self, instance: dict[str, Any], migrate_data: dict[str, Any]
    ) -> None:
        """Source side, after success: the source definition is gone (UNDEFINE_SOURCE);
        delete the local disks a block migration copied away."""
        self._remove_guest(instance, delete_disks=bool(migrate_data.get("block_migration")))

    @driver_call
    def rollback_live_migration_at_destination(
        self, instance: dict[str, Any], migrate_data: dict[str, Any]
    ) -> None:
        """Destination side, after a failure: remove any guest left here and the disks
        ``pre_live_migration`` created."""
        lv = self.libvirt
        try:
            dom = self.conn.lookupByUUIDString(instance["uuid"])
        except lv.libvirtError:
            dom = None
        if dom is not None:
            try:
                if dom.isActive():
                    dom.destroy()
                if dom.isPersistent():
                    dom.undefineFlags(lv.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
            except lv.libvirtError as exc:
                if exc.get_error_code() != lv.VIR_ERR_NO_DOMAIN:
                    raise self._error(exc) from exc
        for path in migrate_data.get("created_disks") or []:
            self.backend.delete_disk(self.host, path)

    @driver_call
    def migrate_back(
        self, instance: dict[str, Any], dest: str, migrate_data: dict[str, Any]
    ) -> None:
        """The guest reached ``dest`` but the move cannot be completed: migrate it from
        ``dest`` back here (its disks are still here: the same flags work backwards)."""
        lv = self.libvirt
        flags, params = self.migration_flags(migrate_data)
        source_uri, migrate_uri = self._migration_uri(self.host)
        params[lv.VIR_MIGRATE_PARAM_URI] = migrate_uri
        try:
            remote = lv.open(self.backend.uri(dest))
            try:
                dom = remote.lookupByUUIDString(instance["uuid"])
                dom.migrateToURI3(source_uri, params, flags)
            finally:
                remote.close()
        except lv.libvirtError as exc:
            raise self._error(exc) from exc


def _cpu_compatible(source: dict[str, Any], dest: dict[str, Any]) -> bool:
    """The destination offers the source's architecture, vendor, model and features."""
    for key in ("arch", "vendor"):
        if source.get(key) and dest.get(key) and source[key] != dest[key]:
            return False
    if source.get("model") and dest.get("model") and source["model"] != dest["model"]:
        missing = set(source.get("features") or []) - set(dest.get("features") or [])
        return not missing and bool(dest.get("features"))
    return True


def _data_gib(instance: dict[str, Any], params: dict[str, Any], flags: int, lv: Any) -> float:
    """GiB a migration moves (memory, at least 2, plus copied disks): the completion
    timeout is ``live_migration_completion_timeout`` per GiB, as in Nova."""
    flavor = instance.get("flavor") or {}
    ram = max(int(flavor.get("memory_mb") or 0) / 1024.0, 2.0)
    disk = 0.0
    if flags & lv.VIR_MIGRATE_NON_SHARED_DISK:
        disk = float(int(flavor.get("root_gb") or 0) + int(flavor.get("ephemeral_gb") or 0))
    return ram + disk


def _progress(stats: dict[str, Any], lv: Any) -> dict[str, int]:
    """The byte counters of a jobStats() result, by the names a migration row uses."""
    keys = {
        "memory_total": lv.VIR_DOMAIN_JOB_MEMORY_TOTAL,
        "memory_processed": lv.VIR_DOMAIN_JOB_MEMORY_PROCESSED,
        "memory_remaining": lv.VIR_DOMAIN_JOB_MEMORY_REMAINING,
        "disk_total": lv.VIR_DOMAIN_JOB_DISK_TOTAL,
        "disk_processed": lv.VIR_DOMAIN_JOB_DISK_PROCESSED,
        "disk_remaining": lv.VIR_DOMAIN_JOB_DISK_REMAINING,
    }
    return {name: int(stats.get(key) or 0) for name, key in keys.items()}
