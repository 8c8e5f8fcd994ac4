"""Moving guests between real nodes through the API: live migration (the guest's heartbeat
counter goes on at the destination), cold migration and resize with confirm and revert (its
disk counter shows the disk came along), evacuation after ``docker kill`` (data kept on
shared storage, rebuilt otherwise, clean-up when the node returns), and drift repair after a
guest powered itself off.

The guest prints ``disk-counter N`` at each boot (a counter on its own disk) and
``heartbeat N`` every second; the serial log is per node, so after a move the destination's
log tells what happened.
"""

from __future__ import annotations

from typing import Any

import pytest

from testbed.invariants import check_invariants
from testbed.qemu.serial import DISK_COUNTER, wait_for_heartbeat
from tests.qemu.helpers import SETTLE, act, boot, delete, domain, serial

pytestmark = pytest.mark.qemu


def _disk_counter(text: str) -> int:
    for line in text.splitlines():
        match = DISK_COUNTER.match(line)
        if match:
            return int(match.group(1))
    raise AssertionError(f"no disk-counter line in:\n{text}")


def _on(qemu_cloud: Any, conn: Any, host: str, name: str) -> Any:
    zone = qemu_cloud.runtime.virt.host_spec(host).availability_zone
    server = boot(qemu_cloud, conn, name, availability_zone=f"{zone}:{host}")
    assert (server.status, server.compute_host) == ("ACTIVE", host), server.fault
    return server


@pytest.mark.parametrize(
    ("source", "dest"),
    [("cmp-b1", "cmp-a1"), ("cmp-a1", "cmp-a2")],
    ids=["block", "shared-storage"],
)
def test_live_migration_keeps_the_guest_running(
    qemu_cloud: Any, conn: Any, virt: Any, source: str, dest: str
) -> None:
    server = _on(qemu_cloud, conn, source, f"qm-live-{source}")
    try:
        conn.compute.live_migrate_server(server, host=dest, block_migration="auto")
        qemu_cloud.settle(SETTLE)
        moved = conn.compute.get_server(server.id)
        assert (moved.status, moved.compute_host) == ("ACTIVE", dest), moved.fault
        assert domain(virt, dest, server.id).isPersistent()
        log = f"{virt.serial_dir}/{server.id}.log"
        first = wait_for_heartbeat(virt.node(dest), log, timeout=SETTLE)
        assert first > 1, "the heartbeat counter restarted on the destination"
        assert "disk-counter" not in serial(virt, dest, server.id), "the guest booted again"
        [migration] = list(conn.compute.migrations(instance_uuid=server.id))
        assert (migration.migration_type, migration.status) == ("live-migration", "completed")
        assert check_invariants(qemu_cloud.runtime) == []
    finally:
        delete(qemu_cloud, conn, server.id)


def test_cold_migration_and_resize_confirm_and_revert(
    qemu_cloud: Any, conn: Any, virt: Any
) -> None:
    server = _on(qemu_cloud, conn, "cmp-b1", "qm-cold")
    try:
        conn.compute.migrate_server(server)
        qemu_cloud.settle(SETTLE)
        moved = conn.compute.get_server(server.id)
        assert moved.status == "VERIFY_RESIZE" and moved.compute_host != "cmp-b1"
        assert _disk_counter(serial(virt, moved.compute_host, server.id)) == 2  # disk copied
        assert act(qemu_cloud, conn, server.id, {"confirmResize": None}, 204).status == "ACTIVE"
        assert not virt.disk_exists("cmp-b1", f"{virt.instances_path}/{server.id}/disk")

        home = moved.compute_host
        small = conn.compute.find_flavor("m1.small")
        conn.compute.resize_server(server, small.id)
        qemu_cloud.settle(SETTLE)
        resized = conn.compute.get_server(server.id)
        assert (resized.status, resized.flavor["original_name"]) == ("VERIFY_RESIZE", "m1.small")
        assert _disk_counter(serial(virt, resized.compute_host, server.id)) == 3
        reverted = act(qemu_cloud, conn, server.id, {"revertResize": None})
        assert (reverted.status, reverted.compute_host) == ("ACTIVE", home)
        assert reverted.flavor["original_name"] == "m1.tiny"
        assert domain(virt, home, server.id).isActive()
        assert check_invariants(qemu_cloud.runtime) == []
    finally:
        delete(qemu_cloud, conn, server.id)


@pytest.mark.parametrize(
    ("host", "counter"), [("cmp-a1", 2), ("cmp-b1", 1)], ids=["shared-storage", "rebuilt"]
)
def test_evacuation_after_docker_kill(
    qemu_cloud: Any, conn: Any, control: Any, virt: Any, host: str, counter: int
) -> None:
    server = _on(qemu_cloud, conn, host, f"qm-evac-{host}")
    service = next(
        s for s in conn.compute.services() if s.host == host and s.binary == "nova-compute"
    )
    try:
        control.inject({"target": "host", "kind": "crash", "host": host})
        assert virt.node(host).status() == "exited"
        down = conn.compute.put(
            f"/os-services/{service.id}", json={"forced_down": True}, microversion="2.53"
        )
        assert down.status_code == 200, down.text
        response = conn.compute.post(
            f"/servers/{server.id}/action", json={"evacuate": {}}, microversion="2.29"
        )
        assert response.status_code == 200, response.text
        qemu_cloud.settle(SETTLE)
        evacuated = conn.compute.get_server(server.id)
        assert evacuated.status == "ACTIVE" and evacuated.compute_host != host, evacuated.fault
        # shared storage: the same disk, booted once more; host-local: a new disk
        assert _disk_counter(serial(virt, evacuated.compute_host, server.id)) == counter

        control.clear_faults()  # docker start + the compute service starts again
        conn.compute.put(
            f"/os-services/{service.id}", json={"forced_down": False}, microversion="2.53"
        )
        qemu_cloud.settle(SETTLE)
        assert virt.node(host).status() == "running"
        lv = virt.libvirt
        returned = lv.open(virt.uri(host))
        try:
            assert [d.UUIDString() for d in returned.listAllDomains(0)] == []
        finally:
            returned.close()
        assert check_invariants(qemu_cloud.runtime) == []
    finally:
        control.clear_faults()
        conn.compute.put(
            f"/os-services/{service.id}", json={"forced_down": False}, microversion="2.53"
        )
        delete(qemu_cloud, conn, server.id)


def test_a_guest_that_powered_itself_off_is_stopped_by_the_power_sync(
    qemu_cloud: Any, conn: Any, control: Any, virt: Any
) -> None:
    server = boot(qemu_cloud, conn, "qm-drift")
    host = server.compute_host
    try:
        name = domain(virt, host, server.id).name()
        control.inject(
            {"target": "hypervisor", "kind": "guest_shutdown", "host": host, "domain": name}
        )
        control.run_periodic_tasks("sync_power_states", host)
        qemu_cloud.settle(SETTLE)
        repaired = conn.compute.get_server(server.id)
        assert (repaired.status, repaired.power_state) == ("SHUTOFF", 4)
        started = act(qemu_cloud, conn, server.id, {"os-start": None})
        assert (started.status, started.power_state) == ("ACTIVE", 1)
        assert _disk_counter(serial(virt, host, server.id)) == 2
    finally:
        delete(qemu_cloud, conn, server.id)
