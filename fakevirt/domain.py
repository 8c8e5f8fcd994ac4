"""virDomain: a handle on one domain of one connection's host."""

from __future__ import annotations

import uuid as uuidlib
from typing import TYPE_CHECKING, Any

from fakevirt import actions, domxml
from fakevirt import constants as C
from fakevirt.domxml_out import to_xml
from fakevirt.errors import fail, fail_as, has_situation
from fakevirt.guest import request_shutdown
from fakevirt.model import Delivery, DomainRecord, Host

if TYPE_CHECKING:
    from fakevirt.connection import virConnect

_QEMU_TYPES = ("qemu",)


def _check_type(host: Host, spec: domxml.DomainSpec) -> None:
    allowed = ("test",) if host.flavour == "test" else _QEMU_TYPES + (("kvm",) if host.kvm else ())
    if spec.type not in allowed:
        fail(
            C.VIR_ERR_CONFIG_UNSUPPORTED,
            C.VIR_FROM_QEMU if host.flavour == "qemu" else C.VIR_FROM_DOMAIN,
            f"Emulator '/usr/bin/qemu-system-{host.arch}' does not support virt type '{spec.type}'"
            if host.flavour == "qemu"
            else f"no guest on arch '{spec.arch or host.arch}' with virt type '{spec.type}'",
            "virDomainDefineXML() failed",
        )


def _conflicts(host: Host, spec: domxml.DomainSpec) -> DomainRecord | None:
    """The record with spec's UUID (if any), after checking name/UUID clashes."""
    rec = host.domains.get(spec.uuid)
    if rec is not None:
        if rec.spec.name != spec.name:
            fail_as(host.flavour, "uuid_taken", name=rec.spec.name, uuid=spec.uuid)
        return rec
    other = host.by_name(spec.name)
    if other is not None:
        fail_as(host.flavour, "name_taken", name=spec.name, uuid=other.spec.uuid)
    return None


def define(conn: virConnect, xml: str, cname: str = "virDomainDefineXML") -> virDomain:
    """virConnect.defineXML: add or update a persistent definition."""
    host = conn.enter(cname, "defineXML", write=True, fail_point=False)
    world = conn.world
    spec = world.spec_for(host, xml)
    conn.fail_point(cname, "defineXML", spec.name)
    _check_type(host, spec)
    out: list[Delivery] = []
    with world.lock:
        rec = _conflicts(host, spec)
        if rec is None:
            rec = DomainRecord(spec=spec, config=spec)
            host.domains[spec.uuid] = rec
            detail = C.VIR_DOMAIN_EVENT_DEFINED_ADDED
        else:
            detail = (
                C.VIR_DOMAIN_EVENT_DEFINED_UPDATED
                if rec.persistent
                else C.VIR_DOMAIN_EVENT_DEFINED_ADDED
            )
            rec.config = spec
            if not rec.active:
                rec.spec = spec
        world.lifecycle(host, rec, C.VIR_DOMAIN_EVENT_DEFINED, detail, out)
        handle = virDomain(conn, spec.name, spec.uuid, rec.id)
    world.deliver(out)
    return handle


def create_transient(conn: virConnect, xml: str, flags: int) -> virDomain:
    """virConnect.createXML: start a domain from XML without (changing) a definition."""
    host = conn.enter("virDomainCreateXML", "createXML", write=True, fail_point=False)
    world = conn.world
    spec = world.spec_for(host, xml)
    conn.fail_point("virDomainCreateXML", "createXML", spec.name)
    _check_type(host, spec)
    out: list[Delivery] = []
    with world.lock:
        rec = _conflicts(host, spec)
        if rec is not None and rec.active:
            fail_as(host.flavour, "already_active", name=spec.name)
        if rec is None:
            rec = DomainRecord(spec=spec, config=None)
        else:
            rec.spec = spec
        try:
            actions.start(world, host, rec, bool(flags & C.VIR_DOMAIN_START_PAUSED), out)
        except Exception:
            out.clear()
            raise
        host.domains[spec.uuid] = rec
        handle = virDomain(conn, spec.name, spec.uuid, rec.id)
    world.deliver(out)
    return handle


class virDomain:
    """A domain handle, as libvirt-python's virDomain (the ID is cached per handle)."""

    def __init__(self, conn: virConnect, name: str, uuid: str, dom_id: int = -1) -> None:
        self._conn = conn
        self._name = name
        self._uuid = uuid
        self._id = dom_id

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, virDomain) and other._uuid == self._uuid and other._conn is self._conn
        )

    def __hash__(self) -> int:
        return hash(self._uuid)

    # ---- plumbing ----------------------------------------------------------------------
    def _enter(self, cname: str, op: str, write: bool = False) -> tuple[Host, DomainRecord]:
        """Enter the connection and find this domain's record (raises if it is gone)."""
        host = self._conn.enter(cname, op, self._name, write)
        rec = host.domains.get(self._uuid)
        if rec is None:
            fail_as(
                host.flavour, "domain_gone", f"{cname}() failed", uuid=self._uuid, name=self._name
            )
        return host, rec

    def _record(self, cname: str, op: str) -> DomainRecord:
        return self._enter(cname, op)[1]

    def connect(self) -> virConnect:
        """The connection this handle belongs to."""
        return self._conn

    # ---- identity ----------------------------------------------------------------------
    def name(self) -> str:
        """The domain name."""
        return self._name

    def UUIDString(self) -> str:
        """The UUID as a string."""
        return self._uuid

    def UUID(self) -> bytes:
        """The UUID as 16 bytes."""
        return uuidlib.UUID(self._uuid).bytes

    def ID(self) -> int:
        """The ID this handle knows (-1 when it was inactive at lookup or destroyed)."""
        return self._id

    def OSType(self) -> str:
        """The OS type ("hvm")."""
        return self._record("virDomainGetOSType", "OSType").spec.os_type

    # ---- state -------------------------------------------------------------------------
    def info(self) -> list[int]:
        """[state, maxMem KiB, memory KiB, nrVirtCpu, cpuTime ns]."""
        world = self._conn.world
        _, rec = self._enter("virDomainGetInfo", "info")
        with world.lock:
            cpu = rec.cpu_ns
            if rec.active:
                cpu += int((world.clock.now() - rec.started_at) * 1e9)
            return [rec.state, rec.spec.memory_kib, rec.spec.current_kib, rec.spec.vcpus, cpu]

    def state(self, flags: int = 0) -> list[int]:
        """[state, reason]."""
        rec = self._record("virDomainGetState", "state")
        return [rec.state, rec.reason]

    def isActive(self) -> int:
        """1 when running or paused."""
        return int(self._record("virDomainIsActive", "isActive").active)

    def isPersistent(self) -> int:
        """1 when the domain has a persistent definition."""
        return int(self._record("virDomainIsPersistent", "isPersistent").persistent)

    def isUpdated(self) -> int:
        """1 when the persistent definition differs from the live one."""
        rec = self._record("virDomainIsUpdated", "isUpdated")
        return int(rec.active and rec.config is not None and rec.config is not rec.spec)

    def maxMemory(self) -> int:
        """Maximum memory in KiB."""
        return self._record("virDomainGetMaxMemory", "maxMemory").spec.memory_kib

    def XMLDesc(self, flags: int = 0) -> str:
        """The domain XML (VIR_DOMAIN_XML_INACTIVE: the persistent definition)."""
        rec = self._record("virDomainGetXMLDesc", "XMLDesc")
        inactive = bool(flags & C.VIR_DOMAIN_XML_INACTIVE)
        spec = rec.config if inactive and rec.config is not None else rec.spec
        return to_xml(spec, rec.id, inactive)

    # ---- lifecycle ---------------------------------------------------------------------
    def create(self) -> int:
        """Start the (defined) domain."""
        return self._create(0, "virDomainCreate")

    def createWithFlags(self, flags: int = 0) -> int:
        """Start the domain (VIR_DOMAIN_START_PAUSED: leave it paused)."""
        return self._create(flags, "virDomainCreateWithFlags")

    def _create(self, flags: int, cname: str) -> int:
        host, rec = self._enter(cname, "create", write=True)
        world = self._conn.world
        out: list[Delivery] = []
        with world.lock:
            if rec.active:
                fail_as(host.flavour, "create_active", "virDomainCreate() failed", name=self._name)
            try:
                actions.start(world, host, rec, bool(flags & C.VIR_DOMAIN_START_PAUSED), out)
            except Exception:
                if host.flavour == "qemu":
                    rec.reason = C.VIR_DOMAIN_SHUTOFF_FAILED
                raise
            self._id = rec.id
        world.deliver(out)
        return 0

    def destroy(self) -> int:
        """Kill the domain's process."""
        return self._destroy("virDomainDestroy")

    def destroyFlags(self, flags: int = 0) -> int:
        """Kill the domain's process (flags accepted and ignored)."""
        return self._destroy("virDomainDestroyFlags")

    def _destroy(self, cname: str) -> int:
        host, rec = self._enter(cname, "destroy", write=True)
        world = self._conn.world
        out: list[Delivery] = []
        with world.lock:
            if not rec.active:
                fail_as(host.flavour, "not_running", "virDomainDestroy() failed")
            if host.flavour == "qemu":  # QEMU reports the SIGTERM before it exits
                world.lifecycle(
                    host, rec, C.VIR_DOMAIN_EVENT_SHUTDOWN, C.VIR_DOMAIN_EVENT_SHUTDOWN_HOST, out
                )
            actions.stop(
                world,
                host,
                rec,
                C.VIR_DOMAIN_SHUTOFF_DESTROYED,
                C.VIR_DOMAIN_EVENT_STOPPED_DESTROYED,
                out,
            )
            self._id = -1
        world.deliver(out)
        return 0

    def shutdown(self) -> int:
        """Ask the guest to power off (ACPI). The call returns at once; the guest powers
        off after the host's shutdown time (see :mod:`fakevirt.guest`), unless it ignores
        ACPI (the ignore_shutdown fault)."""
        return self._shutdown("virDomainShutdown")

    def shutdownFlags(self, flags: int = 0) -> int:
        """Ask the guest to power off (see shutdown)."""
        return self._shutdown("virDomainShutdownFlags")

    def _shutdown(self, cname: str) -> int:
        host, rec = self._enter(cname, "shutdown", write=True)
        world = self._conn.world
        if world.take_fault("ignore_shutdown", host.hostname, self._name) is not None:
            if not rec.active:
                fail_as(host.flavour, "shutdown_inactive", name=self._name)
            return 0
        out: list[Delivery] = []
        with world.lock:
            if not rec.active:
                fail_as(host.flavour, "shutdown_inactive", f"{cname}() failed", name=self._name)
            if rec.state == C.VIR_DOMAIN_RUNNING or host.flavour == "test":
                request_shutdown(world, host, rec, out)
                if host.flavour == "test":
                    self._id = -1
        world.deliver(out)
        return 0

    def reboot(self, flags: int = 0) -> int:
        """Reboot the guest (a REBOOT event on QEMU hosts; no lifecycle event)."""
        return self._reboot("virDomainReboot", "reboot")

    def reset(self, flags: int = 0) -> int:
        """Reset the guest (a REBOOT event on QEMU hosts; no lifecycle event)."""
        return self._reboot("virDomainReset", "reset")

    def _reboot(self, cname: str, op: str) -> int:
        host, rec = self._enter(cname, op, write=True)
        world = self._conn.world
        out: list[Delivery] = []
        with world.lock:
            if not rec.active:
                fail_as(host.flavour, "not_running", f"{cname}() failed")
            if host.flavour == "qemu":
                world.reboot_event(host, rec, out)
        world.deliver(out)
        return 0

    def suspend(self) -> int:
        """Pause the vCPUs."""
        host, rec = self._enter("virDomainSuspend", "suspend", write=True)
        world = self._conn.world
        out: list[Delivery] = []
        with world.lock:
            if not rec.active:
                fail_as(
                    host.flavour, "suspend_inactive", "virDomainSuspend() failed", name=self._name
                )
            if rec.state == C.VIR_DOMAIN_PAUSED:
                if has_situation(host.flavour, "suspend_paused"):
                    fail_as(host.flavour, "suspend_paused", name=self._name)
                return 0
            actions.pause(
                world, host, rec, C.VIR_DOMAIN_PAUSED_USER, C.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED, out
            )
        world.deliver(out)
        return 0

    def resume(self) -> int:
        """Resume paused vCPUs."""
        host, rec = self._enter("virDomainResume", "resume", write=True)
        world = self._conn.world
        out: list[Delivery] = []
        with world.lock:
            if not rec.active:
                fail_as(
                    host.flavour, "resume_inactive", "virDomainResume() failed", name=self._name
                )
            if rec.state != C.VIR_DOMAIN_PAUSED:
                fail_as(host.flavour, "resume_running", "virDomainResume() failed", name=self._name)
            actions.unpause(
                world,
                host,
                rec,
                C.VIR_DOMAIN_RUNNING_UNPAUSED,
                C.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED,
                out,
            )
        world.deliver(out)
        return 0

    def managedSave(self, flags: int = 0) -> int:
        """Save the guest's memory and stop it; the next start restores it."""
        host, rec = self._enter("virDomainManagedSave", "managedSave", write=True)
        world = self._conn.world
        out: list[Delivery] = []
        with world.lock:
            if not rec.active:
                fail_as(host.flavour, "not_running", "virDomainManagedSave() failed")
            if not rec.persistent:
                fail(
                    C.VIR_ERR_OPERATION_INVALID,
                    C.VIR_FROM_QEMU,
                    "cannot do managed save for transient domain",
                )
            if host.flavour == "qemu" and rec.state == C.VIR_DOMAIN_RUNNING:
                actions.pause(
                    world,
                    host,
                    rec,
                    C.VIR_DOMAIN_PAUSED_SAVE,
                    C.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED,
                    out,
                )
            actions.stop(
                world, host, rec, C.VIR_DOMAIN_SHUTOFF_SAVED, C.VIR_DOMAIN_EVENT_STOPPED_SAVED, out
            )
            rec.managed_save = True
            self._id = -1
        world.deliver(out)
        return 0

    def hasManagedSaveImage(self, flags: int = 0) -> int:
        """1 when a managed save image exists."""
        return int(self._record("virDomainHasManagedSaveImage", "hasManagedSaveImage").managed_save)

    def managedSaveRemove(self, flags: int = 0) -> int:
        """Delete the managed save image."""
        _, rec = self._enter("virDomainManagedSaveRemove", "managedSaveRemove", write=True)
        rec.managed_save = False
        return 0

    def undefine(self) -> int:
        """Remove the persistent definition (a running domain becomes transient)."""
        return self._undefine(0, "virDomainUndefine")

    def undefineFlags(self, flags: int = 0) -> int:
        """undefine; VIR_DOMAIN_UNDEFINE_MANAGED_SAVE also removes a managed save image."""
        return self._undefine(flags, "virDomainUndefineFlags")

    def _undefine(self, flags: int, cname: str) -> int:
        host, rec = self._enter(cname, "undefine", write=True)
        world = self._conn.world
        out: list[Delivery] = []
        with world.lock:
            if not rec.persistent:
                if has_situation(host.flavour, "undefine_transient"):
                    fail_as(host.flavour, "undefine_transient", "virDomainUndefine() failed")
                return 0
            if rec.managed_save:
                if not flags & C.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE:
                    fail_as(host.flavour, "undefine_managed_save", "virDomainUndefine() failed")
                rec.managed_save = False
            world.lifecycle(
                host, rec, C.VIR_DOMAIN_EVENT_UNDEFINED, C.VIR_DOMAIN_EVENT_UNDEFINED_REMOVED, out
            )
            rec.config = None
            if not rec.active:
                host.domains.pop(rec.spec.uuid, None)
        world.deliver(out)
        return 0

    # ---- devices and metadata (fakevirt.devices) ---------------------------------------
    def attachDevice(self, xml: str) -> int:
        """Attach a device to the running domain."""
        from fakevirt.devices import attach

        return attach(self, xml, C.VIR_DOMAIN_AFFECT_LIVE, "virDomainAttachDevice")

    def attachDeviceFlags(self, xml: str, flags: int = 0) -> int:
        """Attach a device (VIR_DOMAIN_AFFECT_LIVE / _CONFIG / _CURRENT)."""
        from fakevirt.devices import attach

        return attach(self, xml, flags, "virDomainAttachDeviceFlags")

    def detachDevice(self, xml: str) -> int:
        """Detach a device from the running domain."""
        from fakevirt.devices import detach

        return detach(self, xml, C.VIR_DOMAIN_AFFECT_LIVE, "virDomainDetachDevice")

    def detachDeviceFlags(self, xml: str, flags: int = 0) -> int:
        """Detach a device (VIR_DOMAIN_AFFECT_LIVE / _CONFIG / _CURRENT)."""
        from fakevirt.devices import detach

        return detach(self, xml, flags, "virDomainDetachDeviceFlags")

    def setMetadata(
        self, type: int, metadata: str | None, key: str | None, uri: str | None, flags: int = 0
    ) -> int:
        """Set (or with metadata=None remove) title, description or a custom element."""
        from fakevirt.devices import set_metadata

        return set_metadata(self, type, metadata, key, uri, flags)

    def metadata(self, type: int, uri: str | None, flags: int = 0) -> str:
        """Read title, description or the custom element of namespace uri."""
        from fakevirt.devices import get_metadata

        return get_metadata(self, type, uri, flags)

    # ---- jobs and migration (fakevirt.migration) ---------------------------------------
    def jobInfo(self) -> list[int]:
        """The current job as virDomainJobInfo's 12 numbers."""
        from fakevirt import jobs

        return jobs.job_info(self)

    def jobStats(self, flags: int = 0) -> dict[str, Any]:
        """The current (or with VIR_DOMAIN_JOB_STATS_COMPLETED the last) job's statistics."""
        from fakevirt import jobs

        return jobs.job_stats(self, flags)

    def abortJob(self) -> int:
        """Abort the running job (a migration fails with VIR_ERR_OPERATION_ABORTED)."""
        from fakevirt import jobs

        return jobs.abort_job(self)

    def migrateToURI3(self, dconnuri: str, params: dict[str, Any], flags: int = 0) -> int:
        """Migrate to the host ``dconnuri`` names (peer-to-peer)."""
        from fakevirt.migration import migrate

        return migrate(self, dconnuri, params, flags)

    def migrateSetMaxDowntime(self, downtime: int, flags: int = 0) -> int:
        """Set the tolerated downtime (ms) of live migration."""
        from fakevirt import jobs

        return jobs.set_max_downtime(self, downtime)

    def migrateGetMaxDowntime(self, flags: int = 0) -> int | None:
        """The tolerated downtime (ms) of live migration."""
        from fakevirt import jobs

        return jobs.get_max_downtime(self)

    def migrateStartPostCopy(self, flags: int = 0) -> int:
        """Switch the running migration (started with VIR_MIGRATE_POSTCOPY) to post-copy."""
        from fakevirt import jobs

        return jobs.start_post_copy(self)
