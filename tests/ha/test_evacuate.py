"""Evacuation and rebuild on a small cloud (h1 and h2 share instance storage, h3 not)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from fakevirt import storage
from testbed.compute.evacuate_api import ComputeServiceInUse, EvacuateOperations
from testbed.compute.models import Migration
from testbed.compute.rebuild_api import RebuildOperations
from testbed.context import RequestContext
from testbed.exceptions import BadRequest, InstanceInvalidState, NotFound
from testbed.invariants import check_invariants
from tests.compute.minicloud import IMAGE_ID, MiniCloud

from .conftest import crash, domain_names, recover

ADMIN = RequestContext(user_id="admin", project_id="p1", roles=("admin",))
GIB = 1024**3


def _disk(uuid: str) -> str:
    return f"/var/lib/testbed/instances/{uuid}/disk"


def _migrations(cloud: MiniCloud, uuid: str) -> list[tuple[str, str, str | None, str | None]]:
    with cloud.runtime.store.session() as s:
        return [
            (m.migration_type, m.status, m.source_compute, m.dest_compute)
            for m in s.scalars(select(Migration).where(Migration.instance_uuid == uuid))
        ]


def _task_states(cloud: MiniCloud, uuid: str) -> list[str | None]:
    return [task for _vm, task, _p in cloud.states(uuid)]


def test_evacuate_is_refused_while_the_host_is_up(fresh: MiniCloud) -> None:
    [uuid] = fresh.boot(force_hosts=["h1"])
    with pytest.raises(
        ComputeServiceInUse, match=re.escape("Compute service of h1 is still in use.")
    ):
        EvacuateOperations(fresh.runtime).evacuate(ADMIN, uuid)
    with pytest.raises(NotFound, match=re.escape("Compute host nowhere not found.")):
        EvacuateOperations(fresh.runtime).evacuate(ADMIN, uuid, host="nowhere")
    with pytest.raises(BadRequest, match=re.escape("The target host can't be the same one.")):
        EvacuateOperations(fresh.runtime).evacuate(ADMIN, uuid, host="h1")
    assert fresh.instance(uuid).task_state is None


def test_evacuation_on_shared_storage_keeps_the_disk_and_the_host_cleans_up_on_return(
    fresh: MiniCloud,
) -> None:
    [uuid] = fresh.boot(force_hosts=["h1"])
    storage.resize("h1", _disk(uuid), 3 * GIB, world=fresh.backend.world)  # "data" written
    crash(fresh, "h1")
    EvacuateOperations(fresh.runtime).evacuate(ADMIN, uuid, host="h2")
    fresh.settle()
    after = fresh.instance(uuid)
    assert (after.host, after.vm_state, after.task_state, after.power_state) == (
        "h2",
        "active",
        None,
        1,
    )
    assert storage.size("h2", _disk(uuid), world=fresh.backend.world) == 3 * GIB
    assert _task_states(fresh, uuid)[-4:] == [
        "rebuilding",
        "rebuild_block_device_mapping",
        "rebuild_spawning",
        None,
    ]
    assert _migrations(fresh, uuid) == [("evacuation", "done", "h1", "h2")]
    assert [h for h, *_ in fresh.allocations(uuid)] == ["h2"]
    recover(fresh, "h1")
    assert uuid not in domain_names(fresh, "h1")  # the stale guest is gone
    assert storage.size("h2", _disk(uuid), world=fresh.backend.world) == 3 * GIB  # disk kept
    assert _migrations(fresh, uuid) == [("evacuation", "completed", "h1", "h2")]
    assert check_invariants(fresh.runtime) == []


def test_evacuation_without_shared_storage_rebuilds_from_the_image(fresh: MiniCloud) -> None:
    [uuid] = fresh.boot(force_hosts=["h3"])
    storage.resize("h3", _disk(uuid), 3 * GIB, world=fresh.backend.world)
    crash(fresh, "h3")
    EvacuateOperations(fresh.runtime).evacuate(ADMIN, uuid)  # the scheduler picks
    fresh.settle()
    after = fresh.instance(uuid)
    assert after.host in ("h1", "h2") and after.vm_state == "active"
    assert storage.size(str(after.host), _disk(uuid), world=fresh.backend.world) == GIB
    recover(fresh, "h3")
    assert uuid not in domain_names(fresh, "h3")
    assert not storage.exists("h3", _disk(uuid), world=fresh.backend.world)
    assert check_invariants(fresh.runtime) == []


@pytest.mark.parametrize(
    ("stop_first", "target_state", "expected"),
    [
        (True, None, "stopped"),
        (False, None, "active"),
        (False, "stopped", "stopped"),
    ],
)
def test_evacuated_instance_lands_in_its_previous_or_the_requested_state(
    fresh: MiniCloud, stop_first: bool, target_state: str | None, expected: str
) -> None:
    [uuid] = fresh.boot(force_hosts=["h1"])
    if stop_first:
        fresh.act(uuid, "stop_instance", "powering-off", action="stop")
    crash(fresh, "h1")
    EvacuateOperations(fresh.runtime).evacuate(ADMIN, uuid, target_state=target_state)
    fresh.settle()
    after = fresh.instance(uuid)
    assert (after.vm_state, after.task_state) == (expected, None)
    assert after.power_state == (4 if expected == "stopped" else 1)


def test_evacuation_with_no_room_anywhere_fails_into_error(fresh: MiniCloud) -> None:
    [uuid] = fresh.boot(force_hosts=["h1"])
    for host in ("h2", "h3"):
        fresh.compute.pop(host).stop()
    crash(fresh, "h1")
    EvacuateOperations(fresh.runtime).evacuate(ADMIN, uuid)
    fresh.settle()
    after = fresh.instance(uuid)
    assert (after.vm_state, after.task_state, after.host) == ("error", None, "h1")
    assert "No valid host was found" in fresh.faults(uuid)[-1][1]
    assert _migrations(fresh, uuid) == [("evacuation", "error", "h1", None)]


def test_evacuate_refuses_a_paused_instance(fresh: MiniCloud) -> None:
    [uuid] = fresh.boot(force_hosts=["h1"])
    fresh.act(uuid, "pause_instance", "pausing", action="pause")
    crash(fresh, "h1")
    with pytest.raises(InstanceInvalidState):
        EvacuateOperations(fresh.runtime).evacuate(ADMIN, uuid)


def test_an_explicit_on_shared_storage_that_is_wrong_fails_the_evacuation(
    fresh: MiniCloud,
) -> None:
    [uuid] = fresh.boot(force_hosts=["h3"])
    crash(fresh, "h3")
    EvacuateOperations(fresh.runtime).evacuate(ADMIN, uuid, on_shared_storage=True)
    fresh.settle()
    after = fresh.instance(uuid)
    assert (after.vm_state, after.host) == ("error", "h3")
    assert fresh.faults(uuid)[-1] == (400, "Invalid state of instance files on shared storage")
    assert _migrations(fresh, uuid)[0][1] == "failed"
    assert check_invariants(fresh.runtime) == []


@pytest.mark.parametrize("stopped", [False, True])
def test_rebuild_re_images_in_place(mini: MiniCloud, stopped: bool) -> None:
    [uuid] = mini.boot()
    host = mini.instance(uuid).host
    if stopped:
        mini.act(uuid, "stop_instance", "powering-off", action="stop")
    RebuildOperations(mini.runtime).rebuild(ADMIN, uuid, IMAGE_ID, {"name": "rebuilt"})
    mini.settle()
    after = mini.instance(uuid)
    assert (after.host, after.display_name, after.task_state) == (host, "rebuilt", None)
    assert after.vm_state == ("stopped" if stopped else "active")
    states = _task_states(mini, uuid)
    expected = ["rebuilding", "rebuild_block_device_mapping", "rebuild_spawning"]
    assert [s for s in states if s and s.startswith("rebuild")][-3:] == expected
    assert [a for a, e, r in mini.events(uuid) if e == "compute_rebuild_instance"] == ["rebuild"]


def test_rebuild_with_an_unknown_image_is_400(mini: MiniCloud) -> None:
    [uuid] = mini.boot()
    with pytest.raises(BadRequest, match="could not be found"):
        RebuildOperations(mini.runtime).rebuild(ADMIN, uuid, "no-such-image", {})
