"""Scenarios run on a fakevirt pair and on a pair of real QEMU nodes, then compared.

Each scenario takes a :class:`~tests.fidelity.qemu_pairs.Pair` and a :class:`Transcript` and
records one entry per call: the normalised result, or the error's code, domain and message
(pair-specific addresses and host UUIDs replaced by placeholders), plus the lifecycle events
each host saw (``events node1`` / ``events node2`` entries).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.fidelity.qemu_pairs import INSTANCES, SHARED, EventRecorder, Pair

UUID_LIFE = "11111111-0000-4000-8000-000000000001"
UUID_T = "11111111-0000-4000-8000-000000000002"
UUID_RULES = "11111111-0000-4000-8000-000000000003"
UUID_SHARED = "11111111-0000-4000-8000-000000000004"
UUID_BLOCK = "11111111-0000-4000-8000-000000000005"
UUID_OTHER = "11111111-0000-4000-8000-0000000000ff"


class Transcript:
    """Calls, results and errors in order (see the module docstring)."""

    def __init__(self, pair: Pair) -> None:
        self.pair = pair
        self.lv = pair.lv
        self.entries: list[tuple[str, Any]] = []

    def call(
        self, label: str, fn: Callable[[], Any], norm: Callable[[Any], Any] = lambda r: r
    ) -> Any:
        """Run fn and record its normalised result or its libvirtError."""
        try:
            result = fn()
        except self.lv.libvirtError as exc:
            code, dom = exc.get_error_code(), exc.get_error_domain()
            msg = self.pair.normalise(str(exc))
            if code == self.lv.VIR_ERR_XML_DETAIL:
                msg = "<parser message>"
            self.entries.append((label, ("error", code, dom, msg)))
            return None
        value = norm(result)
        if hasattr(value, "UUIDString"):
            value = ("domain", value.name())
        self.entries.append((label, ("ok", value)))
        return result

    def note(self, label: str, value: Any) -> None:
        """Record a value computed by the scenario."""
        self.entries.append((label, ("ok", value)))

    def events(self, *recorders: EventRecorder) -> None:
        """Record the events each host saw since the last time."""
        for rec in recorders:
            self.entries.append((f"events node{rec.index + 1}", ("ok", rec.sync())))


def _types(value: Any) -> list[str]:
    return [type(v).__name__ for v in value]


def _id(value: int) -> str:
    return "running-id" if value > 0 else str(value)


def _keys(stats: dict[str, Any]) -> list[str]:
    return sorted(stats)


def host_info(p: Pair, t: Transcript) -> None:
    """Connection-level calls: types, versions, shapes."""
    c = p.conn(0)
    t.call("getType", c.getType)
    t.call("getLibVersion", c.getLibVersion)
    t.call("getVersion major.minor", c.getVersion, lambda v: v // 1000)
    t.call("getHostname", c.getHostname)
    t.call("getInfo shape", c.getInfo, lambda r: (_types(r), r[0]))
    t.call("getCPUMap shape", c.getCPUMap, lambda r: (_types(r), len(r[1]) == r[0]))
    t.call("getCapabilities has host uuid", c.getCapabilities, lambda r: p.host_uuid(0) in r)
    t.call("getFreeMemory type", c.getFreeMemory, lambda r: type(r).__name__)
    t.call("isAlive", c.isAlive)
    t.call("listAllDomains", lambda: c.listAllDomains(0), lambda r: [d.name() for d in r])
    t.call("lookupByName missing", lambda: c.lookupByName("nosuch"))
    t.call("lookupByUUIDString missing", lambda: c.lookupByUUIDString(UUID_OTHER))
    t.call("lookupByID missing", lambda: c.lookupByID(99999))


def lifecycle(p: Pair, t: Transcript) -> None:
    """A persistent guest through every state, with the QEMU driver's errors and events."""
    c = p.conn(0)
    ev = EventRecorder(p, 0)
    disk = f"{INSTANCES}/vm-life/disk.qcow2"
    p.copy_guest_disk(0, disk)
    try:
        d = t.call("defineXML", lambda: c.defineXML(p.xml("vm-life", UUID_LIFE, disk)))
        t.call("state defined", d.state)
        t.call("info defined", d.info, lambda r: r[:4])
        t.call("flags defined", lambda: (d.isActive(), d.isPersistent(), d.ID()))
        t.call("create", d.create)
        t.call("state running", d.state)
        t.call("ID running", d.ID, _id)
        t.call("info running", d.info, lambda r: (r[:4], _types(r)))
        t.call("create again", d.create)
        t.call("suspend", d.suspend)
        t.call("state paused", d.state)
        t.call("suspend paused", d.suspend)
        t.call("resume", d.resume)
        t.call("resume running", d.resume)
        t.call("reset", lambda: d.reset(0))
        t.events(ev)
        t.note("a REBOOT event after reset", ev.reboots() >= 1)
        t.call("managedSave", lambda: d.managedSave(0))
        t.call("state saved", d.state)
        t.call("hasManagedSaveImage", lambda: d.hasManagedSaveImage(0))
        t.call("create restores", d.create)
        t.call("state restored", d.state)
        t.call("hasManagedSaveImage after", lambda: d.hasManagedSaveImage(0))
        t.call("destroy", d.destroy)
        t.call("state destroyed", d.state)
        t.call("ID destroyed", d.ID)
        t.call("destroy again", d.destroy)
        t.call("suspend shut off", d.suspend)
        t.call("resume shut off", d.resume)
        t.call("shutdown shut off", d.shutdown)
        t.call("managedSave shut off", lambda: d.managedSave(0))
        t.call("undefine", d.undefine)
        t.call("state undefined", d.state)
        t.call("lookup undefined", lambda: c.lookupByName("vm-life"))
        t.events(ev)
    finally:
        ev.close()
        p.remove_disk(0, disk)


def shutdown_ignored(p: Pair, t: Transcript) -> None:
    """The tiny guest has no ACPI handling: shutdown() returns 0 and nothing happens.

    fakevirt models that guest with the ignore_shutdown fault.
    """
    c = p.conn(0)
    ev = EventRecorder(p, 0)
    disk = f"{INSTANCES}/vm-acpi/disk.qcow2"
    p.copy_guest_disk(0, disk)
    fault = p.fake_only({"kind": "ignore_shutdown", "domain": "vm-acpi"})
    try:
        d = t.call("createXML", lambda: c.createXML(p.xml("vm-acpi", UUID_T, disk), 0))
        t.call("shutdown", d.shutdown)
        t.call("state after shutdown", d.state)
        t.call(
            "shutdownFlags ACPI", lambda: d.shutdownFlags(p.lv.VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN)
        )
        t.call("destroy", d.destroy)
        t.events(ev)
    finally:
        if fault is not None:
            fault.clear()
        ev.close()
        p.remove_disk(0, disk)


def guest_powers_off(p: Pair, t: Transcript) -> None:
    """The guest OS powers off by itself: what fakevirt's guest_shutdown fault models."""
    c = p.conn(0)
    ev = EventRecorder(p, 0)
    disk = f"{INSTANCES}/vm-off/disk.qcow2"
    try:
        d = _boot(p, t, "vm-off", UUID_T, disk)
        t.events(ev)
        p.guest_powers_off(0, d)
        ev.wait_for("vm-off", "STOPPED")
        t.events(ev)
        t.call("state", d.state)
        t.call("ID", d.ID, _id)
        t.call("lookup ID", lambda: c.lookupByName("vm-off").ID())
        t.call("undefine", d.undefine)
        t.events(ev)
    finally:
        ev.close()
        p.cleanup()
        p.remove_disk(0, disk)


def devices(p: Pair, t: Transcript) -> None:
    """Disk hot-plug (a volume on the storage both hosts mount), config-only detach, errors."""
    lv = p.lv
    disk, vol = f"{INSTANCES}/vm-dev/disk.qcow2", f"{SHARED}/vm-dev/vol.qcow2"
    both = lv.VIR_DOMAIN_AFFECT_LIVE | lv.VIR_DOMAIN_AFFECT_CONFIG
    volume = (
        "<disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='none'/>"
        f"<source file='{vol}'/><target dev='vdb' bus='virtio'/><serial>vol1</serial></disk>"
    )
    missing = volume.replace("vdb", "vdc").replace(vol, f"{SHARED}/nosuch.qcow2")
    try:
        d = _boot(p, t, "vm-dev", UUID_T, disk)
        p.copy_guest_disk(0, vol)
        t.call("attach live+config", lambda: d.attachDeviceFlags(volume, both))
        t.call("live XML has vdb", d.XMLDesc, lambda x: "dev='vdb'" in x)
        inactive = lv.VIR_DOMAIN_XML_INACTIVE
        t.call("config XML has vdb", lambda: "dev='vdb'" in d.XMLDesc(inactive))
        t.call("attach vdb again", lambda: d.attachDeviceFlags(volume, both))
        t.call("attach missing file", lambda: d.attachDeviceFlags(missing, both))
        t.call("detach vdc (absent)", lambda: d.detachDeviceFlags(missing, both))
        t.call(
            "detach from config", lambda: d.detachDeviceFlags(volume, lv.VIR_DOMAIN_AFFECT_CONFIG)
        )
        t.call("config XML after", lambda: "dev='vdb'" in d.XMLDesc(inactive))
        t.call("live XML after", d.XMLDesc, lambda x: "dev='vdb'" in x)
        t.call("XML has id when running", d.XMLDesc, lambda x: " id='" in x.split(">", 1)[0])
        t.call("destroy", d.destroy)
        t.call("XML has no id when shut off", d.XMLDesc, lambda x: " id='" in x.split(">", 1)[0])
        t.call("live XML once shut off", d.XMLDesc, lambda x: "dev='vdb'" in x)
    finally:
        p.cleanup()
        p.remove_disk(0, disk)
        p.remove_disk(0, vol)


def transient_and_errors(p: Pair, t: Transcript) -> None:
    """A transient guest, name/UUID conflicts, bad definitions, a missing disk."""
    c = p.conn(0)
    ev = EventRecorder(p, 0)
    disk = f"{INSTANCES}/vm-t/disk.qcow2"
    p.copy_guest_disk(0, disk)
    try:
        d = t.call("createXML", lambda: c.createXML(p.xml("vm-t", UUID_T, disk), 0))
        t.call("isPersistent", d.isPersistent)
        t.call("state", d.state)
        t.call("undefine transient", d.undefine)
        t.call("managedSave transient", lambda: d.managedSave(0))
        t.call("define same name other uuid", lambda: c.defineXML(p.xml("vm-t", UUID_OTHER, disk)))
        t.call("createXML again", lambda: c.createXML(p.xml("vm-t", UUID_T, disk), 0))
        t.call(
            "createXML same uuid other name",
            lambda: c.createXML(p.xml("vm-t2", UUID_T, disk), 0),
        )
        t.call("destroy", d.destroy)
        t.call("state gone", d.state)
        t.call("lookup gone", lambda: c.lookupByName("vm-t"))
        kvm = p.xml("vm-kvm", UUID_OTHER, disk).replace("type='qemu'", "type='kvm'", 1)
        t.call("define kvm (no KVM)", lambda: c.defineXML(kvm))
        t.call("define malformed", lambda: c.defineXML("<domain type='qemu'><name>x</name>"))
        t.call("define wrong root", lambda: c.defineXML("<network><name>x</name></network>"))
        missing = f"{INSTANCES}/vm-nodisk/disk.qcow2"
        m = t.call(
            "define missing disk", lambda: c.defineXML(p.xml("vm-nodisk", UUID_OTHER, missing))
        )
        t.call("create missing disk", m.create)
        t.call("state missing disk", m.state)
        t.call("undefine missing disk", m.undefine)
        t.events(ev)
    finally:
        ev.close()
        p.remove_disk(0, disk)


def _flags(lv: Any, *names: str) -> int:
    out = 0
    for name in names:
        out |= int(getattr(lv, f"VIR_MIGRATE_{name}"))
    return out


def _boot(p: Pair, t: Transcript, name: str, uuid: str, disk: str) -> Any:
    p.copy_guest_disk(0, disk)
    d = t.call(f"define {name}", lambda: p.conn(0).defineXML(p.xml(name, uuid, disk)))
    t.call(f"create {name}", d.create)
    return d


def migration_rules(p: Pair, t: Transcript) -> None:
    """What libvirt refuses before a migration starts; the guest keeps running."""
    lv = p.lv
    ev = [EventRecorder(p, 0), EventRecorder(p, 1)]
    local, shared = f"{INSTANCES}/vm-rules/disk.qcow2", f"{SHARED}/vm-rules/disk.qcow2"
    live = _flags(lv, "LIVE", "PEER2PEER", "PERSIST_DEST", "UNDEFINE_SOURCE")
    unsafe = live | _flags(lv, "UNSAFE")
    block = live | _flags(lv, "NON_SHARED_DISK")
    try:
        d = _boot(p, t, "vm-rules", UUID_RULES, local)
        t.events(*ev)

        def migrate(index: int, flags: int, uri: str | None = None) -> Callable[[], Any]:
            dest = uri or p.uri(index)
            return lambda: d.migrateToURI3(dest, p.migrate_params(index), flags)

        t.call("direct (no PEER2PEER)", migrate(1, _flags(lv, "LIVE")))
        t.call("unreachable destination", migrate(1, live, p.unreachable_uri()))
        t.call("to itself, local disk", migrate(0, live))
        t.call("local disk, no NON_SHARED_DISK", migrate(1, live))
        t.call("NON_SHARED_DISK, disk not pre-created", migrate(1, block))
        t.call("state after refusals", d.state)
        t.call("destroy", d.destroy)
        t.call("undefine", d.undefine)
        p.remove_disk(0, local)
        d = _boot(p, t, "vm-rules", UUID_RULES, shared)
        t.call("shared storage, no UNSAFE", migrate(1, live))
        t.call("to itself with UNSAFE (same host UUID)", migrate(0, unsafe))
        t.call("unreachable destination, UNSAFE", migrate(1, unsafe, p.unreachable_uri()))
        t.call("still on node1", d.state)
        t.call("node2 has no guest", lambda: p.conn(1).listAllDomains(0), lambda r: len(r))
        t.events(*ev)
    finally:
        for rec in ev:
            rec.close()
        p.cleanup()
        p.remove_disk(0, local)
        p.remove_disk(0, shared)


def _after_migration(p: Pair, t: Transcript, name: str, source: Any) -> None:
    lv = p.lv
    t.call("source handle state", source.state)
    t.call("source lookup", lambda: p.conn(0).lookupByName(name))
    dest = t.call("destination lookup", lambda: p.conn(1).lookupByName(name))
    if dest is None:
        return
    t.call("destination state", dest.state)
    t.call("destination flags", lambda: (dest.isActive(), dest.isPersistent()))
    completed = lv.VIR_DOMAIN_JOB_STATS_COMPLETED
    t.call("destination completed job keys", lambda: dest.jobStats(completed), _keys)
    t.call("destination current job", lambda: dest.jobStats(0))
    t.call("destroy on destination", dest.destroy)
    t.call("undefine on destination", dest.undefine)


def live_migration_shared(p: Pair, t: Transcript) -> None:
    """A live migration with the disk on storage both hosts mount (needs UNSAFE)."""
    lv = p.lv
    ev = [EventRecorder(p, 0), EventRecorder(p, 1)]
    disk = f"{SHARED}/vm-shared/disk.qcow2"
    flags = _flags(lv, "LIVE", "PEER2PEER", "PERSIST_DEST", "UNDEFINE_SOURCE", "UNSAFE")
    try:
        d = _boot(p, t, "vm-shared", UUID_SHARED, disk)
        t.events(*ev)
        t.call("migrate", lambda: d.migrateToURI3(p.uri(1), p.migrate_params(1), flags))
        t.events(*ev)
        _after_migration(p, t, "vm-shared", d)
        t.events(*ev)
    finally:
        for rec in ev:
            rec.close()
        p.cleanup()
        p.remove_disk(0, disk)


def block_migration(p: Pair, t: Transcript) -> None:
    """A block migration of a host-local disk to a pre-created disk; the source stays
    defined (no UNDEFINE_SOURCE)."""
    lv = p.lv
    ev = [EventRecorder(p, 0), EventRecorder(p, 1)]
    disk = f"{INSTANCES}/vm-block/disk.qcow2"
    flags = _flags(lv, "LIVE", "PEER2PEER", "PERSIST_DEST", "NON_SHARED_DISK")
    try:
        d = _boot(p, t, "vm-block", UUID_BLOCK, disk)
        p.precreate(1, disk)
        t.events(*ev)
        params = {**p.migrate_params(1), lv.VIR_MIGRATE_PARAM_MIGRATE_DISKS: ["vda"]}
        t.call("migrate", lambda: d.migrateToURI3(p.uri(1), params, flags))
        t.events(*ev)
        completed = lv.VIR_DOMAIN_JOB_STATS_COMPLETED
        t.call("source completed job keys", lambda: d.jobStats(completed), _keys)
        t.call("source flags", lambda: (d.isActive(), d.isPersistent()))
        t.call("disk on destination", lambda: p.disk_exists(1, disk))
        _after_migration(p, t, "vm-block", d)
        t.call("source undefine", d.undefine)
        t.events(*ev)
    finally:
        for rec in ev:
            rec.close()
        p.cleanup()
        p.remove_disk(0, disk)
        p.remove_disk(1, disk)


SCENARIOS: dict[str, Callable[[Pair, Transcript], None]] = {
    f.__name__: f
    for f in (
        host_info,
        lifecycle,
        shutdown_ignored,
        guest_powers_off,
        transient_and_errors,
        devices,
        migration_rules,
        live_migration_shared,
        block_migration,
    )
}
