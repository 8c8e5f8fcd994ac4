"""Job queries and control: jobInfo, jobStats, abortJob, max downtime, post-copy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fakevirt import constants as C
from fakevirt.errors import fail_as

if TYPE_CHECKING:
    from fakevirt.domain import virDomain

_NONE: dict[str, Any] = {"type": C.VIR_DOMAIN_JOB_NONE}


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
        return rec.job.stats(world.clock.now())


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
        world.cond.notify_all()
    return 0


def set_max_downtime(dom: virDomain, downtime: int) -> int:
    """Set the tolerated migration downtime in milliseconds."""
    host, rec = dom._enter("virDomainMigrateSetMaxDowntime", "migrateSetMaxDowntime")
    if host.flavour != "qemu":
        fail_as(host.flavour, "no_job", func="virDomainMigrateSetMaxDowntime")
    if not rec.active:
        fail_as(host.flavour, "not_running")
    rec.max_downtime_ms = int(downtime)
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
    return 0
