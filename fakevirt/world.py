"""The world: hosts, shared storage, faults, the clock and event delivery, behind one lock.

Build one with the public methods (``add_host``, ``add_shared_storage``, ``inject``...); the
module-level default world is reached through :func:`fakevirt.world` and replaced by
:func:`fakevirt.reset`. The lock is never held while sleeping on the clock or while calling
user callbacks.
"""

from __future__ import annotations

import socket
import threading
import uuid as uuidlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fakevirt import constants as C
from fakevirt.clock import Clock, InstantClock
from fakevirt.domxml import DomainSpec, parse_domain
from fakevirt.faults import ONE_SHOT, Fault, FaultHandle
from fakevirt.model import TEST_URI, Delivery, DomainRecord, Host, SharedStorage

if TYPE_CHECKING:
    from fakevirt.binding import LibvirtModule
    from fakevirt.connection import virConnect

EVENT_NAMES = {
    getattr(C, f"VIR_DOMAIN_EVENT_{n}"): n
    for n in (
        "DEFINED",
        "UNDEFINED",
        "STARTED",
        "SUSPENDED",
        "RESUMED",
        "STOPPED",
        "SHUTDOWN",
        "PMSUSPENDED",
        "CRASHED",
    )
}

_TEST_DOMAIN_XML = """<domain type='test'><name>test</name>
<uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
<memory unit='KiB'>8388608</memory><currentMemory unit='KiB'>2097152</currentMemory>
<vcpu placement='static'>2</vcpu><os><type arch='i686'>hvm</type><boot dev='hd'/></os>
<clock offset='utc'/><on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot>
<on_crash>destroy</on_crash><devices><disk type='file' device='disk'>
<source file='/guest/diskimage1'/><target dev='vda' bus='virtio'/>
<address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></disk>
<interface type='network'><mac address='aa:bb:cc:dd:ee:ff'/><source network='default'/>
<target dev='testnet0'/>
<address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/></interface>
<memballoon model='virtio'>
<address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/></memballoon>
</devices></domain>"""


_SPEC_CACHE_SIZE = 512


def uri_hostname(uri: str) -> str | None:
    """The hostname a ``fake://h/system`` or ``qemu+tcp://h/system`` URI names (or None)."""
    parts = urlsplit(uri)
    return parts.hostname


class World:
    """A set of fake hosts sharing one clock, fault set and event queue.

    ``immediate_events`` delivers event and close callbacks synchronously after the
    operation instead of queueing them for ``virEventRunDefaultImpl``. ``check_disk_files``
    makes starting a domain whose file or block disk is missing fail as QEMU does.
    ``event_loop_block`` is how long (real seconds) ``virEventRunDefaultImpl`` waits for
    something to deliver before returning 0. Migration runs at ``migration_bandwidth_mib``
    MiB/s (unless VIR_MIGRATE_PARAM_BANDWIDTH says otherwise) while the guest dirties
    ``migration_dirty_rate_mib`` MiB/s; on a clock without ``signal()`` it looks every
    ``migration_step`` clock seconds (see :mod:`fakevirt.clock`). A clean shutdown
    (``virDomainShutdown``) takes ``shutdown_seconds`` of clock time on QEMU-like hosts (a
    host's own ``shutdown_seconds`` overrides it; the test:///default host shuts down at
    once, as libvirt's test driver does).
    """

    def __init__(
        self,
        clock: Clock | None = None,
        immediate_events: bool = False,
        check_disk_files: bool = True,
    ) -> None:
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.clock: Clock = clock or InstantClock()
        self.immediate_events = immediate_events
        self.check_disk_files = check_disk_files
        self.event_loop_block = 1.0
        self.migration_bandwidth_mib = 256.0
        self.migration_dirty_rate_mib = 8.0
        self.migration_step = 0.25
        self.shutdown_seconds = 2.0
        self.hosts: dict[str, Host] = {}
        self.storages: dict[str, SharedStorage] = {}
        self._faults: dict[int, Fault] = {}
        self._fault_seq = 0
        self._pending: list[Delivery] = []
        self._module: LibvirtModule | None = None
        self._specs: dict[tuple[str, str, str], tuple[DomainSpec, bool]] = {}
        # Guests powering off after an ACPI request: id(record) -> (host, record, timer).
        self.shutdowns: dict[int, tuple[Host, DomainRecord, Any]] = {}
        self._add_test_host()

    def libvirt_module(self) -> LibvirtModule:
        """A libvirt module whose ``open``/``openAuth``/event loop/... use this world.

        The same object on every call; see :mod:`fakevirt.binding`.
        """
        if self._module is None:
            from fakevirt.binding import LibvirtModule

            self._module = LibvirtModule(self)
        return self._module

    # ---- building --------------------------------------------------------------------
    def _add_test_host(self) -> None:
        host = Host(
            hostname=socket.gethostname(),
            uri=TEST_URI,
            flavour="test",
            vcpus=16,
            memory_kib=3072 * 1024,
            cpu_model="i686",
            arch="i686",
            mhz=1400,
            host_uuid="6695eb01-f6a4-8304-79aa-97f2502e193f",
        )
        spec = parse_domain(_TEST_DOMAIN_XML)
        rec = DomainRecord(
            spec=spec,
            config=spec,
            state=C.VIR_DOMAIN_RUNNING,
            reason=C.VIR_DOMAIN_RUNNING_UNKNOWN,
            id=1,
        )
        host.domains[spec.uuid] = rec
        host.next_id = 2
        self.hosts[TEST_URI] = host

    def add_host(
        self,
        hostname: str,
        *,
        vcpus: int = 8,
        memory_mb: int = 16384,
        disk_gb: int = 100,
        cpu_model: str = "Skylake-Client-IBRS",
        cpu_vendor: str = "Intel",
        host_uuid: str | None = None,
        arch: str = "x86_64",
        mhz: int = 2400,
        kvm: bool = False,
        shutdown_seconds: float | None = None,
    ) -> Host:
        """Add a QEMU-like host reachable as ``fake://<hostname>/system``.

        ``qemu://``, ``qemu+tcp://``, ``qemu+ssh://`` and ``qemu+tls://`` URIs naming the same
        hostname reach it too. The host UUID defaults to a fresh random one. Domains must
        have type 'qemu' (TCG), or also 'kvm' when ``kvm`` is True (the container nodes of
        the real backend have no KVM). ``shutdown_seconds`` is how long a guest takes to
        power off after an ACPI request (default: the world's ``shutdown_seconds``).
        """
        with self.lock:
            if hostname in self.hosts:
                raise ValueError(f"host {hostname!r} already exists")
            host = Host(
                hostname=hostname,
                uri=f"fake://{hostname}/system",
                vcpus=vcpus,
                memory_kib=memory_mb * 1024,
                disk_bytes=disk_gb * 1024**3,
                cpu_model=cpu_model,
                cpu_vendor=cpu_vendor,
                arch=arch,
                mhz=mhz,
                host_uuid=host_uuid or str(uuidlib.uuid4()),
                kvm=kvm,
                shutdown_seconds=shutdown_seconds,
            )
            self.hosts[hostname] = host
            return host

    def host(self, name_or_uri: str) -> Host:
        """The host with that hostname or URI (KeyError when there is none)."""
        with self.lock:
            host = self.hosts.get(name_or_uri) or self.host_for_uri(name_or_uri)
            if host is None:
                raise KeyError(name_or_uri)
            return host

    def host_for_uri(self, uri: str) -> Host | None:
        """The host a connection URI names, or None."""
        if uri in self.hosts:
            return self.hosts[uri]
        name = uri_hostname(uri)
        if name is None:
            return None
        host = self.hosts.get(name)
        return host if host is not None and host.flavour == "qemu" else None

    def add_shared_storage(
        self, name: str, mount_path: str, hosts: Iterable[str], fs: str = "local"
    ) -> SharedStorage:
        """Mount a shared filesystem/volume at ``mount_path`` on each of ``hosts``.

        ``fs`` is "local" (default, libvirt does not trust it: migration needs UNSAFE),
        "nfs" or "cluster"; see :class:`fakevirt.model.SharedStorage`.
        """
        if fs not in ("local", "nfs", "cluster"):
            raise ValueError("fs must be 'local', 'nfs' or 'cluster'")
        with self.lock:
            store = SharedStorage(name=name, mount_path=mount_path.rstrip("/") or "/", fs=fs)
            self.storages[name] = store
            for h in hosts:
                self.mount(name, h)
            return store

    def mount(self, storage: str, hostname: str) -> None:
        """Mount an existing shared storage on one more host."""
        with self.lock:
            store = self.storages[storage]
            host = self.host(hostname)
            host.mounts[store.mount_path] = store
            store.hosts.add(host.hostname)

    # ---- faults ----------------------------------------------------------------------
    def inject(self, fault: Fault | dict[str, Any]) -> FaultHandle:
        """Inject a fault (a :class:`Fault` or its dict form); returns a clearable handle."""
        if isinstance(fault, dict):
            fault = Fault.from_dict(fault)
        with self.lock:
            self._fault_seq += 1
            fault.id = self._fault_seq
            if fault.kind not in ONE_SHOT:
                self._faults[fault.id] = fault
        if fault.kind in ONE_SHOT:
            from fakevirt.actions import apply_one_shot

            apply_one_shot(self, fault)
        elif fault.kind == "host_hang":
            with self.lock:
                self.host(fault.host or "").status = "hung"
        self.wake_migrations()
        return FaultHandle(self, fault)

    def clear_fault(self, fault_id: int | None) -> bool:
        """Clear one active fault by id; True when it was active."""
        with self.lock:
            fault = self._faults.pop(fault_id or -1, None)
            if fault is not None and fault.kind == "host_hang":
                host = self.host(fault.host or "")
                if host.status == "hung":
                    host.status = "up"
            if fault is not None and fault.kind == "delayed_events":
                for d in self._pending:
                    d.due = 0.0
            self.cond.notify_all()
            self.wake_migrations()
            return fault is not None

    def clear_faults(self) -> None:
        """Clear every active fault."""
        for fid in list(self._faults):
            self.clear_fault(fid)

    def active_faults(self) -> list[Fault]:
        """The faults still active."""
        with self.lock:
            return list(self._faults.values())

    def wake_migrations(self) -> None:
        """Make every running migration look again now: a fault or a host's state changed
        (a migration otherwise sleeps until its next phase boundary)."""
        with self.lock:
            for host in self.hosts.values():
                for rec in host.domains.values():
                    if rec.job is not None:
                        rec.job.wake()

    def take_fault(
        self,
        kind: str,
        host: str | None,
        domain: str | None = None,
        op: str | None = None,
        event: str | None = None,
        phase: str | None = None,
    ) -> Fault | None:
        """Find an active fault that applies, counting one use of it. Caller holds no lock."""
        if not self._faults:
            return None
        return self.take_first(lambda f: f.matches(kind, host, domain, op, event, phase))

    def take_first(self, applies: Callable[[Fault], bool]) -> Fault | None:
        """The first active fault ``applies`` accepts, counting one use of it."""
        if not self._faults:
            return None
        with self.lock:
            for fault in list(self._faults.values()):
                if applies(fault):
                    if fault.count is not None:
                        fault.count -= 1
                        if fault.count <= 0:
                            self._faults.pop(fault.id or -1, None)
                    return fault
        return None

    # ---- events ----------------------------------------------------------------------
    def lifecycle(
        self, host: Host, rec: DomainRecord, event: int, detail: int, out: list[Delivery]
    ) -> None:
        """Queue a lifecycle event of rec on host for every matching registration."""
        for conn in host.conns:
            if conn.has_registrations():
                break
        else:
            return
        delay = 0.0
        if self._faults:
            name = EVENT_NAMES.get(event)
            if self.take_fault("lost_events", host.hostname, rec.spec.name, event=name):
                return
            late = self.take_fault("delayed_events", host.hostname, rec.spec.name, event=name)
            delay = late.seconds if late else 0.0
        self._fan_out(host, rec, C.VIR_DOMAIN_EVENT_ID_LIFECYCLE, (event, detail), delay, out)

    def reboot_event(self, host: Host, rec: DomainRecord, out: list[Delivery]) -> None:
        """Queue a VIR_DOMAIN_EVENT_ID_REBOOT event."""
        if host.conns:
            self._fan_out(host, rec, C.VIR_DOMAIN_EVENT_ID_REBOOT, (), 0.0, out)

    def _fan_out(
        self,
        host: Host,
        rec: DomainRecord,
        event_id: int,
        args: tuple[int, ...],
        delay: float,
        out: list[Delivery],
    ) -> None:
        due = self.clock.now() + delay if delay else 0.0
        name, uuid, dom_id = rec.spec.name, rec.spec.uuid, rec.id
        for conn in host.conns:
            for reg in conn.registrations():
                if reg.event_id != event_id or reg.dom_uuid not in (None, uuid):
                    continue
                out.append(
                    Delivery(due, _caller(conn, reg.cb, name, uuid, dom_id, args, reg.opaque))
                )

    def close_event(self, conn: virConnect, reason: int, out: list[Delivery]) -> None:
        """Queue the close callback of conn, if it has one."""
        cb = conn.close_callback()
        if cb is not None:
            func, opaque = cb
            out.append(Delivery(0.0, lambda: func(conn, reason, opaque)))

    def deliver(self, deliveries: list[Delivery]) -> None:
        """Run deliveries now (immediate mode) or queue them for the event loop."""
        if not deliveries:
            return
        if self.immediate_events and not any(d.due for d in deliveries):
            for d in deliveries:
                d.call()
            return
        with self.lock:
            self._pending.extend(deliveries)
            self.cond.notify_all()

    def run_events(self, block: float | None = None) -> int:
        """Deliver every due queued callback; wait up to ``block`` real seconds for one."""
        wait = self.event_loop_block if block is None else block
        if self.shutdowns:
            from fakevirt.guest import complete_due

            complete_due(self)
        with self.lock:
            due = self._take_due()
            if not due and wait > 0 and not self._pending:
                self.cond.wait(wait)
                due = self._take_due()
        for d in due:
            d.call()
        return 0

    def _take_due(self) -> list[Delivery]:
        now = self.clock.now()
        due = [d for d in self._pending if d.due <= now]
        if due:
            self._pending = [d for d in self._pending if d.due > now]
        return due

    def pending_events(self) -> int:
        """How many callbacks wait for the event loop."""
        with self.lock:
            return len(self._pending)

    # ---- helpers used by connections/domains -------------------------------------------
    def spec_for(self, host: Host, xml: str) -> DomainSpec:
        """Parse domain XML for host (with the driver's defaults), once per distinct text.

        Specs are immutable, so a redefinition of the same XML reuses the parsed spec. XML
        without a UUID still gets a fresh UUID each time, as libvirt generates one.
        """
        key = (host.flavour, host.arch, xml)
        cached = self._specs.get(key)
        if cached is None:
            spec = self.normalise(host, parse_domain(xml))
            cached = (spec, spec.uuid not in xml)
            if len(self._specs) >= _SPEC_CACHE_SIZE:
                self._specs.clear()
            self._specs[key] = cached
            return spec
        spec, generated_uuid = cached
        return spec.with_uuid(str(uuidlib.uuid4())) if generated_uuid else spec

    def normalise(self, host: Host, spec: DomainSpec) -> DomainSpec:
        """Fill in the defaults the host's driver adds to a new definition."""
        changes: dict[str, object] = {}
        if spec.arch is None:
            changes["arch"] = host.arch
        if host.flavour == "qemu" and spec.machine is None:
            changes["machine"] = "pc-i440fx-7.2"
        if not spec.boot and spec.kernel is None:
            changes["boot"] = ("hd",)
        if host.flavour == "test" and not any(x.lstrip().startswith("<clock") for x in spec.extra):
            changes["extra"] = (*spec.extra, "  <clock offset='utc'/>")
        return spec.with_changes(**changes) if changes else spec


def _caller(
    conn: virConnect,
    cb: Callable[..., Any],
    name: str,
    uuid: str,
    dom_id: int,
    args: tuple[int, ...],
    opaque: Any,
) -> Callable[[], None]:
    def call() -> None:
        cb(conn, conn.domain_handle(name, uuid, dom_id), *args, opaque)

    return call
