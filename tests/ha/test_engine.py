"""The HA engine: each recovery method, Masakari's reset rule, recorded results."""

from __future__ import annotations

from sqlalchemy import select

from testbed.compute.models import Instance, Service
from testbed.conductor.service import ConductorService
from testbed.ha.engine import DISABLED_REASON, RECOVER_EVENT, HAEngine
from testbed.invariants import check_invariants
from tests.compute.minicloud import MiniCloud

from .conftest import SHARED_HOSTS, crash


def _engine(cloud: MiniCloud) -> HAEngine:
    return next(s for s in cloud.services if isinstance(s, ConductorService)).ha_engine


def _set(cloud: MiniCloud, uuid: str, **values: object) -> None:
    with cloud.runtime.store.session() as s:
        row = s.get(Instance, uuid)
        assert row is not None
        for k, v in values.items():
            setattr(row, k, v)


def _disable(cloud: MiniCloud, host: str, disabled: bool = True) -> None:
    with cloud.runtime.store.session() as s:
        service = s.scalars(select(Service).where(Service.host == host)).one()
        service.disabled = disabled


def _recover(cloud: MiniCloud, method: str, reserved: list[str] | None = None) -> dict:
    engine = _engine(cloud)
    engine.settings.enabled = True
    engine.settings.recovery_method = method
    engine.settings.reserved_hosts = reserved or []
    engine.ha_check()
    cloud.settle()
    [note] = engine.notifications()
    return note


def test_auto_evacuates_everything_and_resets_unusual_states_first(fresh: MiniCloud) -> None:
    uuids = fresh.boot(4, force_hosts=["h1"])
    fresh.act(uuids[1], "stop_instance", "powering-off", action="stop")
    fresh.act(uuids[2], "pause_instance", "pausing", action="pause")
    crash(fresh, "h1")
    _set(fresh, uuids[3], task_state="migrating", task_id="stuck")
    note = _recover(fresh, "auto")
    assert (note["hostname"], note["status"], note["recovery_method"]) == ("h1", "finished", "auto")
    results = {i["uuid"]: i for i in note["instances"]}
    assert [results[u]["reset"] for u in uuids] == [False, False, True, True]
    assert {results[u]["status"] for u in uuids} == {"recovered"}
    after = [fresh.instance(u) for u in uuids]
    assert {a.host for a in after} <= {"h2", "h3"}
    assert [a.vm_state for a in after] == ["active", "stopped", "active", "active"]
    assert all(a.task_state is None for a in after)
    for uuid in uuids:
        assert ("evacuate", RECOVER_EVENT, "Success") in fresh.events(uuid)
    with fresh.runtime.store.session() as s:
        h1 = s.scalars(select(Service).where(Service.host == "h1")).one()
        assert (h1.disabled, h1.disabled_reason) == (True, DISABLED_REASON)
    assert check_invariants(fresh.runtime) == []


def test_reserved_host_takes_them_all(fresh: MiniCloud) -> None:
    uuids = fresh.boot(3, force_hosts=["h1"])
    _disable(fresh, "h3")  # standby: not scheduled until the engine needs it
    crash(fresh, "h1")
    note = _recover(fresh, "reserved_host", ["h3"])
    assert note["status"] == "finished"
    assert {fresh.instance(u).host for u in uuids} == {"h3"}
    assert {i["attempts"][0]["method"] for i in note["instances"]} == {"reserved_host"}


def test_rh_priority_falls_back_to_auto_when_no_reserved_host_is_up(fresh: MiniCloud) -> None:
    uuids = fresh.boot(2, force_hosts=["h1"])
    crash(fresh, "h1")
    note = _recover(fresh, "rh_priority", ["nonexistent"])
    assert note["status"] == "finished"
    assert {fresh.instance(u).host for u in uuids} <= {"h2", "h3"}
    assert {i["attempts"][-1]["method"] for i in note["instances"]} == {"auto"}


def test_auto_priority_uses_the_reserved_host_when_auto_finds_no_room(fresh: MiniCloud) -> None:
    uuids = fresh.boot(2, force_hosts=["h1"])
    _disable(fresh, "h2")
    _disable(fresh, "h3")
    crash(fresh, "h1")
    note = _recover(fresh, "auto_priority", ["h3"])
    assert note["status"] == "finished"
    assert {fresh.instance(u).host for u in uuids} == {"h3"}
    methods = [[a["method"] for a in i["attempts"]] for i in note["instances"]]
    # auto first; once the engine has enabled the reserved host, a later auto may land
    # there too (the evacuations run concurrently, as Masakari's do)
    assert all(m[0] == "auto" for m in methods)
    assert ["auto", "reserved_host"] in methods
    assert all(fresh.instance(u).vm_state == "active" for u in uuids)
    assert any(("evacuate", RECOVER_EVENT, "Error") in fresh.events(u) for u in uuids)


def test_auto_with_nowhere_to_go_fails_and_says_so(fresh: MiniCloud) -> None:
    [uuid] = fresh.boot(force_hosts=["h1"])
    _disable(fresh, "h2")
    _disable(fresh, "h3")
    crash(fresh, "h1")
    note = _recover(fresh, "auto")
    assert note["status"] == "failed"
    assert note["instances"][0]["status"] == "failed"
    assert fresh.instance(uuid).vm_state == "error"


def test_the_engine_runs_on_the_clock_when_enabled() -> None:
    cloud = MiniCloud.start(SHARED_HOSTS, ha_enabled=True, ha_check_interval=5.0)
    try:
        uuids = cloud.boot(3, force_hosts=["h2"])
        crash(cloud, "h2")  # lets service_down_time + 10 s pass: the engine notices
        cloud.settle()
        assert {cloud.instance(u).host for u in uuids} <= {"h1", "h3"}
        [note] = _engine(cloud).notifications()
        assert note["status"] == "finished"
        _engine(cloud).ha_check()  # the same failure is not handled twice
        assert len(_engine(cloud).notifications()) == 1
    finally:
        cloud.stop()
