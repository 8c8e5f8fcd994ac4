"""live-migration-*: os-migrateLive of the three kinds, progress, abort, rollback.

The hosts come from TESTBED_LOCAL_HOSTS (two hosts without shared instance storage) and
TESTBED_SHARED_HOSTS (two hosts sharing it); the defaults are the test-bed's topology.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from conformance.support import CloudUnderTest, raw

LOCAL = os.environ.get("TESTBED_LOCAL_HOSTS", "cmp-b1,cmp-b2").split(",")
SHARED = os.environ.get("TESTBED_SHARED_HOSTS", "cmp-a1,cmp-a2").split(",")


def _zone(cloud: CloudUnderTest, host: str) -> str:
    for service in cloud.conn.compute.services(binary="nova-compute"):
        if service.host == host:
            return str(service.availability_zone)
    pytest.skip(f"no compute host {host}")


def boot_on(cloud: CloudUnderTest, host: str, name: str, **attrs: Any) -> Any:
    return cloud.boot(name=name, availability_zone=f"{_zone(cloud, host)}:{host}", **attrs)


def live_migrate(cloud: CloudUnderTest, server_id: str, host: str | None, block: Any) -> Any:
    return cloud.action(
        server_id,
        {"os-migrateLive": {"host": host, "block_migration": block}},
        microversion="2.68",
    )


def last_migration(cloud: CloudUnderTest, server_id: str) -> dict[str, Any]:
    response = cloud.conn.compute.get(
        "/os-migrations",
        params={"instance_uuid": server_id, "migration_type": "live-migration"},
        microversion="2.59",
    )
    return dict(response.json()["migrations"][0])


@pytest.mark.testbed_capability("live-migration-block")
@pytest.mark.testbed_id("ff41f648-9bf4-4d45-9eb1-fbc64f6cae8e")
def test_block_migration_between_hosts_without_shared_storage(cloud: CloudUnderTest) -> None:
    server = boot_on(cloud, LOCAL[0], "lm-block")
    assert live_migrate(cloud, server.id, LOCAL[1], "auto").status_code == 202
    moved = cloud.wait(server.id, "ACTIVE")
    assert moved.compute_host == LOCAL[1] and moved.task_state is None
    migration = last_migration(cloud, server.id)
    assert migration["status"] == "completed"
    assert (migration["source_compute"], migration["dest_compute"]) == tuple(LOCAL)


@pytest.mark.testbed_capability("live-migration-block")
@pytest.mark.testbed_id("bbf89e9c-921b-4d32-95a9-8a00037e613a")
def test_scheduler_picks_the_destination(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="lm-any")
    assert live_migrate(cloud, server.id, None, "auto").status_code == 202
    moved = cloud.wait(server.id, "ACTIVE")
    assert moved.compute_host != server.compute_host


@pytest.mark.testbed_capability("live-migration-shared")
@pytest.mark.testbed_id("ced87660-fe4b-42f1-b39c-404cc5140918")
def test_shared_storage_migration(cloud: CloudUnderTest) -> None:
    server = boot_on(cloud, SHARED[0], "lm-shared")
    assert live_migrate(cloud, server.id, SHARED[1], False).status_code == 202
    assert cloud.wait(server.id, "ACTIVE").compute_host == SHARED[1]
    assert last_migration(cloud, server.id)["status"] == "completed"


@pytest.mark.testbed_capability("live-migration-shared")
@pytest.mark.testbed_id("650dfcf1-0a14-4136-b498-4a7dac3bb4e7")
def test_shared_storage_migration_without_shared_storage_is_refused(
    cloud: CloudUnderTest,
) -> None:
    server = boot_on(cloud, LOCAL[0], "lm-noshare")
    response = live_migrate(cloud, server.id, LOCAL[1], False)
    assert response.status_code in (202, 400)
    after = cloud.wait(server.id, "ACTIVE")
    assert after.compute_host == LOCAL[0] and after.task_state is None
    if response.status_code == 202:
        assert last_migration(cloud, server.id)["status"] == "error"


@pytest.mark.testbed_capability("live-migration-volume")
@pytest.mark.testbed_id("c4f5658e-a8ef-4332-ae84-f8e71d3687f9")
def test_volume_backed_migration(cloud: CloudUnderTest) -> None:
    bdm = [
        {
            "boot_index": 0,
            "uuid": cloud.image().id,
            "source_type": "image",
            "destination_type": "volume",
            "volume_size": 1,
            "delete_on_termination": True,
        }
    ]
    server = boot_on(cloud, LOCAL[0], "lm-volume", block_device_mapping=bdm)
    assert live_migrate(cloud, server.id, LOCAL[1], "auto").status_code == 202
    assert cloud.wait(server.id, "ACTIVE").compute_host == LOCAL[1]
    [attachment] = cloud.conn.compute.volume_attachments(server.id)
    volume = cloud.conn.block_storage.get_volume(attachment.volume_id)
    assert volume.status == "in-use"
    assert [a["host_name"] for a in volume.attachments] == [LOCAL[1]]


@pytest.mark.testbed_capability("live-migration-block")
@pytest.mark.testbed_id("0cbca3d1-56e7-4a21-b8d6-1f796afc547b")
# Freezing the clock holds a simulated migration half-way; a real one is over in 1-2 s.
@pytest.mark.testbed_requires("control", "backend:fake")
def test_progress_then_abort_keeps_the_guest_on_the_source(cloud: CloudUnderTest) -> None:
    server = boot_on(cloud, LOCAL[0], "lm-abort")
    cloud.control.set_clock_mode("manual")
    assert live_migrate(cloud, server.id, LOCAL[1], "auto").status_code == 202
    cloud.control.advance(1)
    listed = raw(cloud.conn.compute, "GET", f"/servers/{server.id}/migrations", microversion="2.80")
    [running] = listed.json()["migrations"]
    assert running["status"] == "running"
    assert running["memory_total_bytes"] > 0 and running["disk_total_bytes"] > 0
    assert cloud.conn.compute.get_server(server.id).status == "MIGRATING"
    aborted = raw(
        cloud.conn.compute,
        "DELETE",
        f"/servers/{server.id}/migrations/{running['id']}",
        microversion="2.24",
    )
    assert aborted.status_code == 202
    cloud.control.set_clock_mode("auto")
    after = cloud.wait(server.id, "ACTIVE")
    assert after.compute_host == LOCAL[0]
    assert last_migration(cloud, server.id)["status"] == "cancelled"


@pytest.mark.testbed_capability("live-migration-block")
@pytest.mark.testbed_id("fa2196ce-4dbe-4c7d-8502-f85718b8f7d2")
@pytest.mark.testbed_requires("control")
@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(
            {"target": "hypervisor", "kind": "migration_failure", "phase": "memory_copy"},
            marks=pytest.mark.testbed_requires("hypervisor-fault:migration_failure"),
        ),
        pytest.param(
            {"target": "hypervisor", "kind": "migration_failure", "phase": "switchover"},
            marks=pytest.mark.testbed_requires("hypervisor-fault:migration_failure"),
        ),
        {"target": "bus", "topic": "compute.*", "method": "pre_live_migration"},
        {"target": "bus", "topic": "compute.*", "method": "post_live_migration_at_destination"},
    ],
    ids=["memory_copy", "switchover", "pre_live_migration", "post_live_migration"],
)
def test_a_failed_migration_rolls_back(cloud: CloudUnderTest, fault: dict[str, Any]) -> None:
    server = boot_on(cloud, LOCAL[0], "lm-fail")
    spec = dict(fault)
    if spec["target"] == "hypervisor":
        spec["host"] = LOCAL[0]
    else:
        spec.update(action="error", times=1)
    cloud.control.inject(spec)
    assert live_migrate(cloud, server.id, LOCAL[1], "auto").status_code == 202
    after = cloud.wait(server.id, "ACTIVE")
    assert (after.compute_host, after.task_state, after.vm_state) == (LOCAL[0], None, "active")
    assert last_migration(cloud, server.id)["status"] == "error"
