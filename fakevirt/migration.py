"""Live migration between fake hosts (``virDomain.migrateToURI3``), on the world's clock.

Phases: checks -> prepare on the destination (STARTED/MIGRATED there) -> block copy of the
disks being migrated -> pre-copy of memory at the bandwidth while the guest dirties pages,
until what is left fits the max downtime (or post-copy is requested) -> switchover (source
SUSPENDED/MIGRATED) -> finish (destination DEFINED with PERSIST_DEST, RESUMED/MIGRATED or
SUSPENDED/PAUSED with VIR_MIGRATE_PAUSED; source STOPPED/MIGRATED, UNDEFINED with
UNDEFINE_SOURCE). The world lock is released around every clock sleep, so other threads can
read jobStats or call abortJob / migrateStartPostCopy meanwhile.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fakevirt import actions
from fakevirt import constants as C
from fakevirt.clock import wakeup as clock_wakeup
from fakevirt.errors import RawError, fail, fail_as, fail_raw, make_error
from fakevirt.jobs import MIB, SLACK, MigrationJob
from fakevirt.model import PORT, Delivery, DomainRecord, Host
from fakevirt.world import World, uri_hostname

if TYPE_CHECKING:
    from fakevirt.domain import virDomain

_STORAGE = C.VIR_MIGRATE_NON_SHARED_DISK | C.VIR_MIGRATE_NON_SHARED_INC
DEST_LOST_AFTER = 30.0  # clock seconds a hung destination is waited for, then the copy fails


class _Abort(Exception):
    def __init__(self, err: RawError) -> None:
        super().__init__(err[2])
        self.err = err


def _connect_failed(world: World, dconnuri: str) -> None:
    name = uri_hostname(dconnuri) or dconnuri
    host = world.hosts.get(name)
    why = (
        "No route to host"
        if host is not None and host.status == "crashed"
        else "Connection refused"
    )
    # libvirt 9 passes the RPC layer's error through (measured against real nodes).
    port = urlsplit(dconnuri).port or PORT
    fail(
        C.VIR_ERR_SYSTEM_ERROR,
        C.VIR_FROM_RPC,
        f"unable to connect to server at '{name}:{port}': {why}",
        "virDomainMigrateToURI3() failed",
    )


def _check_safe(src: Host, rec: DomainRecord, flags: int, params: dict[str, Any]) -> list[str]:
    """The source's Begin phase: refuse unsafe disks as libvirt 9 does (seeing only the
    source's filesystems); return the paths to block-copy."""
    copy_all = bool(flags & _STORAGE)
    only = params.get(C.VIR_MIGRATE_PARAM_MIGRATE_DISKS)
    copied: list[str] = []
    for disk in rec.spec.disks:
        if not disk.source or disk.device not in ("disk", "lun"):
            continue
        copy = copy_all and (not only or disk.target in only)
        if copy and not disk.readonly and not disk.shareable:
            copied.append(disk.source)
            continue
        if disk.type != "file" or flags & C.VIR_MIGRATE_UNSAFE:
            continue
        store = src.shared_storage_of(disk.source)
        if store is None or store.fs == "local":
            fail(
                C.VIR_ERR_MIGRATE_UNSAFE,
                C.VIR_FROM_QEMU,
                "Migration without shared storage is unsafe",
                "virDomainMigrateToURI3() failed",
            )
        if store.fs == "nfs" and not (
            disk.readonly or disk.shareable or disk.cache in ("none", "directsync")
        ):
            fail(
                C.VIR_ERR_MIGRATE_UNSAFE,
                C.VIR_FROM_QEMU,
                "Migration may lead to data corruption if disks use cache other than "
                "none or directsync",
                "virDomainMigrateToURI3() failed",
            )
    return copied


def _check_dest_storage(dst: Host, rec: DomainRecord, copied: list[str]) -> None:
    """The destination's Prepare phase: block-copy targets must be pre-created (libvirt
    finds no storage pool to create them in), other disks must be visible there."""
    disks = [d for d in rec.spec.disks if d.source and d.device in ("disk", "lun")]
    for path in copied:
        if not dst.file_exists(path):
            fail(
                C.VIR_ERR_NO_STORAGE_POOL,
                C.VIR_FROM_STORAGE,
                f"no storage pool with matching target path '{posixpath.dirname(path)}'",
                "virDomainMigrateToURI3() failed",
            )
    for disk in disks:
        path = disk.source or ""
        if disk.type in ("file", "block") and not dst.file_exists(path):
            fail(
                C.VIR_ERR_SYSTEM_ERROR,
                C.VIR_FROM_STORAGE,
                f"Cannot access storage file '{path}' (as uid:0, gid:0): No such file or directory",
                "virDomainMigrateToURI3() failed",
            )


def migrate(dom: virDomain, dconnuri: str, params: dict[str, Any] | None, flags: int) -> int:
    """virDomain.migrateToURI3 between hosts of one world."""
    conn = dom.connect()
    src, rec = dom._enter("virDomainMigrateToURI3", "migrateToURI3", write=True)
    world = conn.world
    params = dict(params or {})
    if src.flavour != "qemu":
        fail(C.VIR_ERR_NO_SUPPORT, C.VIR_FROM_DOMAIN, "virDomainMigrateToURI3")
    if not flags & C.VIR_MIGRATE_PEER2PEER:
        fail(
            C.VIR_ERR_ARGUMENT_UNSUPPORTED,
            C.VIR_FROM_DOMAIN,
            "direct migration is not supported by the source host",
        )
    with world.lock:
        if not rec.active:
            fail_as(src.flavour, "not_running", "virDomainMigrateToURI3() failed")
        if rec.job is not None:
            fail(
                C.VIR_ERR_OPERATION_INVALID,
                C.VIR_FROM_QEMU,
                f"another migration job is already running for domain '{rec.spec.name}'",
            )
        # libvirt's order: Begin on the source (disk safety), connect to the destination,
        # Prepare there (the source's host UUID in the cookie, the domain, the storage).
        copied = _check_safe(src, rec, flags, params)
        dst = world.host_for_uri(dconnuri)
        if dst is None or dst.status == "crashed":
            _connect_failed(world, dconnuri)
        assert dst is not None
        if dst.host_uuid == src.host_uuid:
            fail(
                C.VIR_ERR_INTERNAL_ERROR,
                C.VIR_FROM_QEMU,
                f"Attempt to migrate guest to the same host {src.host_uuid}",
            )
        existing = dst.domains.get(rec.spec.uuid)
        if existing is not None and existing.active:
            fail_as(dst.flavour, "already_active", name=rec.spec.name)
        other = dst.by_name(rec.spec.name)
        if other is not None and other is not existing:
            fail_as(dst.flavour, "name_taken", name=rec.spec.name, uuid=other.spec.uuid)
        _check_dest_storage(dst, rec, copied)
    name = rec.spec.name
    if world.take_fault("migration_failure", src.hostname, name, phase="before_start"):
        fail(
            C.VIR_ERR_OPERATION_FAILED,
            C.VIR_FROM_QEMU,
            "migration out job: unexpectedly failed",
            "virDomainMigrateToURI3() failed",
        )
    bandwidth = (
        float(params.get(C.VIR_MIGRATE_PARAM_BANDWIDTH) or world.migration_bandwidth_mib) * MIB
    )
    out: list[Delivery] = []
    with world.lock:
        job = MigrationJob(
            flags=flags,
            started=world.clock.now(),
            bandwidth=bandwidth,
            dirty_rate=world.migration_dirty_rate_mib * MIB,
            memory_total=rec.spec.current_kib * 1024,
            memory_remaining=float(rec.spec.current_kib * 1024),
            disk_total=sum(src.file_size(p) or 0 for p in copied),
        )
        rec.job = job
        drec = existing or DomainRecord(spec=rec.spec, config=None)
        drec.spec, drec.incoming = rec.spec, True
        drec.id, dst.next_id = dst.next_id, dst.next_id + 1
        drec.started_at = world.clock.now()
        drec.state, drec.reason = C.VIR_DOMAIN_PAUSED, C.VIR_DOMAIN_PAUSED_MIGRATION
        dst.domains[rec.spec.uuid] = drec
        world.lifecycle(
            dst, drec, C.VIR_DOMAIN_EVENT_STARTED, C.VIR_DOMAIN_EVENT_STARTED_MIGRATED, out
        )
    world.deliver(out)
    run = _Run(world, conn, src, dst, rec, drec, job)
    try:
        run.copy()
    except _Abort as exc:
        run.rollback(exc.err)
        fail_raw(exc.err, "virDomainMigrateToURI3() failed")
    run.finish(copied)
    return 0


class _Run:
    def __init__(
        self,
        world: World,
        conn: Any,
        src: Host,
        dst: Host,
        rec: DomainRecord,
        drec: DomainRecord,
        job: MigrationJob,
    ) -> None:
        self.world, self.conn, self.src, self.dst = world, conn, src, dst
        self.rec, self.drec, self.job = rec, drec, job
        self.name = rec.spec.name
        self.dst_hung_since: float | None = None

    def _check(self, phase: str) -> None:
        """Raise _Abort if the migration cannot go on. Caller holds the lock."""
        job, rec = self.job, self.rec
        if job.abort_reason == "abort":
            raise _Abort(
                make_error(
                    C.VIR_ERR_OPERATION_ABORTED,
                    C.VIR_FROM_QEMU,
                    "migration out job: canceled by client",
                )
            )
        if self.src.status == "crashed" or not self.conn.isAlive():
            raise _Abort(actions.closed_error())
        if (
            job.abort_reason == "stopped"
            or not rec.active
            or self.src.domains.get(rec.spec.uuid) is not rec
        ):
            raise _Abort(
                make_error(C.VIR_ERR_OPERATION_FAILED, C.VIR_FROM_QEMU, "domain is not running")
            )
        now = self.world.clock.now()
        if self.dst.status == "hung":
            self.dst_hung_since = now if self.dst_hung_since is None else self.dst_hung_since
        else:
            self.dst_hung_since = None
        if self.dst.status == "crashed" or (
            self.dst_hung_since is not None and now - self.dst_hung_since >= DEST_LOST_AFTER - SLACK
        ):
            raise _Abort(
                make_error(
                    C.VIR_ERR_OPERATION_FAILED,
                    C.VIR_FROM_QEMU,
                    "Lost connection to destination host",
                )
            )
        if self.world.take_fault("migration_failure", self.src.hostname, self.name, phase=phase):
            raise _Abort(
                make_error(
                    C.VIR_ERR_OPERATION_FAILED,
                    C.VIR_FROM_QEMU,
                    "migration out job: unexpectedly failed",
                )
            )

    def _until_next_look(self, now: float) -> float:
        """Clock seconds until the copy must look again by itself: the next phase boundary,
        the moment a hung destination counts as lost, or a minute at most (a migration
        that never converges still looks now and then)."""
        timeout = self.job.seconds_to_boundary(self.rec.max_downtime_ms)
        waits = [60.0 if timeout is None else timeout]
        if self.dst_hung_since is not None:
            waits.append(self.dst_hung_since + DEST_LOST_AFTER - now)
        return max(SLACK, min(waits))

    def copy(self) -> None:
        """Block-copy the disks, then pre-copy memory until what is left fits the max
        downtime or post-copy is asked for.  Between looks the thread waits for the next
        phase boundary; anything that could change the outcome (abort, post-copy, a new
        max downtime, a fault, a host's state, the domain stopping) wakes it early."""
        world, job = self.world, self.job
        while True:
            with world.lock:
                now = world.clock.now()
                job.advance(now)
                self._check("memory_copy")
                job.phase = "memory" if job.disks_copied() else "disk"
                if job.phase == "memory" and (
                    job.postcopy_requested or job.converged(self.rec.max_downtime_ms)
                ):
                    break
                timeout = self._until_next_look(now)
                job.wakeup = wakeup = clock_wakeup(world.clock, world.migration_step)
            wakeup.wait(timeout)
        out: list[Delivery] = []
        with world.lock:
            self._check("-")
            if job.postcopy_requested:
                job.phase = "postcopy"
                actions.pause(
                    world,
                    self.src,
                    self.rec,
                    C.VIR_DOMAIN_PAUSED_POSTCOPY,
                    C.VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY,
                    out,
                )
                actions.unpause(
                    world,
                    self.dst,
                    self.drec,
                    C.VIR_DOMAIN_RUNNING_POSTCOPY,
                    C.VIR_DOMAIN_EVENT_RESUMED_POSTCOPY,
                    out,
                )
                pause_s = 0.01
            else:
                job.phase = "switchover"
                actions.pause(
                    world,
                    self.src,
                    self.rec,
                    C.VIR_DOMAIN_PAUSED_MIGRATION,
                    C.VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED,
                    out,
                )
                pause_s = job.memory_remaining / job.bandwidth + 0.01
        world.deliver(out)
        if world.take_fault("migration_failure", self.src.hostname, self.name, phase="switchover"):
            raise _Abort(
                make_error(
                    C.VIR_ERR_OPERATION_FAILED,
                    C.VIR_FROM_QEMU,
                    "migration out job: unexpectedly failed",
                )
            )
        world.clock.sleep(pause_s)
        if job.phase == "postcopy":
            world.clock.sleep(job.memory_remaining / job.bandwidth)
        with world.lock:
            job.downtime_ms = int(pause_s * 1000)
            job.memory_processed += job.memory_remaining
            job.memory_remaining = 0.0

    def rollback(self, err: RawError) -> None:
        world, rec, drec, job = self.world, self.rec, self.drec, self.job
        out: list[Delivery] = []
        with world.lock:
            job.finished = True
            stats = job.stats(world.clock.now())
            stats["type"] = (
                C.VIR_DOMAIN_JOB_CANCELLED
                if err[0] == C.VIR_ERR_OPERATION_ABORTED
                else C.VIR_DOMAIN_JOB_FAILED
            )
            rec.job = None
            rec.completed_job = stats
            if (
                rec.active
                and rec.state == C.VIR_DOMAIN_PAUSED
                and rec.reason in (C.VIR_DOMAIN_PAUSED_MIGRATION, C.VIR_DOMAIN_PAUSED_POSTCOPY)
                and self.src.status == "up"
            ):
                actions.unpause(
                    world,
                    self.src,
                    rec,
                    C.VIR_DOMAIN_RUNNING_MIGRATED,
                    C.VIR_DOMAIN_EVENT_RESUMED_MIGRATED,
                    out,
                )
            if self.dst.domains.get(drec.spec.uuid) is drec and drec.active:
                drec.incoming = False
                actions.stop(
                    world,
                    self.dst,
                    drec,
                    C.VIR_DOMAIN_SHUTOFF_FAILED,
                    C.VIR_DOMAIN_EVENT_STOPPED_FAILED,
                    out,
                )
        world.deliver(out)

    def finish(self, copied: list[str]) -> None:
        world, src, dst, rec, drec, job = (
            self.world,
            self.src,
            self.dst,
            self.rec,
            self.drec,
            self.job,
        )
        flags = job.flags
        out: list[Delivery] = []
        with world.lock:
            job.finished = True
            stats = job.stats(world.clock.now(), completed=True)
            for path in copied:
                dst.create_file(path, src.file_size(path) or 0)
            drec.incoming = False
            if flags & C.VIR_MIGRATE_PERSIST_DEST:
                detail = (
                    C.VIR_DOMAIN_EVENT_DEFINED_UPDATED
                    if drec.persistent
                    else C.VIR_DOMAIN_EVENT_DEFINED_ADDED
                )
                drec.config = rec.config or rec.spec
                world.lifecycle(dst, drec, C.VIR_DOMAIN_EVENT_DEFINED, detail, out)
            if job.phase == "postcopy":
                pass
            elif flags & C.VIR_MIGRATE_PAUSED:
                drec.state, drec.reason = C.VIR_DOMAIN_PAUSED, C.VIR_DOMAIN_PAUSED_USER
                world.lifecycle(
                    dst,
                    drec,
                    C.VIR_DOMAIN_EVENT_SUSPENDED,
                    C.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED,
                    out,
                )
            else:
                actions.unpause(
                    world,
                    dst,
                    drec,
                    C.VIR_DOMAIN_RUNNING_MIGRATED,
                    C.VIR_DOMAIN_EVENT_RESUMED_MIGRATED,
                    out,
                )
            drec.completed_job = stats
            rec.job = None
            actions.stop(
                world,
                src,
                rec,
                C.VIR_DOMAIN_SHUTOFF_MIGRATED,
                C.VIR_DOMAIN_EVENT_STOPPED_MIGRATED,
                out,
            )
            rec.completed_job = stats
            if flags & C.VIR_MIGRATE_UNDEFINE_SOURCE and rec.persistent:
                # No UNDEFINED event: libvirt 9 removes the source definition silently.
                rec.config = None
                src.domains.pop(rec.spec.uuid, None)
        world.deliver(out)
