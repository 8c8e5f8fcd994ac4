"""State transitions shared by the API and the fault injector.

Every function here expects the caller to hold ``world.lock`` and appends the callbacks to
run (lifecycle events, close callbacks) to ``out``; the caller delivers them after unlocking.
"""

from __future__ import annotations

from fakevirt import constants as C
from fakevirt.errors import fail, make_error
from fakevirt.faults import Fault
from fakevirt.model import Delivery, DomainRecord, Host
from fakevirt.world import World


def check_disks(world: World, host: Host, rec: DomainRecord) -> None:
    """Fail as QEMU does when a file or block disk of rec is missing on host."""
    if host.flavour != "qemu" or not world.check_disk_files:
        return
    for disk in rec.spec.disks:
        if disk.source and disk.type in ("file", "block") and not host.file_exists(disk.source):
            fail(
                C.VIR_ERR_SYSTEM_ERROR,
                C.VIR_FROM_STORAGE,
                f"Cannot access storage file '{disk.source}' (as uid:0, gid:0): "
                "No such file or directory",
                "virDomainCreate() failed",
            )


def start(
    world: World,
    host: Host,
    rec: DomainRecord,
    paused: bool,
    out: list[Delivery],
    detail: int = C.VIR_DOMAIN_EVENT_STARTED_BOOTED,
) -> None:
    """Start rec (boot or restore from managed save), optionally leaving it paused."""
    check_disks(world, host, rec)
    restored = rec.managed_save
    rec.managed_save = False
    if restored and host.flavour == "qemu":
        detail = C.VIR_DOMAIN_EVENT_STARTED_RESTORED
    rec.id = host.next_id
    host.next_id += 1
    rec.started_at = world.clock.now()
    rec.state = C.VIR_DOMAIN_RUNNING
    rec.reason = {
        C.VIR_DOMAIN_EVENT_STARTED_RESTORED: C.VIR_DOMAIN_RUNNING_RESTORED,
        C.VIR_DOMAIN_EVENT_STARTED_MIGRATED: C.VIR_DOMAIN_RUNNING_MIGRATED,
    }.get(detail, C.VIR_DOMAIN_RUNNING_BOOTED)
    # QEMU reports its vCPUs starting (RESUMED) while libvirt still starts the domain, so a
    # boot shows RESUMED/UNPAUSED before STARTED/BOOTED; a restore starts paused and resumes
    # after STARTED/RESTORED (RESUMED/FROM_SNAPSHOT). Measured on libvirt 9.0 / QEMU 7.2.
    resumes = host.flavour == "qemu" and not paused
    if resumes and not restored:
        world.lifecycle(
            host, rec, C.VIR_DOMAIN_EVENT_RESUMED, C.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED, out
        )
    world.lifecycle(host, rec, C.VIR_DOMAIN_EVENT_STARTED, detail, out)
    if resumes and restored:
        world.lifecycle(
            host, rec, C.VIR_DOMAIN_EVENT_RESUMED, C.VIR_DOMAIN_EVENT_RESUMED_FROM_SNAPSHOT, out
        )
    if paused:
        pause(world, host, rec, C.VIR_DOMAIN_PAUSED_USER, C.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED, out)


def pause(
    world: World, host: Host, rec: DomainRecord, reason: int, detail: int, out: list[Delivery]
) -> None:
    """Pause the vCPUs of rec."""
    rec.state, rec.reason = C.VIR_DOMAIN_PAUSED, reason
    world.lifecycle(host, rec, C.VIR_DOMAIN_EVENT_SUSPENDED, detail, out)


def unpause(
    world: World, host: Host, rec: DomainRecord, reason: int, detail: int, out: list[Delivery]
) -> None:
    """Resume the vCPUs of rec."""
    rec.state, rec.reason = C.VIR_DOMAIN_RUNNING, reason
    world.lifecycle(host, rec, C.VIR_DOMAIN_EVENT_RESUMED, detail, out)


def stop(
    world: World,
    host: Host,
    rec: DomainRecord,
    reason: int,
    detail: int | None,
    out: list[Delivery],
) -> None:
    """Stop rec's process; a transient domain disappears, a persistent one shows shut off."""
    rec.cpu_ns += int((world.clock.now() - rec.started_at) * 1e9)
    if rec.shutdown_due is not None:
        rec.shutdown_due = None
        pending = world.shutdowns.pop(id(rec), None)
        if pending is not None and pending[2] is not None:
            pending[2].cancel()
    rec.id = -1
    rec.state, rec.reason = C.VIR_DOMAIN_SHUTOFF, reason
    if rec.job is not None:
        rec.job.abort_reason = "stopped"
        rec.job.wake()
    if detail is not None:
        world.lifecycle(host, rec, C.VIR_DOMAIN_EVENT_STOPPED, detail, out)
    if rec.config is None:
        host.domains.pop(rec.spec.uuid, None)
    else:
        rec.spec = rec.config


def guest_shutdown(world: World, host: Host, rec: DomainRecord, out: list[Delivery]) -> None:
    """The guest powers off (after an ACPI request or on its own)."""
    if host.flavour == "qemu":
        world.lifecycle(
            host, rec, C.VIR_DOMAIN_EVENT_SHUTDOWN, C.VIR_DOMAIN_EVENT_SHUTDOWN_GUEST, out
        )
    stop(world, host, rec, C.VIR_DOMAIN_SHUTOFF_SHUTDOWN, C.VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN, out)


def guest_crash(world: World, host: Host, rec: DomainRecord, out: list[Delivery]) -> None:
    """The guest panics; its on_crash action decides what follows."""
    world.lifecycle(host, rec, C.VIR_DOMAIN_EVENT_CRASHED, C.VIR_DOMAIN_EVENT_CRASHED_PANICKED, out)
    action = rec.spec.on_crash
    if action in ("preserve", "coredump-preserve"):
        rec.state, rec.reason = C.VIR_DOMAIN_CRASHED, C.VIR_DOMAIN_CRASHED_PANICKED
    elif action in ("restart", "rename-restart", "coredump-restart"):
        world.reboot_event(host, rec, out)
    else:
        stop(
            world, host, rec, C.VIR_DOMAIN_SHUTOFF_CRASHED, C.VIR_DOMAIN_EVENT_STOPPED_CRASHED, out
        )


def crash_host(world: World, host: Host, out: list[Delivery]) -> None:
    """The host dies: running domains are gone, connections close (reason EOF)."""
    host.status = "crashed"
    for conn in list(host.conns):
        conn.mark_dead()
        world.close_event(conn, C.VIR_CONNECT_CLOSE_REASON_EOF, out)
    host.conns.clear()
    for rec in list(host.domains.values()):
        if rec.active:
            stop(world, host, rec, C.VIR_DOMAIN_SHUTOFF_CRASHED, None, out)
    world.cond.notify_all()


def closed_error() -> tuple[int, int, str, int, str | None, str | None, str | None, int, int]:
    """The error of a call on a connection whose server went away."""
    return make_error(C.VIR_ERR_INTERNAL_ERROR, C.VIR_FROM_RPC, "client socket is closed")


def apply_one_shot(world: World, fault: Fault) -> None:
    """Carry out a one-shot fault (crash, recovery, guest action, state change)."""
    out: list[Delivery] = []
    with world.lock:
        host = world.host(fault.host or "")
        if fault.kind == "host_crash":
            crash_host(world, host, out)
        elif fault.kind == "host_recover":
            for f in world.active_faults():
                if f.kind == "host_hang" and f.host == fault.host:
                    world.clear_fault(f.id)
            host.status = "up"
            world.cond.notify_all()
        else:
            rec = host.by_name(fault.domain or "")
            if rec is None or not rec.active:
                raise ValueError(f"domain {fault.domain!r} is not running on {fault.host!r}")
            if fault.kind == "guest_shutdown":
                guest_shutdown(world, host, rec, out)
            elif fault.kind == "guest_crash":
                guest_crash(world, host, rec, out)
            elif fault.state == "paused" and rec.state == C.VIR_DOMAIN_RUNNING:
                pause(
                    world,
                    host,
                    rec,
                    C.VIR_DOMAIN_PAUSED_USER,
                    C.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED,
                    out,
                )
            elif fault.state == "running" and rec.state == C.VIR_DOMAIN_PAUSED:
                unpause(
                    world,
                    host,
                    rec,
                    C.VIR_DOMAIN_RUNNING_UNPAUSED,
                    C.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED,
                    out,
                )
            elif fault.state == "destroyed":
                stop(
                    world,
                    host,
                    rec,
                    C.VIR_DOMAIN_SHUTOFF_DESTROYED,
                    C.VIR_DOMAIN_EVENT_STOPPED_DESTROYED,
                    out,
                )
    world.deliver(out)
