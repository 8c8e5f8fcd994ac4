"""The control plane on real nodes: the same compute manager and libvirt driver as on
fakevirt, driven through the REST API (openstacksdk) and the control API.

The session's qemu cloud (tests/qemu/conftest.py: fixtures/qemu.yaml, cmp-a1 + cmp-a2 share
instance storage, cmp-b1 is host-local). Each test boots what it needs and deletes it; waits
are the cloud's settle (bounded) and the serial-log waits of testbed.qemu.serial.
"""

from __future__ import annotations

from typing import Any

import pytest

from testbed.qemu.serial import heartbeats, wait_for_heartbeat
from testbed.qemu.storage import file_exists
from tests.qemu.helpers import SETTLE, act, boot, delete, domain, serial

pytestmark = pytest.mark.qemu


def test_guest_image_is_registered_with_its_real_checksum(conn: Any, virt: Any) -> None:
    import hashlib

    image = conn.image.find_image("tiny-linux")
    data = virt.cluster.guest.root_qcow2.read_bytes()
    assert image.size == len(data)
    assert image.checksum == hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_boot_is_active_once_the_guest_heartbeats(
    qemu_cloud: Any, conn: Any, control: Any, virt: Any
) -> None:
    server = boot(qemu_cloud, conn, "qb-boot")
    try:
        assert (server.status, server.power_state) == ("ACTIVE", 1)
        host = server.compute_host
        assert heartbeats(serial(virt, host, server.id)), "ACTIVE before the first heartbeat"
        dom = domain(virt, host, server.id)
        xml = dom.XMLDesc(0)
        assert "<kernel>/opt/testbed/guest/vmlinuz</kernel>" in xml
        assert f"{virt.instances_path}/{server.id}/disk" in xml
        # real boot time only: the simulated boot_seconds are not added on this backend
        spawns = [
            e
            for e in control.trace(server=server.id)["events"]
            if e["kind"] == "driver" and e["name"] == "spawn"
        ]
        assert spawns and spawns[0]["detail"]["clock_seconds"] < 1.0
    finally:
        delete(qemu_cloud, conn, server.id)
    assert not file_exists(virt.node(host), f"{virt.instances_path}/{server.id}/disk")


def test_power_operations_on_a_real_guest(qemu_cloud: Any, conn: Any, virt: Any) -> None:
    lv = virt.libvirt
    server = boot(qemu_cloud, conn, "qb-power")
    host = server.compute_host
    try:
        stopped = act(qemu_cloud, conn, server.id, {"os-stop": None})
        assert (stopped.status, stopped.power_state) == ("SHUTOFF", 4)
        assert not domain(virt, host, server.id).isActive()
        started = act(qemu_cloud, conn, server.id, {"os-start": None})
        assert (started.status, started.power_state) == ("ACTIVE", 1)
        assert heartbeats(serial(virt, host, server.id))[0] == 1  # a fresh boot

        paused = act(qemu_cloud, conn, server.id, {"pause": None})
        assert (paused.status, paused.power_state) == ("PAUSED", 3)
        assert domain(virt, host, server.id).state(0)[0] == lv.VIR_DOMAIN_PAUSED
        assert act(qemu_cloud, conn, server.id, {"unpause": None}).status == "ACTIVE"

        before = max(heartbeats(serial(virt, host, server.id)))
        suspended = act(qemu_cloud, conn, server.id, {"suspend": None})
        assert suspended.status == "SUSPENDED"
        assert domain(virt, host, server.id).hasManagedSaveImage(0)
        assert act(qemu_cloud, conn, server.id, {"resume": None}).status == "ACTIVE"
        # restored from the managed save: the guest's counter goes on, no new boot
        after = wait_for_heartbeat(
            virt.node(host), f"{virt.serial_dir}/{server.id}.log", above=before, timeout=60
        )
        assert after > before

        rebooted = act(qemu_cloud, conn, server.id, {"reboot": {"type": "HARD"}})
        assert (rebooted.status, rebooted.power_state) == ("ACTIVE", 1)
        assert heartbeats(serial(virt, host, server.id))[0] == 1
    finally:
        delete(qemu_cloud, conn, server.id)


def test_a_guest_that_powers_itself_off_is_seen_shut_off(
    qemu_cloud: Any, conn: Any, control: Any, virt: Any
) -> None:
    lv = virt.libvirt
    server = boot(qemu_cloud, conn, "qb-drift")
    host = server.compute_host
    try:
        name = domain(virt, host, server.id).name()
        control.inject(
            {"target": "hypervisor", "kind": "guest_shutdown", "host": host, "domain": name}
        )
        state, reason = domain(virt, host, server.id).state(0)
        assert (state, reason) == (lv.VIR_DOMAIN_SHUTOFF, lv.VIR_DOMAIN_SHUTOFF_SHUTDOWN)
        assert "sysrq: Power Off" in serial(virt, host, server.id)
    finally:
        delete(qemu_cloud, conn, server.id)


def test_domain_state_changes_behind_the_clouds_back(
    qemu_cloud: Any, conn: Any, control: Any, virt: Any
) -> None:
    lv = virt.libvirt
    server = boot(qemu_cloud, conn, "qb-state")
    host = server.compute_host
    try:
        name = domain(virt, host, server.id).name()
        fault = {"target": "hypervisor", "kind": "domain_state", "host": host, "domain": name}
        control.inject({**fault, "state": "paused"})
        assert domain(virt, host, server.id).state(0)[0] == lv.VIR_DOMAIN_PAUSED
        control.inject({**fault, "state": "running"})
        assert domain(virt, host, server.id).state(0)[0] == lv.VIR_DOMAIN_RUNNING
        control.inject({**fault, "state": "destroyed"})
        assert not domain(virt, host, server.id).isActive()
    finally:
        delete(qemu_cloud, conn, server.id)


def test_faults_real_libvirt_cannot_do_are_refused(control: Any, virt: Any) -> None:
    from testbed.control.client import ControlError

    assert "migration_failure" not in virt.fault_kinds()
    assert {"host_crash", "guest_shutdown", "domain_state"} <= set(virt.fault_kinds())
    with pytest.raises(ControlError) as caught:
        control.inject(
            {"target": "hypervisor", "kind": "slow_operation", "host": "cmp-a1", "seconds": 5}
        )
    assert "not supported by the qemu backend" in str(caught.value)


def test_volumes_live_on_storage_every_node_sees(qemu_cloud: Any, conn: Any, virt: Any) -> None:
    volume = conn.block_storage.create_volume(size=1, name="qb-vol")
    qemu_cloud.settle(SETTLE)
    path = f"/var/lib/testbed/volumes/volume-{volume.id}"
    assert all(file_exists(virt.node(h), path) for h in virt.hosts())
    conn.block_storage.delete_volume(volume.id)
    qemu_cloud.settle(SETTLE)
    assert not file_exists(virt.node("cmp-b1"), path)


def test_disk_copies_follow_the_storage_groups(virt: Any) -> None:
    path = f"{virt.instances_path}/qb-copy/disk"
    virt.create_disk("cmp-a1", path, 1)
    try:
        assert virt.disk_exists("cmp-a2", path), "cmp-a1 and cmp-a2 share instance storage"
        assert not virt.disk_exists("cmp-b1", path)
        virt.copy_disk("cmp-a1", "cmp-b1", path)
        assert virt.disk_exists("cmp-b1", path)
        info = virt.node("cmp-b1").exec(["qemu-img", "info", path]).output
        assert "virtual size: 1 GiB" in info and "backing file: /opt/testbed/guest" in info
    finally:
        virt.delete_disk("cmp-a1", path)
        virt.delete_disk("cmp-b1", path)
    assert not virt.disk_exists("cmp-a2", path) and not virt.disk_exists("cmp-b1", path)


def test_host_crash_kills_the_node_and_recovery_brings_it_back(
    qemu_cloud: Any, conn: Any, control: Any, virt: Any
) -> None:
    host = "cmp-b1"
    node = virt.node(host)
    control.inject({"target": "host", "kind": "crash", "host": host})
    try:
        assert node.status() == "exited"
        with pytest.raises(virt.libvirt.libvirtError, match="No route to host"):
            virt.libvirt.open(virt.uri(host))
    finally:
        control.clear_faults()
    assert node.status() == "running"
    assert control.run_periodic_tasks("update_available_resource", host)
    hypervisors = conn.compute.get("/os-hypervisors/detail").json()["hypervisors"]
    assert {h["hypervisor_hostname"]: h["state"] for h in hypervisors}[host] == "up"
