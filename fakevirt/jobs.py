"""Jobs: the progress record of a migration (:class:`MigrationJob`) and the job API
(jobInfo, jobStats, abortJob, max downtime, post-copy)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fakevirt import constants as C
from fakevirt.clock import Wakeup
from fakevirt.errors import fail_as

if TYPE_CHECKING:
    from fakevirt.domain import virDomain

_NONE: dict[str, Any] = {"type": C.VIR_DOMAIN_JOB_NONE}
MIB = 1024 * 1024


_COPYING = ("setup", "disk", "memory")
# Clock seconds: a boundary this close counts as reached (clock times near the epoch are
# 0.24 µs apart, so a shorter wait might not move the clock at all).
SLACK = 1e-6


@dataclass
class MigrationJob:
    """Progress of one outgoing migration (read by jobStats from other threads).

    The copy is continuous: disks first, then memory pre-copy, at ``bandwidth`` bytes/s
    while the guest dirties ``dirty_rate`` bytes/s.  The counters hold the progress at
    clock time ``at``; :meth:`advance` brings them up to any later time, so progress reads
    the same whenever it is looked at, and the migration's thread only has to wake at the
    boundaries (:meth:`seconds_to_boundary`) or when ``wakeup`` is set.
    """

    flags: int
    started: float
    bandwidth: float
    dirty_rate: float
    memory_total: int
    memory_remaining: float
    disk_total: int
    memory_processed: float = 0.0
    disk_processed: float = 0.0
    phase: str = "setup"
    postcopy_requested: bool = False
    abort_reason: str | None = None
    finished: bool = False
    downtime_ms: int = 0
    at: float = field(init=False)  # the clock time the counters describe
    wakeup: Wakeup | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.at = self.started

    def wake(self) -> None:
        """Make the migration's thread look again now (abort, post-copy, a fault...)."""
        if self.wakeup is not None:
            self.wakeup.set()

    def advance(self, now: float) -> None:
        """Bring the counters from ``at`` up to ``now`` (while disks or memory are being
        copied; they stand still from the switchover on)."""
        dt, self.at = now - self.at, max(self.at, now)
        if dt <= 0 or self.phase not in _COPYING:
            return
        bw = self.bandwidth
        disk_left = self.disk_total - self.disk_processed
        if disk_left > 0:
            spent = min(dt, disk_left / bw)
            self.disk_processed = (
                float(self.disk_total) if spent < dt else self.disk_processed + bw * spent
            )
            dt -= spent
            if dt <= 0:
                return
        shrink = bw - self.dirty_rate  # how fast the dirty memory left to send shrinks
        if shrink > 0 and self.memory_remaining < shrink * dt:
            to_empty = self.memory_remaining / shrink  # then only new dirt is sent
            self.memory_processed += bw * to_empty + self.dirty_rate * (dt - to_empty)
            self.memory_remaining = 0.0
            return
        self.memory_processed += bw * dt
        self.memory_remaining = min(float(self.memory_total), self.memory_remaining - shrink * dt)

    def disks_copied(self) -> bool:
        """Whether the block copy is over (memory pre-copy follows)."""
        return self.disk_total - self.disk_processed <= self.bandwidth * SLACK

    def converged(self, max_downtime_ms: int) -> bool:
        """Whether memory has had its first full pass and what is left fits the downtime."""
        slack = self.bandwidth * SLACK
        return (
            self.disks_copied()
            and self.memory_processed >= self.memory_total - slack
            and self.memory_remaining <= self.bandwidth * max_downtime_ms / 1000.0 + slack
        )

    def seconds_to_boundary(self, max_downtime_ms: int) -> float | None:
        """Clock seconds from ``at`` until the disks are copied or memory converges (None:
        memory never converges at this dirty rate)."""
        bw = self.bandwidth
        if not self.disks_copied():
            return max(SLACK, (self.disk_total - self.disk_processed) / bw)
        first_pass = max(0.0, (self.memory_total - self.memory_processed) / bw)
        excess = self.memory_remaining - bw * max_downtime_ms / 1000.0
        if excess <= 0:
            return max(SLACK, first_pass)
        shrink = bw - self.dirty_rate
        if shrink <= 0:
            return None
        return max(SLACK, first_pass, excess / shrink)

    def stats(self, now: float, completed: bool = False) -> dict[str, Any]:
        """The job as libvirt-python's jobStats() dict.

        The keys of a completed job are exactly those libvirt 9.0 / QEMU 7.2 report (measured
        by tests/fidelity/test_qemu_fidelity.py); a running job has the same ones without
        the downtime, plus ``disk_bps`` while disks are copied.
        """
        disk_rem = max(0, int(self.disk_total - self.disk_processed))
        mem_rem = 0 if completed else int(self.memory_remaining)
        elapsed = int((now - self.started) * 1000)
        pages = int(self.memory_processed) // 4096
        out: dict[str, Any] = {
            "type": C.VIR_DOMAIN_JOB_COMPLETED if completed else C.VIR_DOMAIN_JOB_UNBOUNDED,
            C.VIR_DOMAIN_JOB_OPERATION: C.VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT,
            C.VIR_DOMAIN_JOB_TIME_ELAPSED: elapsed,
            C.VIR_DOMAIN_JOB_TIME_ELAPSED_NET: elapsed,
            C.VIR_DOMAIN_JOB_SETUP_TIME: 0,
            C.VIR_DOMAIN_JOB_MEMORY_TOTAL: self.memory_total,
            C.VIR_DOMAIN_JOB_MEMORY_PROCESSED: int(self.memory_processed),
            C.VIR_DOMAIN_JOB_MEMORY_REMAINING: mem_rem,
            C.VIR_DOMAIN_JOB_MEMORY_CONSTANT: 0,
            C.VIR_DOMAIN_JOB_MEMORY_NORMAL: pages,
            C.VIR_DOMAIN_JOB_MEMORY_NORMAL_BYTES: pages * 4096,
            C.VIR_DOMAIN_JOB_MEMORY_BPS: int(self.bandwidth),
            C.VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE: int(self.dirty_rate // 4096),
            C.VIR_DOMAIN_JOB_MEMORY_PAGE_SIZE: 4096,
            C.VIR_DOMAIN_JOB_MEMORY_ITERATION: self.iteration,
            C.VIR_DOMAIN_JOB_MEMORY_POSTCOPY_REQS: 0,
            C.VIR_DOMAIN_JOB_DISK_TOTAL: self.disk_total,
            C.VIR_DOMAIN_JOB_DISK_PROCESSED: int(self.disk_processed),
            C.VIR_DOMAIN_JOB_DISK_REMAINING: disk_rem,
            C.VIR_DOMAIN_JOB_DATA_TOTAL: self.memory_total + self.disk_total,
            C.VIR_DOMAIN_JOB_DATA_PROCESSED: int(self.memory_processed + self.disk_processed),
            C.VIR_DOMAIN_JOB_DATA_REMAINING: mem_rem + disk_rem,
        }
        if completed:
            out[C.VIR_DOMAIN_JOB_DOWNTIME] = self.downtime_ms
            out[C.VIR_DOMAIN_JOB_DOWNTIME_NET] = self.downtime_ms
        elif self.disk_total:
            out[C.VIR_DOMAIN_JOB_DISK_BPS] = int(self.bandwidth)
        return out

    @property
    def iteration(self) -> int:
        """Pre-copy pass number (1 during the first full pass over memory)."""
        return 1 + int(self.memory_processed // max(1, self.memory_total))


def job_stats(dom: virDomain, flags: int) -> dict[str, Any]:
    """virDomainGetJobStats as libvirt-python returns it (a dict keyed by field names)."""
    host, rec = dom._enter("virDomainGetJobStats", "jobStats")
    if host.flavour != "qemu":
        fail_as(host.flavour, "no_job", func="virDomainGetJobStats")
    world = dom.connect().world
    with world.lock:
        if flags & C.VIR_DOMAIN_JOB_STATS_COMPLETED:
            stats = rec.completed_job
            if stats is None:
                return dict(_NONE)
            if not flags & C.VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED:
                rec.completed_job = None
            return dict(stats)
        if rec.job is None:
            return dict(_NONE)
        now = world.clock.now()
        rec.job.advance(now)
        return rec.job.stats(now)


def job_info(dom: virDomain) -> list[int]:
    """virDomainGetJobInfo: [type, time elapsed, time remaining, data total, processed,
    remaining, memory total, processed, remaining, file total, processed, remaining]."""
    host, _ = dom._enter("virDomainGetJobInfo", "jobInfo")
    if host.flavour != "qemu":
        fail_as(host.flavour, "no_job", func="virDomainGetJobInfo")
    s = job_stats(dom, 0)
    keys = (
        C.VIR_DOMAIN_JOB_TIME_ELAPSED,
        C.VIR_DOMAIN_JOB_TIME_REMAINING,
        C.VIR_DOMAIN_JOB_DATA_TOTAL,
        C.VIR_DOMAIN_JOB_DATA_PROCESSED,
        C.VIR_DOMAIN_JOB_DATA_REMAINING,
        C.VIR_DOMAIN_JOB_MEMORY_TOTAL,
        C.VIR_DOMAIN_JOB_MEMORY_PROCESSED,
        C.VIR_DOMAIN_JOB_MEMORY_REMAINING,
        C.VIR_DOMAIN_JOB_DISK_TOTAL,
        C.VIR_DOMAIN_JOB_DISK_PROCESSED,
        C.VIR_DOMAIN_JOB_DISK_REMAINING,
    )
    return [int(s["type"]), *(int(s.get(k, 0)) for k in keys)]


def abort_job(dom: virDomain) -> int:
    """Ask the running migration to stop; it fails with VIR_ERR_OPERATION_ABORTED."""
    host, rec = dom._enter("virDomainAbortJob", "abortJob")
    if host.flavour != "qemu":
        fail_as(host.flavour, "no_job", func="virDomainAbortJob")
    world = dom.connect().world
    with world.lock:
        if rec.job is None or rec.job.finished:
            fail_as(host.flavour, "no_job", "virDomainAbortJob() failed")
        rec.job.abort_reason = rec.job.abort_reason or "abort"
        rec.job.wake()
        world.cond.notify_all()
    return 0


def set_max_downtime(dom: virDomain, downtime: int) -> int:
    """Set the tolerated migration downtime in milliseconds."""
    host, rec = dom._enter("virDomainMigrateSetMaxDowntime", "migrateSetMaxDowntime")
    if host.flavour != "qemu":
        fail_as(host.flavour, "no_job", func="virDomainMigrateSetMaxDowntime")
    if not rec.active:
        fail_as(host.flavour, "not_running")
    with dom.connect().world.lock:
        rec.max_downtime_ms = int(downtime)
        if rec.job is not None:
            rec.job.wake()  # what is left may fit the new downtime already
    return 0


def get_max_downtime(dom: virDomain) -> int | None:
    """The tolerated migration downtime in milliseconds (300 by default, as QEMU)."""
    host, rec = dom._enter("virDomainMigrateGetMaxDowntime", "migrateGetMaxDowntime")
    if host.flavour != "qemu":
        return None
    if not rec.active:
        fail_as(host.flavour, "not_running")
    return rec.max_downtime_ms


def start_post_copy(dom: virDomain) -> int:
    """Switch the running outgoing migration to post-copy."""
    host, rec = dom._enter("virDomainMigrateStartPostCopy", "migrateStartPostCopy")
    if host.flavour != "qemu":
        fail_as(host.flavour, "no_job", func="virDomainMigrateStartPostCopy")
    world = dom.connect().world
    with world.lock:
        if not rec.active:
            fail_as(host.flavour, "not_running")
        if rec.job is None or rec.job.finished:
            fail_as(host.flavour, "postcopy_no_job")
        if not rec.job.flags & C.VIR_MIGRATE_POSTCOPY:
            fail_as(host.flavour, "postcopy_flag")
        rec.job.postcopy_requested = True
        rec.job.wake()
    return 0
