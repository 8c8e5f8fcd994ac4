"""Domain lifecycle on a QEMU-like host: states, errors and lifecycle events."""

from __future__ import annotations

import fakevirt as lv
from fakevirt import storage
from tests.fakevirt.conftest import DISK, Events, domain_xml, error_of


def test_define_start_stop_undefine_with_events(conn: lv.virConnect) -> None:
    """Each operation gives libvirt's state, reason and event."""
    ev = Events(conn)
    storage.create_image(conn, DISK, 1 << 30)
    dom = conn.defineXML(domain_xml())
    assert dom.state() == [lv.VIR_DOMAIN_SHUTOFF, lv.VIR_DOMAIN_SHUTOFF_UNKNOWN]
    assert dom.ID() == -1 and dom.isActive() == 0 and dom.isPersistent() == 1
    dom.create()
    assert dom.ID() == 1 and dom.state() == [lv.VIR_DOMAIN_RUNNING, lv.VIR_DOMAIN_RUNNING_BOOTED]
    info = dom.info()
    assert info[:4] == [lv.VIR_DOMAIN_RUNNING, 524288, 524288, 1] and len(info) == 5
    dom.suspend()
    assert dom.state() == [lv.VIR_DOMAIN_PAUSED, lv.VIR_DOMAIN_PAUSED_USER]
    assert dom.suspend() == 0  # QEMU: no-op on a paused domain
    dom.resume()
    dom.shutdown()
    assert dom.state() == [lv.VIR_DOMAIN_RUNNING, lv.VIR_DOMAIN_RUNNING_UNPAUSED]
    conn.world.clock.sleep(conn.world.shutdown_seconds)  # the guest takes its time
    assert dom.state() == [lv.VIR_DOMAIN_SHUTOFF, lv.VIR_DOMAIN_SHUTOFF_SHUTDOWN]
    dom.create()
    dom.destroy()
    assert dom.state() == [lv.VIR_DOMAIN_SHUTOFF, lv.VIR_DOMAIN_SHUTOFF_DESTROYED]
    dom.undefine()
    E = lv
    assert ev.take() == [
        ("vm1", E.VIR_DOMAIN_EVENT_DEFINED, E.VIR_DOMAIN_EVENT_DEFINED_ADDED),
        ("vm1", E.VIR_DOMAIN_EVENT_RESUMED, E.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED),
        ("vm1", E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_BOOTED),
        ("vm1", E.VIR_DOMAIN_EVENT_SUSPENDED, E.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED),
        ("vm1", E.VIR_DOMAIN_EVENT_RESUMED, E.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED),
        ("vm1", E.VIR_DOMAIN_EVENT_SHUTDOWN, E.VIR_DOMAIN_EVENT_SHUTDOWN_GUEST),
        ("vm1", E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN),
        ("vm1", E.VIR_DOMAIN_EVENT_RESUMED, E.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED),
        ("vm1", E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_BOOTED),
        ("vm1", E.VIR_DOMAIN_EVENT_SHUTDOWN, E.VIR_DOMAIN_EVENT_SHUTDOWN_HOST),
        ("vm1", E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_DESTROYED),
        ("vm1", E.VIR_DOMAIN_EVENT_UNDEFINED, E.VIR_DOMAIN_EVENT_UNDEFINED_REMOVED),
    ]


def test_qemu_errors(conn: lv.virConnect) -> None:
    """Invalid transitions fail with the QEMU driver's codes and messages."""
    storage.create_image(conn, DISK, 1 << 30)
    dom = conn.defineXML(domain_xml())
    assert error_of(dom.suspend) == (
        lv.VIR_ERR_OPERATION_INVALID,
        lv.VIR_FROM_DOMAIN,
        "Requested operation is not valid: domain is not running",
    )
    assert error_of(dom.destroy)[0] == lv.VIR_ERR_OPERATION_INVALID
    dom.create()
    assert error_of(dom.create) == (
        lv.VIR_ERR_OPERATION_INVALID,
        lv.VIR_FROM_QEMU,
        "Requested operation is not valid: domain is already running",
    )
    assert error_of(dom.resume)[2].endswith("domain is already running")
    assert error_of(lambda: conn.lookupByName("nope")) == (
        lv.VIR_ERR_NO_DOMAIN,
        lv.VIR_FROM_QEMU,
        "Domain not found: no domain with matching name 'nope'",
    )
    assert (
        error_of(lambda: conn.defineXML(domain_xml(uuid="6695eb01-f6a4-8304-79aa-97f2502e1930")))[0]
        == lv.VIR_ERR_OPERATION_FAILED
    )
    assert error_of(lambda: conn.defineXML("<domain"))[0] == lv.VIR_ERR_XML_DETAIL
    assert (
        error_of(lambda: conn.defineXML(domain_xml().replace("'qemu'", "'kvm'")))[0]
        == lv.VIR_ERR_CONFIG_UNSUPPORTED
    )
    transient = conn.createXML(domain_xml("t1", disk=None))
    assert error_of(transient.undefine)[2].endswith("cannot undefine transient domain")


def test_missing_disk_fails_start(conn: lv.virConnect) -> None:
    """A missing disk file stops QEMU from starting, as on a real node."""
    dom = conn.defineXML(domain_xml())
    code, domain, msg = error_of(dom.create)
    assert (code, domain) == (lv.VIR_ERR_SYSTEM_ERROR, lv.VIR_FROM_STORAGE)
    assert DISK in msg and dom.isActive() == 0


def test_xml_round_trip_and_devices(conn: lv.virConnect) -> None:
    """Kernel, initrd, cmdline, disks, interfaces and serial survive; hot-plug works."""
    storage.create_image(conn, DISK, 1 << 30)
    storage.create_image(conn, "/data/vol", 1 << 20)
    dom = conn.defineXML(domain_xml())
    xml = dom.XMLDesc()
    for piece in (
        "<kernel>/boot/vmlinuz</kernel>",
        "<cmdline>console=ttyS0</cmdline>",
        f"<source file='{DISK}'/>",
        "<source bridge='br0'/>",
        "<source path='/tmp/console.log'/>",
    ):
        assert piece in xml
    assert conn.defineXML(xml).XMLDesc() == xml
    dom.create()
    assert "id='1'" in dom.XMLDesc()
    disk = (
        "<disk type='block' device='disk'><source dev='/data/vol'/>"
        "<target dev='vdb' bus='virtio'/></disk>"
    )
    dom.attachDeviceFlags(disk, lv.VIR_DOMAIN_AFFECT_LIVE | lv.VIR_DOMAIN_AFFECT_CONFIG)
    assert "<source dev='/data/vol'/>" in dom.XMLDesc(lv.VIR_DOMAIN_XML_INACTIVE)
    assert (
        error_of(lambda: dom.attachDeviceFlags(disk, lv.VIR_DOMAIN_AFFECT_LIVE))[0]
        == lv.VIR_ERR_OPERATION_INVALID
    )
    dom.detachDeviceFlags(disk, lv.VIR_DOMAIN_AFFECT_LIVE)
    assert "vdb" not in dom.XMLDesc() and "vdb" in dom.XMLDesc(lv.VIR_DOMAIN_XML_INACTIVE)
    assert (
        error_of(lambda: dom.detachDeviceFlags(disk, lv.VIR_DOMAIN_AFFECT_LIVE))[0]
        == lv.VIR_ERR_DEVICE_MISSING
    )


def test_list_filters_and_managed_save(conn: lv.virConnect) -> None:
    """listAllDomains flags and managed save restore (STARTED/RESTORED on QEMU)."""
    storage.create_image(conn, DISK, 1 << 30)
    ev = Events(conn)
    a = conn.defineXML(domain_xml("a"))
    conn.defineXML(domain_xml("b", disk=None))
    a.create()
    conn.createXML(domain_xml("t", disk=None))

    def names(flags: int) -> list[str]:
        return sorted(d.name() for d in conn.listAllDomains(flags))

    assert names(0) == ["a", "b", "t"]
    assert names(lv.VIR_CONNECT_LIST_DOMAINS_ACTIVE) == ["a", "t"]
    assert names(lv.VIR_CONNECT_LIST_DOMAINS_INACTIVE) == ["b"]
    assert names(lv.VIR_CONNECT_LIST_DOMAINS_TRANSIENT) == ["t"]
    assert names(lv.VIR_CONNECT_LIST_DOMAINS_ACTIVE | lv.VIR_CONNECT_LIST_DOMAINS_PERSISTENT) == [
        "a"
    ]
    assert conn.numOfDomains() == 2 and conn.listDefinedDomains() == ["b"]
    ev.take()
    a.managedSave()
    assert a.hasManagedSaveImage() == 1
    assert names(lv.VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE) == ["a"]
    a.create()
    assert a.state() == [lv.VIR_DOMAIN_RUNNING, lv.VIR_DOMAIN_RUNNING_RESTORED]
    assert [e[1:] for e in ev.take()] == [
        (lv.VIR_DOMAIN_EVENT_SUSPENDED, lv.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED),
        (lv.VIR_DOMAIN_EVENT_STOPPED, lv.VIR_DOMAIN_EVENT_STOPPED_SAVED),
        (lv.VIR_DOMAIN_EVENT_STARTED, lv.VIR_DOMAIN_EVENT_STARTED_RESTORED),
        (lv.VIR_DOMAIN_EVENT_RESUMED, lv.VIR_DOMAIN_EVENT_RESUMED_FROM_SNAPSHOT),
    ]


def test_host_info(world: lv.World, conn: lv.virConnect) -> None:
    """Capacity, capabilities (host UUID, CPU model), versions."""
    assert conn.getInfo() == ["x86_64", 8192, 4, 2400, 1, 1, 4, 1]
    caps = conn.getCapabilities()
    assert "<uuid>00000000-0000-0000-0000-000000000001</uuid>" in caps
    assert "<model>Skylake-Client-IBRS</model>" in caps
    assert conn.getHostname() == "node1" and conn.getType() == "QEMU"
    assert conn.getLibVersion() == lv.getVersion() == 9000000
    assert conn.getCPUMap() == (4, [True] * 4, 4)
    assert conn.isAlive() == 1 and conn.close() == 0 and conn.isAlive() == 0
    assert error_of(conn.getHostname)[0] == lv.VIR_ERR_INVALID_CONN


def test_open_errors(world: lv.World) -> None:
    """Unknown hosts are refused like an unreachable qemu+tcp libvirtd."""
    code, domain, msg = error_of(lambda: lv.open("qemu+tcp://nowhere/system"))
    assert (code, domain) == (lv.VIR_ERR_SYSTEM_ERROR, lv.VIR_FROM_RPC)
    assert msg == "unable to connect to server at 'nowhere:16509': Connection refused"
    assert lv.open("qemu+tcp://node2/system").getHostname() == "node2"
    ro = lv.openReadOnly("fake://node1/system")
    assert error_of(lambda: ro.defineXML(domain_xml()))[0] == lv.VIR_ERR_OPERATION_DENIED


def test_libvirt_error_constructor() -> None:
    """libvirtError(msg) reads the thread's last error like libvirt-python's."""
    lv.virResetLastError()
    err = lv.libvirtError("plain")
    assert str(err) == "plain" and err.get_error_code() is None
    lv.reset()
    lv.registerErrorHandler(lambda ctx, e: None, None)
    try:
        lv.open("test:///default").lookupByName("x")
    except lv.libvirtError as exc:
        assert exc.get_error_level() == lv.VIR_ERR_ERROR
    assert lv.virGetLastErrorCode() == lv.VIR_ERR_NO_DOMAIN
    assert str(lv.libvirtError("ignored")) == "Domain not found"
