"""Two hosts to run a fidelity scenario on: a pair of fakevirt hosts or a pair of real nodes.

Both pairs look alike to a scenario: hosts ``node1`` and ``node2``; instance disks under
``/var/lib/testbed/instances`` are host-local (block migration), disks under
``/var/lib/testbed/volumes`` are on storage both hosts mount (a Docker volume on the real
nodes, a shared storage with ``fs="local"`` on fakevirt: libvirt does not trust it, so a
migration needs VIR_MIGRATE_UNSAFE). Guests are the real backend's tiny guest
(:func:`testbed.qemu.guest.domain_xml`), with the same XML on both pairs.

Events are recorded per connection; :meth:`EventRecorder.sync` defines and undefines a marker
domain and waits (bounded, on a condition) for its UNDEFINED event, so every earlier event
of that host has arrived.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from testbed.qemu.guest import GUEST_MOUNT, GuestImage, domain_xml

INSTANCES = "/var/lib/testbed/instances"
SHARED = "/var/lib/testbed/volumes"
SERIAL = "/var/log/testbed"
DISK_BYTES = 16 * 1024 * 1024  # the tiny guest's root disk (qemu-img create ... 16M)
MARKER = "zz-marker"
MARKER_UUID = "99999999-0000-4000-8000-000000000001"
HOSTS = ("node1", "node2")
BOOT_TIMEOUT = 120.0  # first heartbeat: ~3.5-4.5 s under TCG on 2 idle cores
KEY_LEFTALT, KEY_SYSRQ, KEY_O = 56, 99, 24  # Linux input key codes

_GUEST = GuestImage(
    directory=Path(GUEST_MOUNT),
    kernel=Path(GUEST_MOUNT) / "vmlinuz",
    initrd=Path(GUEST_MOUNT) / "initrd.gz",
    root_qcow2=Path(GUEST_MOUNT) / "root.qcow2",
)


class EventRecorder:
    """Lifecycle and reboot events of one connection, in arrival order."""

    def __init__(self, pair: Pair, index: int) -> None:
        self.pair, self.index = pair, index
        self.lv = pair.lv
        self.conn = pair.conn(index)
        self.items: list[tuple[str, str, int]] = []
        self.cond = threading.Condition()
        self.markers = 0
        self.reboot_count = 0
        self._ids = [
            self.conn.domainEventRegisterAny(
                None, self.lv.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._lifecycle, None
            ),
            self.conn.domainEventRegisterAny(
                None, self.lv.VIR_DOMAIN_EVENT_ID_REBOOT, self._reboot, None
            ),
        ]

    def _lifecycle(self, conn: Any, dom: Any, event: int, detail: int, opaque: Any) -> None:
        with self.cond:
            if dom.name() == MARKER:
                self.markers += event == self.lv.VIR_DOMAIN_EVENT_UNDEFINED
            else:
                self.items.append((dom.name(), event_name(self.lv, event), detail))
            self.cond.notify_all()

    def _reboot(self, conn: Any, dom: Any, opaque: Any) -> None:
        with self.cond:
            self.items.append((dom.name(), "REBOOT", 0))
            self.cond.notify_all()

    def sync(self, timeout: float = 30.0) -> list[tuple[str, str, int]]:
        """Every event so far (then forgotten), after a marker proved they all arrived.

        REBOOT events are left out: the real guest also reboots by itself (its kernel
        reboots on panic, e.g. when reset mid-boot); :meth:`reboots` counts them.
        """
        want = self.markers + 1
        self.conn.defineXML(self.pair.xml(MARKER, MARKER_UUID, f"{INSTANCES}/marker")).undefine()
        self.pair.pump()
        with self.cond:
            assert self.cond.wait_for(lambda: self.markers >= want, timeout), "events stalled"
            out, self.items = self.items, []
        self.reboot_count += sum(1 for e in out if e[1] == "REBOOT")
        return [e for e in out if e[1] != "REBOOT"]

    def wait_for(self, name: str, event: str, timeout: float = 60.0) -> None:
        """Wait until ``name`` had ``event`` (e.g. STOPPED) since the last sync."""
        self.pair.pump()
        with self.cond:
            assert self.cond.wait_for(
                lambda: any(e[0] == name and e[1] == event for e in self.items), timeout
            ), f"no {event} event of {name} within {timeout} s"

    def reboots(self) -> int:
        """How many REBOOT events arrived up to the last :meth:`sync`; then forgotten."""
        count, self.reboot_count = self.reboot_count, 0
        return count

    def close(self) -> None:
        """Deregister the callbacks."""
        for cb_id in self._ids:
            self.conn.domainEventDeregisterAny(cb_id)


def event_name(lv: Any, event: int) -> str:
    """ "STARTED" for VIR_DOMAIN_EVENT_STARTED, ..."""
    for name in ("DEFINED", "UNDEFINED", "STARTED", "SUSPENDED", "RESUMED", "STOPPED"):
        if getattr(lv, f"VIR_DOMAIN_EVENT_{name}") == event:
            return name
    for name in ("SHUTDOWN", "PMSUSPENDED", "CRASHED"):
        if getattr(lv, f"VIR_DOMAIN_EVENT_{name}") == event:
            return name
    return str(event)


class Pair:
    """What a scenario needs from two hosts (see the module docstring)."""

    name = "?"
    lv: Any

    def __init__(self) -> None:
        self._conns: dict[int, Any] = {}

    # -- provided by each kind of pair --------------------------------------------------------
    def open(self, index: int) -> Any:
        """A new read-write connection to host ``index`` (0 or 1)."""
        raise NotImplementedError

    def uri(self, index: int) -> str:
        """The libvirt URI of host ``index`` (what migrateToURI3 takes)."""
        raise NotImplementedError

    def migrate_params(self, index: int) -> dict[str, Any]:
        """migrateToURI3 params for a migration to host ``index``."""
        raise NotImplementedError

    def unreachable_uri(self) -> str:
        """A URI where no libvirtd answers."""
        raise NotImplementedError

    def host_uuid(self, index: int) -> str:
        """The host UUID of host ``index``."""
        raise NotImplementedError

    def copy_guest_disk(self, index: int, path: str) -> None:
        """Put a copy of the guest's root disk at ``path`` on host ``index``."""
        raise NotImplementedError

    def precreate(self, index: int, path: str) -> None:
        """An empty qcow2 of the guest disk's size at ``path`` (block migration's target)."""
        raise NotImplementedError

    def disk_exists(self, index: int, path: str) -> bool:
        """Whether host ``index`` sees ``path``."""
        raise NotImplementedError

    def remove_disk(self, index: int, path: str) -> None:
        """Delete ``path`` on host ``index`` (missing is fine)."""
        raise NotImplementedError

    def fake_only(self, fault: dict[str, Any]) -> Any:
        """Inject a fakevirt fault (the fake pair only; None on real nodes)."""
        return None

    def guest_powers_off(self, index: int, dom: Any) -> None:
        """The guest OS powers itself off (real: booted, then SysRq+O; fake: the
        guest_shutdown fault)."""
        raise NotImplementedError

    def pump(self) -> None:
        """Deliver queued events (fakevirt's event loop); real libvirt has its own thread."""

    def replacements(self) -> list[tuple[str, str]]:
        """(text, placeholder) pairs that make messages of both pairs comparable."""
        return []

    # -- common ---------------------------------------------------------------------------------
    def conn(self, index: int) -> Any:
        """The pair's connection to host ``index`` (opened once)."""
        if index not in self._conns:
            self._conns[index] = self.open(index)
        return self._conns[index]

    def xml(self, name: str, uuid: str, disk: str, memory_mib: int = 128) -> str:
        """The tiny guest's domain XML."""
        return domain_xml(
            name, _GUEST, disk, f"{SERIAL}/{name}.serial", uuid=uuid, memory_mib=memory_mib
        )

    def normalise(self, text: str) -> str:
        """Replace pair-specific addresses and host UUIDs by placeholders."""
        for old, new in self.replacements():
            text = text.replace(old, new)
        return re.sub(r"process \d+", "process <pid>", text)

    def cleanup(self) -> None:
        """Remove every domain of both hosts (leftovers of a failed scenario)."""
        for index in (0, 1):
            conn = self.conn(index)
            for dom in conn.listAllDomains(0):
                try:
                    if dom.isActive():
                        dom.destroy()
                    if dom.isPersistent():
                        dom.undefineFlags(self.lv.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
                except self.lv.libvirtError:
                    pass


class FakePair(Pair):
    """node1 and node2 in a world of their own (fakevirt)."""

    name = "fake"

    def __init__(self) -> None:
        super().__init__()
        import fakevirt

        self.world = fakevirt.World()
        for i, host in enumerate(HOSTS):
            self.world.add_host(
                host, vcpus=2, memory_mb=1024, host_uuid=f"00000000-0000-4000-8000-00000000000{i}"
            )
        self.world.add_shared_storage("volumes", SHARED, HOSTS, fs="local")
        self.lv = self.world.libvirt_module()
        self.lv.registerErrorHandler(lambda ctx, err: None, None)

    def open(self, index: int) -> Any:
        return self.lv.open(self.uri(index))

    def uri(self, index: int) -> str:
        return f"qemu+tcp://{HOSTS[index]}/system"

    def migrate_params(self, index: int) -> dict[str, Any]:
        return {self.lv.VIR_MIGRATE_PARAM_URI: f"tcp://{HOSTS[index]}"}

    def unreachable_uri(self) -> str:
        return "qemu+tcp://node3/system"

    def host_uuid(self, index: int) -> str:
        return str(self.world.host(HOSTS[index]).host_uuid)

    def copy_guest_disk(self, index: int, path: str) -> None:
        self.lv.storage.create_image(HOSTS[index], path, DISK_BYTES)

    def precreate(self, index: int, path: str) -> None:
        self.lv.storage.create_image(HOSTS[index], path, DISK_BYTES)

    def disk_exists(self, index: int, path: str) -> bool:
        return bool(self.lv.storage.exists(HOSTS[index], path))

    def remove_disk(self, index: int, path: str) -> None:
        self.lv.storage.delete(HOSTS[index], path)

    def fake_only(self, fault: dict[str, Any]) -> Any:
        return self.world.inject(fault)

    def guest_powers_off(self, index: int, dom: Any) -> None:
        self.world.inject({"kind": "guest_shutdown", "host": HOSTS[index], "domain": dom.name()})

    def pump(self) -> None:
        self.lv.run_pending_events()

    def replacements(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for i, host in enumerate(HOSTS):
            out += [(self.uri(i), f"<uri{i}>"), (self.host_uuid(i), f"<host-uuid{i}>")]
            out.append((f"{host}:16509", f"<addr{i}>:16509"))
        return [(self.unreachable_uri(), "<unreachable>"), ("node3:16509", "<nobody>"), *out]


class RealPair(Pair):
    """node1 and node2 of a :class:`testbed.qemu.nodes.NodeCluster` (no shared instances)."""

    name = "qemu"

    def __init__(self, cluster: Any) -> None:
        super().__init__()
        import libvirt

        self.lv = libvirt
        self.nodes = [cluster[h] for h in HOSTS]
        libvirt.registerErrorHandler(lambda ctx, err: None, None)

    def open(self, index: int) -> Any:
        from testbed.qemu.connect import open_connection

        return open_connection(self.nodes[index])

    def uri(self, index: int) -> str:
        return str(self.nodes[index].libvirt_uri)

    def migrate_params(self, index: int) -> dict[str, Any]:
        return {self.lv.VIR_MIGRATE_PARAM_URI: self.nodes[index].migration_uri}

    def unreachable_uri(self) -> str:
        return f"qemu+tcp://{self.nodes[1].ip}:16510/system"  # nothing listens there

    def host_uuid(self, index: int) -> str:
        return str(self.nodes[index].host_uuid)

    def copy_guest_disk(self, index: int, path: str) -> None:
        node = self.nodes[index]
        node.copy_file(node.guest.root_qcow2, path)

    def precreate(self, index: int, path: str) -> None:
        self.nodes[index].create_disk(path, str(DISK_BYTES))

    def disk_exists(self, index: int, path: str) -> bool:
        return bool(self.nodes[index].exec(["test", "-e", path], check=False).exit_code == 0)

    def remove_disk(self, index: int, path: str) -> None:
        self.nodes[index].exec(["rm", "-f", path])

    def guest_powers_off(self, index: int, dom: Any) -> None:
        from testbed.qemu.serial import wait_for_heartbeat

        node = self.nodes[index]
        wait_for_heartbeat(node, f"{SERIAL}/{dom.name()}.serial", timeout=BOOT_TIMEOUT)
        lv = self.lv
        keys = [KEY_LEFTALT, KEY_SYSRQ, KEY_O]  # the kernel powers off (sysrq_always_enabled)
        dom.sendKey(lv.VIR_KEYCODE_SET_LINUX, 200, keys, len(keys), 0)

    def replacements(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for i, node in enumerate(self.nodes):
            out += [(self.uri(i), f"<uri{i}>"), (self.host_uuid(i), f"<host-uuid{i}>")]
            out.append((f"{node.ip}:16509", f"<addr{i}>:16509"))
        nobody = f"{self.nodes[1].ip}:16510"
        return [(self.unreachable_uri(), "<unreachable>"), (nobody, "<nobody>"), *out]


Scenario = Callable[[Pair, Any], None]
