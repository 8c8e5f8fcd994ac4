"""Live migration end to end (os-migrateLive -> conductor -> scheduler -> source and
destination compute hosts -> libvirt driver on fakevirt): the three kinds, progress,
abort, force-complete, timeouts, and a rollback for every phase that can fail."""

from __future__ import annotations

from typing import Any

import pytest

from testbed.bus.base import BusFault
from testbed.compute.models import Allocation, BlockDeviceMapping, Migration

from .conftest import MoveCloud, make_cloud_fixture


def live(cloud: MoveCloud, server_id: str, host: str | None, block: Any = "auto") -> Any:
    return cloud.action(
        server_id,
        {"os-migrateLive": {"host": host, "block_migration": block}},
        microversion="2.68",
    )


def migration_row(cloud: MoveCloud, server_id: str) -> Migration:
    with cloud.cloud.runtime.store.session() as s:
        row = (
            s.query(Migration)
            .filter(Migration.instance_uuid == server_id)
            .order_by(Migration.id.desc())
            .first()
        )
        assert row is not None
        s.expunge(row)
        return row


def allocation_hosts(cloud: MoveCloud, consumer: str) -> list[str]:
    with cloud.cloud.runtime.store.session() as s:
        return sorted(a.host for a in s.query(Allocation).filter_by(consumer_uuid=consumer))


def assert_rolled_back(cloud: MoveCloud, server_id: str, source: str, status: str) -> None:
    after = cloud.server(server_id)
    assert (after.status, after.task_state, after.compute_host) == ("ACTIVE", None, source)
    assert cloud.running_on(server_id) == [source]
    row = migration_row(cloud, server_id)
    assert row.status == status
    assert allocation_hosts(cloud, server_id) == [source]
    assert allocation_hosts(cloud, row.uuid) == []


def test_block_migration_copies_the_disks(cloud: MoveCloud) -> None:
    server = cloud.boot("cmp-b1")
    assert live(cloud, server.id, "cmp-b2").status_code == 202
    cloud.settle()
    after = cloud.server(server.id)
    assert (after.status, after.task_state, after.compute_host) == ("ACTIVE", None, "cmp-b2")
    assert cloud.running_on(server.id) == ["cmp-b2"]
    disk = f"/var/lib/testbed/instances/{server.id}/disk"
    assert disk in cloud.files("cmp-b2") and disk not in cloud.files("cmp-b1")
    row = migration_row(cloud, server.id)
    assert (row.migration_type, row.status) == ("live-migration", "completed")
    assert row.details["migrate_data"]["block_migration"] is True
    assert row.disk_total and row.disk_remaining == 0 and row.memory_total
    assert allocation_hosts(cloud, server.id) == ["cmp-b2"]
    assert cloud.events(server.id, "live-migration") == [
        ("conductor_live_migrate_instance", "Success"),
        ("compute_check_can_live_migrate_destination", "Success"),
        ("compute_check_can_live_migrate_source", "Success"),
        ("compute_live_migration", "Success"),
        ("compute_pre_live_migration", "Success"),
        ("compute_post_live_migration_at_destination", "Success"),
    ]


def test_shared_storage_migration_copies_nothing(cloud: MoveCloud) -> None:
    server = cloud.boot("cmp-a1")
    assert live(cloud, server.id, None).status_code == 202  # the scheduler picks
    cloud.settle()
    after = cloud.server(server.id)
    assert after.status == "ACTIVE" and after.compute_host != "cmp-a1"
    row = migration_row(cloud, server.id)
    data = row.details["migrate_data"]
    # the downtime, read from the completed job's statistics on the destination
    assert isinstance(row.details["downtime_ms"], int) and row.details["downtime_ms"] >= 0
    if after.compute_host == "cmp-a2":
        assert data["is_shared_instance_path"] is True and data["block_migration"] is False
        assert row.disk_total == 0


def test_volume_backed_moves_the_volume_connection(cloud: MoveCloud) -> None:
    server = cloud.boot("cmp-b1", bfv=True)
    with cloud.cloud.runtime.store.session() as s:
        before = s.query(BlockDeviceMapping).filter_by(instance_uuid=server.id).one()
        old_attachment = before.attachment_id
    assert live(cloud, server.id, "cmp-b2").status_code == 202
    cloud.settle()
    assert cloud.server(server.id).compute_host == "cmp-b2"
    data = migration_row(cloud, server.id).details["migrate_data"]
    assert data["is_volume_backed"] is True and data["block_migration"] is False
    with cloud.cloud.runtime.store.session() as s:
        after = s.query(BlockDeviceMapping).filter_by(instance_uuid=server.id).one()
        assert after.attachment_id != old_attachment
        volume_id = after.volume_id
    volume = cloud.conn.block_storage.get_volume(volume_id)
    assert volume.status == "in-use"
    assert [a["host_name"] for a in volume.attachments] == ["cmp-b2"]


@pytest.mark.parametrize(
    ("source", "dest", "block", "words"),
    [
        ("cmp-b1", "cmp-b2", False, "is not on shared storage"),
        ("cmp-a1", "cmp-a2", True, "Block migration can not be used with shared storage"),
        ("cmp-b1", "cmp-b1", "auto", "to current host"),
    ],
)
def test_impossible_kinds_are_refused_and_nothing_moves(
    cloud: MoveCloud, source: str, dest: str, block: Any, words: str
) -> None:
    server = cloud.boot(source)
    assert live(cloud, server.id, dest, block).status_code == 202
    cloud.settle()
    assert_rolled_back(cloud, server.id, source, "error")
    assert ("conductor_live_migrate_instance", "Error") in cloud.events(server.id, "live-migration")
    with cloud.cloud.runtime.store.session() as s:
        from testbed.compute.models import InstanceFault

        fault = s.query(InstanceFault).filter_by(instance_uuid=server.id).one()
        assert words in fault.message


def test_api_refusals(cloud: MoveCloud) -> None:
    server = cloud.boot("cmp-b1")
    assert live(cloud, server.id, "nowhere").status_code == 400
    assert live(cloud, server.id, None, "maybe").status_code == 400
    cloud.conn.compute.stop_server(server.id)
    cloud.settle()
    assert live(cloud, server.id, None).status_code == 409


def _fault_bus(cloud: MoveCloud, method: str) -> None:
    cloud.cloud.runtime.bus.inject(
        BusFault(topic="compute.*", method=method, action="error", message="injected", times=1)
    )


@pytest.mark.parametrize(
    "inject",
    [
        pytest.param(lambda c: _fault_bus(c, "pre_live_migration"), id="pre_live_migration"),
        pytest.param(
            lambda c: c.world.inject(
                {"kind": "migration_failure", "host": "cmp-b1", "phase": "before_start"}
            ),
            id="start",
        ),
        pytest.param(
            lambda c: c.world.inject(
                {"kind": "migration_failure", "host": "cmp-b1", "phase": "memory_copy"}
            ),
            id="memory_copy",
        ),
        pytest.param(
            lambda c: c.world.inject(
                {"kind": "migration_failure", "host": "cmp-b1", "phase": "switchover"}
            ),
            id="switchover",
        ),
        pytest.param(
            lambda c: _fault_bus(c, "post_live_migration_at_destination"),
            id="post_live_migration_at_destination",
        ),
        pytest.param(
            lambda c: _fault_bus(c, "check_can_live_migrate_source"), id="source_pre_check"
        ),
    ],
)
def test_a_failure_at_any_phase_rolls_back(cloud: MoveCloud, inject: Any) -> None:
    server = cloud.boot("cmp-b1")
    inject(cloud)
    assert live(cloud, server.id, "cmp-b2").status_code == 202
    cloud.settle()
    assert_rolled_back(cloud, server.id, "cmp-b1", "error")
    disk = f"/var/lib/testbed/instances/{server.id}/disk"
    assert disk in cloud.files("cmp-b1") and disk not in cloud.files("cmp-b2")


def _slow(cloud: MoveCloud) -> None:
    """Memory dirtied faster than it is sent: the migration never converges alone."""
    cloud.world.migration_dirty_rate_mib = 1024.0


def _running(cloud: MoveCloud, server_id: str) -> dict[str, Any]:
    response = cloud.conn.compute.get(f"/servers/{server_id}/migrations", microversion="2.80")
    [migration] = response.json()["migrations"]
    return dict(migration)


def test_progress_is_visible_and_abort_cancels(cloud: MoveCloud) -> None:
    server = cloud.boot("cmp-b1")
    _slow(cloud)
    clock = cloud.cloud.runtime.clock
    try:
        clock.set_mode("manual")
        assert live(cloud, server.id, "cmp-b2").status_code == 202
        clock.advance(1.0)
        clock.advance(1.0)
        first = _running(cloud, server.id)
        assert first["status"] == "running"
        assert first["memory_total_bytes"] == 512 * 1024**2
        assert first["disk_total_bytes"] > 0
        clock.advance(30.0)
        later = _running(cloud, server.id)
        assert later["disk_remaining_bytes"] == 0
        assert later["memory_processed_bytes"] > first["memory_processed_bytes"]
        assert cloud.server(server.id).status == "MIGRATING"
        response = cloud.conn.compute.delete(
            f"/servers/{server.id}/migrations/{later['id']}", microversion="2.24"
        )
        assert response.status_code == 202
        clock.advance(2.0)
    finally:
        cloud.world.migration_dirty_rate_mib = 8.0
        clock.set_mode("auto")
    cloud.settle()
    assert_rolled_back(cloud, server.id, "cmp-b1", "cancelled")
    gone = cloud.conn.compute.delete(
        f"/servers/{server.id}/migrations/{later['id']}", microversion="2.24"
    )
    assert gone.status_code == 400


def test_progress_is_saved_every_five_seconds(cloud: MoveCloud) -> None:
    """As Nova's monitor does: at its first look, then every tenth (0.5 s apart)."""
    server = cloud.boot("cmp-b1")
    _slow(cloud)
    clock = cloud.cloud.runtime.clock
    counters = ("memory_processed_bytes", "disk_processed_bytes")
    try:
        clock.set_mode("manual")
        assert live(cloud, server.id, "cmp-b2").status_code == 202
        clock.advance(1.0)
        first = _running(cloud, server.id)
        clock.advance(3.0)
        same = _running(cloud, server.id)
        clock.advance(2.0)
        later = _running(cloud, server.id)
        response = cloud.conn.compute.delete(
            f"/servers/{server.id}/migrations/{later['id']}", microversion="2.24"
        )
        assert response.status_code == 202
    finally:
        cloud.world.migration_dirty_rate_mib = 8.0
        clock.set_mode("auto")
    cloud.settle()
    assert [same[c] for c in counters] == [first[c] for c in counters]
    assert later["disk_processed_bytes"] > first["disk_processed_bytes"]
    assert later["memory_processed_bytes"] > first["memory_processed_bytes"]


def test_abort_while_preparing_cleans_up_the_destination(cloud: MoveCloud) -> None:
    """An abort that lands while the destination prepares (its disks made, the call still
    under way) cancels the move; the rollback removes what the destination made."""
    server = cloud.boot("cmp-b1")
    bus, clock = cloud.cloud.runtime.bus, cloud.cloud.runtime.clock
    bus.inject(
        BusFault(topic="compute.*", method="pre_live_migration", action="delay", seconds=5.0)
    )
    try:
        clock.set_mode("manual")
        assert live(cloud, server.id, "cmp-b2").status_code == 202
        clock.advance(1.0)
        preparing = _running(cloud, server.id)
        assert preparing["status"] == "preparing"
        response = cloud.conn.compute.delete(
            f"/servers/{server.id}/migrations/{preparing['id']}", microversion="2.24"
        )
        assert response.status_code == 202
    finally:
        bus.clear_faults()
        clock.set_mode("auto")
    cloud.settle()
    assert_rolled_back(cloud, server.id, "cmp-b1", "cancelled")
    disk = f"/var/lib/testbed/instances/{server.id}/disk"
    assert disk in cloud.files("cmp-b1") and disk not in cloud.files("cmp-b2")


def test_force_complete_pauses_the_guest_to_finish(cloud: MoveCloud) -> None:
    server = cloud.boot("cmp-b1")
    _force_complete_after(cloud, server.id, 1.0)
    after = cloud.server(server.id)
    assert (after.status, after.compute_host, after.power_state) == ("ACTIVE", "cmp-b2", 1)
    assert migration_row(cloud, server.id).status == "completed"


post_copy_cloud = make_cloud_fixture(live_migration_permit_post_copy=True)


def test_force_complete_switches_to_post_copy(post_copy_cloud: MoveCloud) -> None:
    cloud = post_copy_cloud
    server = cloud.boot("cmp-b1")
    _slow(cloud)
    _force_complete_after(cloud, server.id, 5.0)
    cloud.world.migration_dirty_rate_mib = 8.0
    after = cloud.server(server.id)
    assert (after.status, after.compute_host) == ("ACTIVE", "cmp-b2")
    assert cloud.running_on(server.id) == ["cmp-b2"]
    cloud.cleanup()


timeout_cloud = make_cloud_fixture(live_migration_completion_timeout=10.0)


def test_completion_timeout_aborts(timeout_cloud: MoveCloud) -> None:
    cloud = timeout_cloud
    server = cloud.boot("cmp-b1")
    _slow(cloud)
    try:
        assert live(cloud, server.id, "cmp-b2").status_code == 202
        cloud.settle()
    finally:
        cloud.world.migration_dirty_rate_mib = 8.0
    assert_rolled_back(cloud, server.id, "cmp-b1", "cancelled")
    cloud.cleanup()


def test_migration_flags_for_each_kind(cloud: MoveCloud) -> None:
    driver = cloud.cloud.compute["cmp-b1"].driver  # type: ignore[attr-defined]
    lv = driver.libvirt
    base = (
        lv.VIR_MIGRATE_LIVE
        | lv.VIR_MIGRATE_PEER2PEER
        | lv.VIR_MIGRATE_PERSIST_DEST
        | lv.VIR_MIGRATE_UNDEFINE_SOURCE
    )
    disks = [{"path": "/x/disk", "target": "vda", "size_gb": 1}]
    block, params = driver.migration_flags({"block_migration": True, "local_disks": disks})
    assert block == base | lv.VIR_MIGRATE_NON_SHARED_DISK and params == {}
    shared, _ = driver.migration_flags({"block_migration": False, "is_shared_instance_path": True})
    assert shared == base | lv.VIR_MIGRATE_UNSAFE
    volume, params = driver.migration_flags(
        {"block_migration": True, "has_volumes": True, "local_disks": disks}
    )
    assert volume & lv.VIR_MIGRATE_NON_SHARED_DISK and volume & lv.VIR_MIGRATE_UNSAFE
    assert params == {lv.VIR_MIGRATE_PARAM_MIGRATE_DISKS: ["vda"]}


def _force_complete_after(cloud: MoveCloud, server_id: str, seconds: float) -> None:
    """Live-migrate to cmp-b2, force completion ``seconds`` (clock) into it, settle."""
    clock = cloud.cloud.runtime.clock
    try:
        clock.set_mode("manual")
        assert live(cloud, server_id, "cmp-b2").status_code == 202
        clock.advance(seconds)
        migration = _running(cloud, server_id)
        response = cloud.conn.compute.post(
            f"/servers/{server_id}/migrations/{migration['id']}/action",
            json={"force_complete": None},
            microversion="2.22",
        )
        assert response.status_code == 202
    finally:
        clock.set_mode("auto")
    cloud.settle()
