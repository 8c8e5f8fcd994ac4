"""Every row of the power-state sync table, end to end on a small cloud.

The parameters are :data:`testbed.compute.power_sync.SYNC_TABLE` itself: for each
(vm_state, hypervisor power state) pair the guest is put in that power state through the
libvirt API, the instance row in that vm_state, the sync is run as a lifecycle event
would run it, and the cloud's state afterwards is checked against the row's repair (Nova's
policy, then the strict one).
"""

from __future__ import annotations

from typing import Any

import pytest

from testbed.compute.power_sync import SYNC_EVENT, SYNC_TABLE, Repair, decide
from testbed.compute.states import power_state
from testbed.context import RequestContext
from tests.compute.minicloud import MiniCloud

ROWS = [
    (rule.vm_state, power, rule.nova, rule.strict)
    for rule in SYNC_TABLE
    for power in sorted(rule.power_states)
]
CASES = [
    pytest.param(
        vm,
        power,
        policy,
        nova if policy == "nova" else strict,
        id=f"{policy}-{vm}-{power_state.NAMES[power]}",
    )
    for vm, power, nova, strict in ROWS
    for policy in ("nova", "strict")
]


def _put_guest_in(cloud: MiniCloud, uuid: str, host: str, power: int) -> None:
    """Make the guest really be in ``power`` where libvirt can (crashed and suspended
    guests are shut off / left running: the sync is told the state, as an event does)."""
    libvirt = cloud.backend.libvirt
    conn = libvirt.open(cloud.backend.uri(host))
    try:
        dom = conn.lookupByUUIDString(uuid)
        if power == power_state.PAUSED:
            dom.suspend()
        elif power in (power_state.SHUTDOWN, power_state.CRASHED):
            dom.destroy()
        elif power == power_state.NOSTATE:
            dom.destroy()
            dom.undefine()
    finally:
        conn.close()


def _set_vm_state(cloud: MiniCloud, uuid: str, vm_state: str) -> None:
    from testbed.compute.models import Instance

    with cloud.runtime.store.session() as s:
        inst = s.get(Instance, uuid)
        assert inst is not None
        inst.vm_state = vm_state


@pytest.fixture
def instance(mini: MiniCloud) -> Any:
    for service in mini.compute.values():  # the sync is run by the test, not by events
        service.driver.unregister_lifecycle_handler()
    [uuid] = mini.boot()
    yield uuid
    mini.act(uuid, "terminate_instance", "deleting", action="delete", force=True)


@pytest.mark.parametrize(("vm_state", "power", "policy", "repair"), CASES)
def test_sync_table_row(
    mini: MiniCloud, instance: str, vm_state: str, power: int, policy: str, repair: Repair
) -> None:
    assert decide(vm_state, power, policy).repair is repair
    mini.runtime.config = mini.runtime.config.with_overrides(repair_policy=policy)
    host = mini.instance(instance).host
    assert host is not None
    _put_guest_in(mini, instance, host, power)
    _set_vm_state(mini, instance, vm_state)
    sync = mini.compute[host].manager.power_sync
    ctx = RequestContext.admin()
    start = sync.sync_instance_power_state(ctx, instance, power, source="test")
    assert (start is not None) == (repair not in (Repair.NONE, Repair.LOG))
    if start is not None:
        start()
    mini.settle()
    after = mini.instance(instance)
    assert after.task_state is None
    actions = {a for a, e, _ in mini.events(instance) if e == SYNC_EVENT}
    logged = [
        e
        for e in mini.runtime.tracer.for_request(ctx.request_id)
        if e["kind"] == "log" and e["name"] == "sync_power_state"
    ]
    if repair in (Repair.NONE, Repair.LOG):
        assert (after.vm_state, after.power_state) == (vm_state, power)
        assert actions == set()
        assert bool(logged) == (repair is Repair.LOG)
    elif repair in (Repair.STOP, Repair.FORCE_STOP):
        assert (after.vm_state, after.power_state) == ("stopped", power_state.SHUTDOWN)
        assert actions == {"stop"}
    elif repair is Repair.PAUSE:
        assert (after.vm_state, after.power_state) == ("paused", power_state.PAUSED)
        assert actions == {"pause"}
    else:
        assert (after.vm_state, after.power_state) == ("active", power_state.RUNNING)
        assert actions == {"unpause"}


@pytest.mark.parametrize("power", [power_state.RUNNING, power_state.SHUTDOWN])
def test_a_task_under_way_or_another_host_skips_the_sync(
    mini: MiniCloud, instance: str, power: int
) -> None:
    from testbed.compute.models import Instance

    host = mini.instance(instance).host
    sync = mini.compute[str(host)].manager.power_sync
    with mini.runtime.store.session() as s:
        row = s.get(Instance, instance)
        assert row is not None
        row.task_state = "migrating"
    assert sync.sync_instance_power_state(RequestContext.admin(), instance, 4, source="t") is None
    with mini.runtime.store.session() as s:
        row = s.get(Instance, instance)
        assert row is not None
        row.task_state, row.host = None, "elsewhere"
    assert sync.sync_instance_power_state(RequestContext.admin(), instance, 4, source="t") is None
    after = mini.instance(instance)
    assert (after.vm_state, after.power_state) == ("active", power_state.RUNNING)
    with mini.runtime.store.session() as s:
        row = s.get(Instance, instance)
        assert row is not None
        row.host = host
