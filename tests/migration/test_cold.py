"""Cold migration and resize end to end: REST API (openstacksdk), conductor, scheduler,
compute hosts, libvirt driver on fakevirt."""

from __future__ import annotations

import pytest

from testbed.compute.models import Allocation
from testbed.compute.states import task_states

from .conftest import MoveCloud, make_cloud_fixture

RESIZE_STEPS = [
    task_states.RESIZE_PREP,
    task_states.RESIZE_MIGRATING,
    task_states.RESIZE_MIGRATED,
    task_states.RESIZE_FINISH,
    None,
]


def allocations(cloud: MoveCloud) -> dict[str, list[tuple[str, int]]]:
    """consumer -> [(host, vcpus)]."""
    with cloud.cloud.runtime.store.session() as s:
        found: dict[str, list[tuple[str, int]]] = {}
        for a in s.query(Allocation).all():
            found.setdefault(a.consumer_uuid, []).append((a.host, a.vcpus))
        return found


def test_resize_goes_through_nova_task_states_to_verify_resize(cloud: MoveCloud) -> None:
    server = cloud.boot("cmp-b1")
    cloud.conn.compute.resize_server(server.id, "3")
    cloud.settle()
    after = cloud.server(server.id)
    assert (after.status, after.vm_state, after.task_state) == ("VERIFY_RESIZE", "resized", None)
    assert after.flavor.name == "m1.medium"
    assert after.compute_host != "cmp-b1"
    steps = cloud.task_states(server.id)
    assert steps[steps.index(task_states.RESIZE_PREP) :] == RESIZE_STEPS
    [migration] = cloud.migrations(server.id)
    assert (migration.migration_type, migration.status) == ("resize", "finished")
    assert (migration.source_compute, migration.dest_compute) == ("cmp-b1", after.compute_host)
    held = allocations(cloud)
    assert held[server.id] == [(after.compute_host, 2)]
    assert held[_migration_uuid(cloud, server.id)] == [("cmp-b1", 1)]
    assert cloud.running_on(server.id) == [after.compute_host]
    assert cloud.events(server.id, "resize") == [
        ("conductor_migrate_server", "Success"),
        ("compute_prep_resize", "Success"),
        ("compute_resize_instance", "Success"),
        ("compute_finish_resize", "Success"),
    ]


def _migration_uuid(cloud: MoveCloud, server_id: str) -> str:
    response = cloud.conn.compute.get(
        "/os-migrations", params={"instance_uuid": server_id}, microversion="2.59"
    )
    return str(response.json()["migrations"][0]["uuid"])


def test_confirm_drops_the_source_copy_and_allocation(cloud: MoveCloud) -> None:
    server = cloud.boot("cmp-b1")
    cloud.conn.compute.resize_server(server.id, "2")
    cloud.settle()
    dest = cloud.server(server.id).compute_host
    disk = f"/var/lib/testbed/instances/{server.id}/disk"
    assert disk in cloud.files("cmp-b1") and disk in cloud.files(dest)
    response = cloud.action(server.id, {"confirmResize": None})
    assert response.status_code == 204
    cloud.settle()
    after = cloud.server(server.id)
    assert (after.status, after.compute_host, after.flavor.name) == ("ACTIVE", dest, "m1.small")
    assert disk not in cloud.files("cmp-b1")
    assert cloud.migrations(server.id)[0].status == "confirmed"
    assert allocations(cloud)[server.id] == [(dest, 1)]
    again = cloud.action(server.id, {"confirmResize": None})
    assert again.status_code == 409


def test_revert_goes_back_to_the_source_with_the_old_flavor(cloud: MoveCloud) -> None:
    server = cloud.boot("cmp-b2")
    cloud.conn.compute.resize_server(server.id, "3")
    cloud.settle()
    dest = cloud.server(server.id).compute_host
    cloud.conn.compute.revert_server_resize(server.id)
    cloud.settle()
    after = cloud.server(server.id)
    assert (after.status, after.compute_host, after.flavor.name) == ("ACTIVE", "cmp-b2", "m1.tiny")
    assert cloud.migrations(server.id)[0].status == "reverted"
    assert allocations(cloud)[server.id] == [("cmp-b2", 1)]
    assert f"/var/lib/testbed/instances/{server.id}/disk" not in cloud.files(dest)
    assert cloud.running_on(server.id) == ["cmp-b2"]
    assert task_states.RESIZE_REVERTING in cloud.task_states(server.id)


def test_migrate_on_shared_storage_keeps_one_disk(cloud: MoveCloud) -> None:
    server = cloud.boot("cmp-a1")
    response = cloud.action(server.id, {"migrate": None})
    assert response.status_code == 202
    cloud.settle()
    after = cloud.server(server.id)
    assert (after.status, after.compute_host) == ("VERIFY_RESIZE", "cmp-a2")
    assert cloud.migrations(server.id)[0].migration_type == "migration"
    cloud.conn.compute.confirm_server_resize(server.id)
    cloud.settle()
    disk = f"/var/lib/testbed/instances/{server.id}/disk"
    assert disk in cloud.files("cmp-a2") and disk in cloud.files("cmp-a1")  # the same file
    assert cloud.running_on(server.id) == ["cmp-a2"]


def test_migrate_to_a_requested_host_needs_2_56(cloud: MoveCloud) -> None:
    server = cloud.boot("cmp-b1")
    old = cloud.action(server.id, {"migrate": {"host": "cmp-a1"}}, microversion="2.55")
    assert old.status_code == 400
    same = cloud.action(server.id, {"migrate": {"host": "cmp-b1"}}, microversion="2.56")
    assert same.status_code == 400
    assert "host where the server exists" in same.json()["badRequest"]["message"]
    unknown = cloud.action(server.id, {"migrate": {"host": "nope"}}, microversion="2.56")
    assert unknown.status_code == 400
    ok = cloud.action(server.id, {"migrate": {"host": "cmp-a1"}}, microversion="2.56")
    assert ok.status_code == 202
    cloud.settle()
    assert cloud.server(server.id).compute_host == "cmp-a1"
    cloud.conn.compute.confirm_server_resize(server.id)


def test_a_stopped_server_resizes_and_stays_stopped(cloud: MoveCloud) -> None:
    server = cloud.boot("cmp-b1")
    cloud.conn.compute.stop_server(server.id)
    cloud.settle()
    cloud.conn.compute.resize_server(server.id, "2")
    cloud.settle()
    assert cloud.server(server.id).status == "VERIFY_RESIZE"
    assert cloud.running_on(server.id) == []
    cloud.conn.compute.confirm_server_resize(server.id)
    cloud.settle()
    after = cloud.server(server.id)
    assert (after.status, after.power_state) == ("SHUTOFF", 4)
    cloud.conn.compute.resize_server(server.id, "3")
    cloud.settle()
    cloud.conn.compute.revert_server_resize(server.id)
    cloud.settle()
    after = cloud.server(server.id)
    assert (after.status, after.flavor.name) == ("SHUTOFF", "m1.small")
    assert cloud.running_on(server.id) == []


@pytest.mark.parametrize(
    ("flavor", "message"),
    [("1", "must change flavor"), ("99", "Unable to locate"), ("1", "resize disk down")],
)
def test_refused_resizes_are_400_and_change_nothing(
    cloud: MoveCloud, flavor: str, message: str
) -> None:
    server = cloud.boot("cmp-b1", flavor="2" if "down" in message else "1")
    response = cloud.action(server.id, {"resize": {"flavorRef": flavor}})
    assert response.status_code == 400
    assert message in response.json()["badRequest"]["message"]
    assert cloud.server(server.id).status == "ACTIVE"
    assert cloud.migrations(server.id) == []


def test_a_flavor_that_fits_nowhere_leaves_the_server_as_it_was(cloud: MoveCloud) -> None:
    server = cloud.boot("cmp-b1")
    huge = cloud.conn.compute.find_flavor("mv.huge") or cloud.conn.compute.create_flavor(
        name="mv.huge", ram=65536, vcpus=2, disk=1, flavorid="mv-huge"
    )
    cloud.conn.compute.resize_server(server.id, huge.id)
    cloud.settle()
    after = cloud.server(server.id)
    assert (after.status, after.task_state, after.compute_host) == ("ACTIVE", None, "cmp-b1")
    assert after.flavor.name == "m1.tiny"
    assert cloud.migrations(server.id)[0].status == "error"
    assert ("conductor_migrate_server", "Error") in cloud.events(server.id, "resize")
    assert allocations(cloud)[server.id] == [("cmp-b1", 1)]


def test_states_that_cannot_move_are_409(cloud: MoveCloud) -> None:
    server = cloud.boot("cmp-b1")
    cloud.conn.compute.pause_server(server.id)
    cloud.settle()
    assert cloud.action(server.id, {"resize": {"flavorRef": "2"}}).status_code == 409
    assert cloud.action(server.id, {"migrate": None}).status_code == 409
    assert cloud.action(server.id, {"confirmResize": None}).status_code == 409
    assert cloud.action(server.id, {"revertResize": None}).status_code == 409


def test_deleting_a_resized_server_confirms_first(cloud: MoveCloud) -> None:
    server = cloud.boot("cmp-b1")
    cloud.conn.compute.resize_server(server.id, "2")
    cloud.settle()
    cloud.conn.compute.delete_server(server.id)
    cloud.settle()
    assert cloud.conn.compute.find_server(server.id) is None
    assert cloud.migrations(server.id)[0].status == "confirmed"
    assert server.id not in allocations(cloud)
    assert cloud.files("cmp-b1") == [] or all(server.id not in f for f in cloud.files("cmp-b1"))


def test_a_failure_on_the_source_rolls_back(cloud: MoveCloud) -> None:
    server = cloud.boot("cmp-b1")
    cloud.world.inject({"kind": "host_hang", "host": "cmp-b1", "seconds": 2})
    cloud.conn.compute.resize_server(server.id, "2")
    cloud.settle()
    cloud.world.clear_faults()
    after = cloud.server(server.id)
    assert (after.status, after.task_state, after.compute_host) == ("ACTIVE", None, "cmp-b1")
    assert after.flavor.name == "m1.tiny"
    assert cloud.migrations(server.id)[0].status == "error"
    assert ("compute_resize_instance", "Error") in cloud.events(server.id, "resize")
    assert allocations(cloud)[server.id] == [("cmp-b1", 1)]
    assert cloud.running_on(server.id) == ["cmp-b1"]


def test_a_failure_on_the_destination_errors_the_server_as_nova_does(cloud: MoveCloud) -> None:
    server = cloud.boot("cmp-b1")
    cloud.world.inject({"kind": "host_hang", "host": "cmp-b2", "seconds": 2})
    response = cloud.action(server.id, {"migrate": {"host": "cmp-b2"}}, microversion="2.56")
    assert response.status_code == 202
    cloud.settle()
    cloud.world.clear_faults()
    after = cloud.server(server.id)
    assert (after.status, after.compute_host) == ("ERROR", "cmp-b2")
    assert cloud.migrations(server.id)[0].status == "error"


same_host_cloud = make_cloud_fixture(allow_resize_to_same_host=True)


def test_same_host_resize_only_when_allowed(same_host_cloud: MoveCloud) -> None:
    cloud = same_host_cloud
    server = cloud.boot("cmp-a1")
    response = cloud.action(server.id, {"resize": {"flavorRef": "2"}})
    assert response.status_code == 202
    cloud.settle()
    assert cloud.server(server.id).status == "VERIFY_RESIZE"
    cloud.conn.compute.revert_server_resize(server.id)
    cloud.settle()
    assert cloud.server(server.id).status == "ACTIVE"
    cloud.cleanup()


auto_confirm_cloud = make_cloud_fixture(resize_confirm_window=30.0)


def test_resize_confirm_window_auto_confirms(auto_confirm_cloud: MoveCloud) -> None:
    cloud = auto_confirm_cloud
    server = cloud.boot("cmp-b1")
    cloud.conn.compute.resize_server(server.id, "2")
    cloud.settle()
    assert cloud.server(server.id).status == "VERIFY_RESIZE"
    cloud.cloud.runtime.clock.advance(65)
    cloud.settle()
    after = cloud.server(server.id)
    assert after.status == "ACTIVE"
    assert cloud.migrations(server.id)[0].status == "confirmed"
    assert cloud.events(server.id, "confirmResize") == [("compute_confirm_resize", "Success")]
    cloud.cleanup()


def test_quota_usage_follows_the_flavor_through_resize_and_revert(cloud: MoveCloud) -> None:
    def used() -> tuple[int, int]:
        absolute = cloud.conn.compute.get("/limits").json()["limits"]["absolute"]
        return absolute["totalCoresUsed"], absolute["totalRAMUsed"]

    server = cloud.boot("cmp-b2")
    assert used() == (1, 512)
    cloud.conn.compute.resize_server(server.id, "3")
    cloud.settle()
    assert used() == (2, 4096)  # the new flavor counts from VERIFY_RESIZE on, as in Nova
    cloud.conn.compute.revert_server_resize(server.id)
    cloud.settle()
    assert used() == (1, 512)
