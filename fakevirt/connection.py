"""virConnect: a connection to one fake host."""

from __future__ import annotations

import threading
import uuid as uuidlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fakevirt import actions, opfail
from fakevirt import constants as C
from fakevirt.capabilities import capabilities_xml
from fakevirt.errors import fail, fail_as, fail_raw
from fakevirt.guest import complete_due
from fakevirt.model import PORT, Delivery, DomainRecord, Host, Registration
from fakevirt.world import World, uri_hostname

if TYPE_CHECKING:
    from fakevirt.domain import virDomain

_LIST_FLAGS = (
    C.VIR_CONNECT_LIST_DOMAINS_ACTIVE
    | C.VIR_CONNECT_LIST_DOMAINS_INACTIVE
    | C.VIR_CONNECT_LIST_DOMAINS_PERSISTENT
    | C.VIR_CONNECT_LIST_DOMAINS_TRANSIENT
    | C.VIR_CONNECT_LIST_DOMAINS_RUNNING
    | C.VIR_CONNECT_LIST_DOMAINS_PAUSED
    | C.VIR_CONNECT_LIST_DOMAINS_SHUTOFF
    | C.VIR_CONNECT_LIST_DOMAINS_OTHER
    | C.VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE
    | C.VIR_CONNECT_LIST_DOMAINS_NO_MANAGEDSAVE
    | C.VIR_CONNECT_LIST_DOMAINS_AUTOSTART
    | C.VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART
    | C.VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT
    | C.VIR_CONNECT_LIST_DOMAINS_NO_SNAPSHOT
    | C.VIR_CONNECT_LIST_DOMAINS_HAS_CHECKPOINT
    | C.VIR_CONNECT_LIST_DOMAINS_NO_CHECKPOINT
)


def connect_error(world: World, uri: str) -> None:
    """Raise what libvirt raises when ``uri`` names no reachable fake host."""
    name = uri_hostname(uri)
    if name is None:
        fail(C.VIR_ERR_NO_CONNECT, C.VIR_FROM_NONE, uri, "virConnectOpen() failed")
    host = world.hosts.get(name)
    why = (
        "No route to host"
        if host is not None and host.status == "crashed"
        else "Connection refused"
    )
    fail(
        C.VIR_ERR_SYSTEM_ERROR,
        C.VIR_FROM_RPC,
        f"unable to connect to server at '{name}:{PORT}': {why}",
        "virConnectOpen() failed",
    )


def open_connection(world: World, uri: str, readonly: bool) -> virConnect:
    """Open a connection to the host ``uri`` names (or raise like libvirt)."""
    with world.lock:
        host = world.host_for_uri(uri)
        if host is None or host.status == "crashed":
            connect_error(world, uri)
        assert host is not None
    if host.status == "hung":
        _wait_while_hung(world, host, None, "virConnectOpen")
    conn = virConnect(world, host, uri, readonly)
    with world.lock:
        host.conns.append(conn)
    return conn


def _wait_while_hung(world: World, host: Host, conn: virConnect | None, cname: str) -> None:
    """Block like a call to an unresponsive libvirtd (see the host_hang fault)."""
    fault = next(
        (f for f in world.active_faults() if f.kind == "host_hang" and f.host == host.hostname),
        None,
    )
    keepalive = conn.keepalive if conn is not None else None
    limit = None
    if keepalive is not None and keepalive[0] > 0 and keepalive[1] > 0:
        limit = float(keepalive[0] * (keepalive[1] + 1))
    elif fault is not None and fault.seconds > 0:
        limit = fault.seconds
    if limit is None:
        with world.lock:
            while host.status == "hung":
                world.cond.wait()
        return
    deadline = world.clock.now() + limit
    while host.status == "hung" and world.clock.now() < deadline:
        world.clock.sleep(min(1.0, deadline - world.clock.now()))
    if host.status != "hung":
        return
    if conn is not None and keepalive is not None:
        out: list[Delivery] = []
        with world.lock:
            conn.mark_dead()
            if conn in host.conns:
                host.conns.remove(conn)
            world.close_event(conn, C.VIR_CONNECT_CLOSE_REASON_KEEPALIVE, out)
        world.deliver(out)
        fail(
            C.VIR_ERR_INTERNAL_ERROR,
            C.VIR_FROM_RPC,
            "connection closed due to keepalive timeout",
            f"{cname}() failed",
        )
    fail(
        C.VIR_ERR_SYSTEM_ERROR,
        C.VIR_FROM_RPC,
        "Cannot recv data: Connection timed out",
        f"{cname}() failed",
    )


class virConnect:
    """A connection to one host of a fakevirt world (libvirt-python's virConnect)."""

    def __init__(self, world: World, host: Host, uri: str, readonly: bool = False) -> None:
        self._world = world
        self._host = host
        self._uri = uri
        self._readonly = readonly
        self._closed = False
        self._dead = False
        self._regs: dict[int, Registration] = {}
        self._next_cb = 0
        self._close_cb: tuple[Callable[[virConnect, int, Any], None], Any] | None = None
        self.keepalive: tuple[int, int] | None = None
        self._lock = threading.Lock()

    # ---- plumbing used by the rest of fakevirt ------------------------------------------
    def enter(
        self,
        cname: str,
        op: str,
        domain: str | None = None,
        write: bool = False,
        fail_point: bool = True,
    ) -> Host:
        """Check the connection can serve a call and apply hang/slow/failure faults to it.

        ``cname`` is the C function (virDomainCreateWithFlags), ``op`` the family name
        (create). With ``fail_point`` False the caller checks operation_failure faults
        itself (:meth:`fail_point`) once it knows the domain's name.
        """
        if self._closed:
            fail(C.VIR_ERR_INVALID_CONN, C.VIR_FROM_DOMAIN, cname, f"{cname}() failed")
        if self._dead:
            fail_raw(actions.closed_error(), f"{cname}() failed")
        host = self._host
        if host.status == "hung":
            _wait_while_hung(self._world, host, self, cname)
            if self._dead:
                fail_raw(actions.closed_error(), f"{cname}() failed")
        if write and self._readonly:
            fail(
                C.VIR_ERR_OPERATION_DENIED,
                C.VIR_FROM_NONE,
                f"read only access prevents {cname}",
                f"{cname}() failed",
            )
        world = self._world
        if world.shutdowns:
            complete_due(world)
        if world._faults:
            hostname = host.hostname
            slow = world.take_first(
                lambda f: (
                    f.kind == "slow_operation"
                    and (f.host is None or f.host == hostname)
                    and (f.domain is None or domain is None or f.domain == domain)
                    and opfail.matches_call(f.op, cname, op)
                )
            )
            if slow is not None:
                world.clock.sleep(slow.seconds)
            if fail_point:
                opfail.check(world, host, cname, op, domain)
        return host

    def fail_point(self, cname: str, op: str, domain: str | None) -> None:
        """Raise the error of an operation_failure fault naming this call, if any."""
        if self._world._faults:
            opfail.check(self._world, self._host, cname, op, domain)

    def mark_dead(self) -> None:
        """The server side went away: later calls fail with "client socket is closed"."""
        self._dead = True

    def has_registrations(self) -> bool:
        """True when an event callback is registered on this connection."""
        return bool(self._regs)

    def registrations(self) -> list[Registration]:
        """The event callbacks registered on this connection."""
        return list(self._regs.values())

    def close_callback(self) -> tuple[Callable[[virConnect, int, Any], None], Any] | None:
        """The registered close callback and its opaque value, if any."""
        return self._close_cb

    def domain_handle(self, name: str, uuid: str, dom_id: int) -> virDomain:
        """A virDomain handle of this connection."""
        from fakevirt.domain import virDomain

        return virDomain(self, name, uuid, dom_id)

    @property
    def world(self) -> World:
        """The world this connection belongs to."""
        return self._world

    @property
    def host(self) -> Host:
        """The host this connection talks to."""
        return self._host

    def _handle(self, rec: DomainRecord) -> virDomain:
        return self.domain_handle(rec.spec.name, rec.spec.uuid, rec.id)

    # ---- libvirt API: connection ------------------------------------------------------
    def close(self) -> int:
        """Close the connection; returns the remaining reference count like libvirt."""
        if self._closed:
            fail(C.VIR_ERR_INVALID_CONN, C.VIR_FROM_DOMAIN, "virConnectClose")
        self._closed = True
        with self._world.lock:
            if self in self._host.conns:
                self._host.conns.remove(self)
        self._world.wake_migrations()  # one may run over this connection
        return 1 if self._close_cb is not None else 0

    def __enter__(self) -> virConnect:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._closed:
            self.close()

    def isAlive(self) -> int:
        """1 while the connection works, 0 once closed or its server is gone."""
        return 0 if self._closed or self._dead else 1

    def isSecure(self) -> int:
        """1 (fake connections are local to the process)."""
        return 1

    def isEncrypted(self) -> int:
        """0, as a qemu+tcp connection."""
        return 0

    def setKeepAlive(self, interval: int, count: int) -> int:
        """Enable keepalive: a hung host closes the connection after interval*(count+1) s."""
        self.enter("virConnectSetKeepAlive", "setKeepAlive")
        self.keepalive = (int(interval), int(count)) if interval > 0 else None
        return 0

    def registerCloseCallback(self, cb: Callable[[virConnect, int, Any], None], opaque: Any) -> int:
        """Register cb(conn, reason, opaque), called when the connection closes under us."""
        self.enter("virConnectRegisterCloseCallback", "registerCloseCallback")
        if self._close_cb is not None:
            fail(
                C.VIR_ERR_OPERATION_INVALID,
                C.VIR_FROM_NONE,
                "A close callback is already registered",
            )
        self._close_cb = (cb, opaque)
        return 0

    def unregisterCloseCallback(self) -> None:
        """Remove the close callback."""
        self.enter("virConnectUnregisterCloseCallback", "unregisterCloseCallback")
        if self._close_cb is None:
            fail(C.VIR_ERR_OPERATION_INVALID, C.VIR_FROM_NONE, "A different callback was requested")
        self._close_cb = None

    def getURI(self) -> str:
        """The URI this connection was opened with."""
        self.enter("virConnectGetURI", "getURI")
        return self._uri

    def getHostname(self) -> str:
        """The host's hostname."""
        return self.enter("virConnectGetHostname", "getHostname").hostname

    def getType(self) -> str:
        """ "QEMU" (fake:// hosts) or "TEST" (the test:///default host)."""
        return "TEST" if self.enter("virConnectGetType", "getType").flavour == "test" else "QEMU"

    def getVersion(self) -> int:
        """The hypervisor version: QEMU 7.2.0 (Debian 12) or 2 for the test driver."""
        return 2 if self.enter("virConnectGetVersion", "getVersion").flavour == "test" else 7002000

    def getLibVersion(self) -> int:
        """libvirt's version, 9.0.0."""
        self.enter("virConnectGetLibVersion", "getLibVersion")
        return C.LIBVIR_VERSION_NUMBER

    def getInfo(self) -> list[Any]:
        """[cpu model, memory MiB, cpus, MHz, NUMA nodes, sockets, cores, threads]."""
        h = self.enter("virNodeGetInfo", "getInfo")
        if h.flavour == "test":
            return [h.arch, h.memory_kib // 1024, h.vcpus, h.mhz, 2, 2, 2, 2]
        return [h.arch, h.memory_kib // 1024, h.vcpus, h.mhz, 1, 1, h.vcpus, 1]

    def getCPUMap(self, flags: int = 0) -> tuple[int, list[bool], int]:
        """(number of CPUs, online map, number online)."""
        h = self.enter("virNodeGetCPUMap", "getCPUMap")
        if h.flavour == "test":
            return (8, [True, False, True, False, True, False, False, False], 3)
        return (h.vcpus, [True] * h.vcpus, h.vcpus)

    def getCapabilities(self) -> str:
        """The capabilities XML (host UUID, CPU arch/model/vendor, topology, guests)."""
        return capabilities_xml(self.enter("virConnectGetCapabilities", "getCapabilities"))

    def getFreeMemory(self) -> int:
        """Free memory in bytes (capacity minus running domains' memory)."""
        h = self.enter("virNodeGetFreeMemory", "getFreeMemory")
        with self._world.lock:
            used = sum(r.spec.current_kib for r in h.domains.values() if r.active)
        return max(0, h.memory_kib - used) * 1024

    # ---- libvirt API: domains -----------------------------------------------------------
    def defineXML(self, xml: str) -> virDomain:
        """Define (or update) a persistent domain."""
        from fakevirt.domain import define

        return define(self, xml, "virDomainDefineXML")

    def defineXMLFlags(self, xml: str, flags: int = 0) -> virDomain:
        """Define (or update) a persistent domain."""
        from fakevirt.domain import define

        return define(self, xml, "virDomainDefineXMLFlags")

    def createXML(self, xmlDesc: str, flags: int = 0) -> virDomain:
        """Create and start a transient domain (VIR_DOMAIN_START_PAUSED leaves it paused)."""
        from fakevirt.domain import create_transient

        return create_transient(self, xmlDesc, flags)

    def lookupByName(self, name: str) -> virDomain:
        """The domain with that name (VIR_ERR_NO_DOMAIN if none)."""
        h = self.enter("virDomainLookupByName", "lookupByName", name)
        with self._world.lock:
            rec = h.by_name(name)
            if rec is not None:
                return self._handle(rec)
        fail_as(h.flavour, "no_domain_name", "virDomainLookupByName() failed", name=name)

    def lookupByUUIDString(self, uuidstr: str) -> virDomain:
        """The domain with that UUID string."""
        h = self.enter("virDomainLookupByUUIDString", "lookupByUUIDString")
        try:
            key = str(uuidlib.UUID(uuidstr))
        except (ValueError, TypeError, AttributeError):
            fail_raw(
                (
                    C.VIR_ERR_INVALID_ARG,
                    C.VIR_FROM_DOMAIN,
                    "Invalid UUID",
                    C.VIR_ERR_ERROR,
                    "virDomainLookupByUUIDString",
                    "uuidstr",
                    None,
                    0,
                    0,
                ),
                "virDomainLookupByUUIDString() failed",
            )
        with self._world.lock:
            rec = h.domains.get(key)
            if rec is not None:
                return self._handle(rec)
        fail_as(h.flavour, "no_domain_uuid", "virDomainLookupByUUIDString() failed", uuid=key)

    def lookupByUUID(self, uuid: bytes) -> virDomain:
        """The domain with that 16-byte UUID."""
        return self.lookupByUUIDString(str(uuidlib.UUID(bytes=bytes(uuid))))

    def lookupByID(self, id: int) -> virDomain:
        """The running domain with that ID."""
        h = self.enter("virDomainLookupByID", "lookupByID")
        with self._world.lock:
            rec = h.by_id(id)
            if rec is not None:
                return self._handle(rec)
        fail_as(h.flavour, "no_domain_id", "virDomainLookupByID() failed", id=id)

    def listAllDomains(self, flags: int = 0) -> list[virDomain]:
        """Domains filtered by VIR_CONNECT_LIST_DOMAINS_* flags (groups are ANDed)."""
        h = self.enter("virConnectListAllDomains", "listAllDomains")
        if flags & ~_LIST_FLAGS:
            fail(
                C.VIR_ERR_INVALID_ARG,
                C.VIR_FROM_DOMAIN,
                f"unsupported flags (0x{flags & ~_LIST_FLAGS:x}) in function "
                "virConnectListAllDomains",
            )
        with self._world.lock:
            return [self._handle(r) for r in h.domains.values() if _keep(r, flags)]

    def listDomainsID(self) -> list[int]:
        """IDs of the running domains."""
        h = self.enter("virConnectListDomainsID", "listDomainsID")
        with self._world.lock:
            return sorted(r.id for r in h.domains.values() if r.active)

    def numOfDomains(self) -> int:
        """Number of running domains."""
        return len(self.listDomainsID())

    def listDefinedDomains(self) -> list[str]:
        """Names of the defined, inactive domains."""
        h = self.enter("virConnectListDefinedDomains", "listDefinedDomains")
        with self._world.lock:
            return [r.spec.name for r in h.domains.values() if not r.active]

    def numOfDefinedDomains(self) -> int:
        """Number of defined, inactive domains."""
        return len(self.listDefinedDomains())

    # ---- events ----------------------------------------------------------------------
    def domainEventRegisterAny(
        self, dom: virDomain | None, eventID: int, cb: Callable[..., Any], opaque: Any
    ) -> int:
        """Register cb for eventID (of dom, or all domains); returns the callback id.

        LIFECYCLE callbacks are called cb(conn, dom, event, detail, opaque), REBOOT ones
        cb(conn, dom, opaque); other event ids are accepted and never fire.
        """
        self.enter("virConnectDomainEventRegisterAny", "domainEventRegisterAny")
        with self._lock:
            cb_id = self._next_cb
            self._next_cb += 1
            self._regs[cb_id] = Registration(
                cb_id, None if dom is None else dom.UUIDString(), eventID, cb, opaque
            )
        return cb_id

    def domainEventDeregisterAny(self, callbackID: int) -> None:
        """Remove an event callback by id."""
        self.enter("virConnectDomainEventDeregisterAny", "domainEventDeregisterAny")
        with self._lock:
            if self._regs.pop(callbackID, None) is None:
                fail(
                    C.VIR_ERR_INVALID_ARG,
                    C.VIR_FROM_NONE,
                    f"could not find event callback {callbackID} for deletion",
                )


def _keep(r: DomainRecord, flags: int) -> bool:
    def group(a: int, b: int, is_a: bool) -> bool:
        want = flags & (a | b)
        return not want or want == (a | b) or bool(want & (a if is_a else b))

    if not group(C.VIR_CONNECT_LIST_DOMAINS_ACTIVE, C.VIR_CONNECT_LIST_DOMAINS_INACTIVE, r.active):
        return False
    if not group(
        C.VIR_CONNECT_LIST_DOMAINS_PERSISTENT, C.VIR_CONNECT_LIST_DOMAINS_TRANSIENT, r.persistent
    ):
        return False
    if not group(
        C.VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE,
        C.VIR_CONNECT_LIST_DOMAINS_NO_MANAGEDSAVE,
        r.managed_save,
    ):
        return False
    if not group(
        C.VIR_CONNECT_LIST_DOMAINS_AUTOSTART, C.VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART, False
    ):
        return False
    if not group(
        C.VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT, C.VIR_CONNECT_LIST_DOMAINS_NO_SNAPSHOT, False
    ):
        return False
    states = flags & (
        C.VIR_CONNECT_LIST_DOMAINS_RUNNING
        | C.VIR_CONNECT_LIST_DOMAINS_PAUSED
        | C.VIR_CONNECT_LIST_DOMAINS_SHUTOFF
        | C.VIR_CONNECT_LIST_DOMAINS_OTHER
    )
    if states:
        bit = {
            C.VIR_DOMAIN_RUNNING: C.VIR_CONNECT_LIST_DOMAINS_RUNNING,
            C.VIR_DOMAIN_PAUSED: C.VIR_CONNECT_LIST_DOMAINS_PAUSED,
            C.VIR_DOMAIN_SHUTOFF: C.VIR_CONNECT_LIST_DOMAINS_SHUTOFF,
        }.get(r.state, C.VIR_CONNECT_LIST_DOMAINS_OTHER)
        return bool(states & bit)
    return True
