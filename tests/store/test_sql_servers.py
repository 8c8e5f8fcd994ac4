"""The store on real SQL servers (PostgreSQL, MariaDB): the models, JSON columns, clock
timestamps, constraints, conditional updates racing from two threads, Core transactions,
and the single statements that record instance action events."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from testbed.compute.actions import ERROR, SUCCESS, finish_event, start_event
from testbed.compute.api import record_action
from testbed.compute.models import (
    Allocation,
    ComputeNode,
    Flavor,
    Instance,
    InstanceAction,
    InstanceActionEvent,
    Service,
)
from testbed.context import RequestContext
from testbed.store.db import Store
from testbed.store.migrate import pending_changes

from .conftest import NOW


def new_instance(store: Store, **values: Any) -> str:
    instance = Instance(project_id="p1", user_id="u1", display_name="vm", **values)
    with store.session() as s:
        s.add(instance)
    return instance.uuid


def test_instances_nodes_allocations_and_flavors_round_trip(store: Store):
    suffix = uuid.uuid4().hex[:8]
    with store.session() as s:
        flavor = Flavor(
            flavorid=f"f-{suffix}",
            name=f"m1.{suffix}",
            vcpus=2,
            memory_mb=2048,
            root_gb=20,
            extra_specs={"hw:cpu_policy": "dedicated"},
        )
        node = ComputeNode(
            host=f"cmp-{suffix}",
            hypervisor_hostname=f"cmp-{suffix}",
            vcpus=16,
            memory_mb=65536,
            local_gb=500,
            cpu_info={"model": "Haswell", "features": ["vmx", "sse4.2"]},
        )
        s.add_all([flavor, node])
    uuid_ = new_instance(
        store,
        host=node.host,
        node=node.hypervisor_hostname,
        flavor={"flavorid": flavor.flavorid, "vcpus": 2, "memory_mb": 2048},
        vm_state="active",
        power_state=1,
    )
    with store.session() as s:
        s.add(
            Allocation(
                consumer_uuid=uuid_,
                node_uuid=node.uuid,
                host=node.host,
                vcpus=2,
                memory_mb=2048,
                disk_gb=20,
                project_id="p1",
            )
        )

    with store.session() as s:
        instance = s.get(Instance, uuid_)
        assert instance is not None
        assert (instance.vm_state, instance.task_state, instance.power_state) == ("active", None, 1)
        assert instance.flavor == {"flavorid": flavor.flavorid, "vcpus": 2, "memory_mb": 2048}
        assert instance.created_at == NOW
        allocations = s.scalars(select(Allocation).where(Allocation.consumer_uuid == uuid_)).all()
        assert [(a.host, a.vcpus, a.memory_mb, a.disk_gb) for a in allocations] == [
            (node.host, 2, 2048, 20)
        ]
        loaded_node = s.scalars(select(ComputeNode).where(ComputeNode.uuid == node.uuid)).one()
        assert loaded_node.cpu_info == {"model": "Haswell", "features": ["vmx", "sse4.2"]}
        loaded_flavor = s.scalars(select(Flavor).where(Flavor.flavorid == flavor.flavorid)).one()
        assert loaded_flavor.extra_specs == {"hw:cpu_policy": "dedicated"}


def test_json_columns_keep_nesting_types_and_unicode(store: Store):
    network_info = [
        {
            "id": "port-1",
            "network": {"label": "private ünïcødé ☃ 🚀", "subnets": [{"cidr": "10.0.0.0/24"}]},
            "active": True,
            "vnic": None,
            "mtu": 1450,
            "weight": 0.25,
            "big": 2**53,
        }
    ]
    metadata = {"owner": "Zoë", "empty": "", "quote": 'it\'s "quoted" \\ slashed'}
    uuid_ = new_instance(
        store, network_info=network_info, metadata_=metadata, requested_networks=None
    )
    with store.session() as s:
        instance = s.get(Instance, uuid_)
        assert instance is not None
        assert instance.network_info == network_info
        assert instance.metadata_ == metadata
        assert instance.requested_networks is None
        assert instance.old_flavor is None


def test_clock_timestamps_keep_their_milliseconds(store: Store):
    host = f"cmp-{uuid.uuid4().hex[:8]}"
    with store.session() as s:
        s.add(
            Service(
                host=host, binary="nova-compute", topic=f"compute.{host}", last_seen_up=NOW + 59.999
            )
        )
    with store.session() as s:
        service = s.scalars(select(Service).where(Service.host == host)).one()
        assert service.last_seen_up == NOW + 59.999
        assert service.created_at == NOW


def test_unique_constraints_hold_and_the_session_rolls_back(store: Store):
    consumer, node = str(uuid.uuid4()), str(uuid.uuid4())

    def allocation() -> Allocation:
        return Allocation(
            consumer_uuid=consumer, node_uuid=node, host="h", vcpus=1, memory_mb=512, disk_gb=1
        )

    with store.session() as s:
        s.add(allocation())
    with pytest.raises(IntegrityError), store.session() as s:
        s.add(allocation())
    with store.session() as s:
        rows = s.scalars(select(Allocation).where(Allocation.consumer_uuid == consumer)).all()
        assert len(rows) == 1


def race(store: Store, uuid_: str, contenders: int) -> list[int]:
    """Each contender tries to start a task on the instance at the same moment; the rows
    each UPDATE changed, in contender order."""
    barrier = threading.Barrier(contenders)
    rowcounts = [0] * contenders

    def contend(index: int) -> None:
        with store.session() as s:
            barrier.wait(timeout=10)
            result = s.execute(
                update(Instance)
                .where(Instance.uuid == uuid_, Instance.task_state.is_(None))
                .values(task_state="rebooting", task_id=f"task-{index}")
            )
            rowcounts[index] = result.rowcount  # type: ignore[attr-defined]

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return rowcounts


def test_racing_conditional_updates_have_exactly_one_winner(store: Store):
    for _round in range(10):
        uuid_ = new_instance(store, vm_state="active")
        rowcounts = race(store, uuid_, contenders=2)
        assert sorted(rowcounts) == [0, 1]
        with store.session() as s:
            instance = s.get(Instance, uuid_)
            assert instance is not None
            assert instance.task_state == "rebooting"
            assert instance.task_id == f"task-{rowcounts.index(1)}"


def test_the_created_schema_matches_the_models(database: str):
    assert pending_changes(database) == []


def test_a_core_transaction_commits_rolls_back_and_knows_its_store(store: Store):
    uuid_ = new_instance(store, vm_state="active")
    started = update(Instance).where(Instance.uuid == uuid_).values(task_state="rebooting")
    with pytest.raises(RuntimeError), store.transaction() as connection:
        assert Store.of(connection) is store
        connection.execute(started)
        raise RuntimeError("the step failed")
    with store.transaction() as connection:
        assert connection.scalar(select(Instance.task_state).where(Instance.uuid == uuid_)) is None
        connection.execute(started)
    with store.session() as s:
        assert s.scalar(select(Instance.task_state).where(Instance.uuid == uuid_)) == "rebooting"


@pytest.mark.parametrize("opener", ["session", "transaction"])
def test_action_events_open_close_and_fail_their_action(store: Store, opener: str):
    uuid_ = new_instance(store, vm_state="active")
    ctx = RequestContext(user_id="u1", project_id="p1", request_id="req-" + uuid_[:8])
    transaction = store.session if opener == "session" else store.transaction
    with transaction() as tx:
        record_action(tx, ctx, uuid_, "live-migration", NOW)
        start_event(tx, uuid_, ctx.request_id, "compute_a", now=NOW, host="h1")
    with transaction() as tx:
        finish_event(tx, uuid_, ctx.request_id, "compute_a", now=NOW + 1, result=SUCCESS)
        finish_event(tx, uuid_, ctx.request_id, "compute_b", now=NOW + 2, result=ERROR, host="h2")
        start_event(tx, uuid_, "req-unknown", "compute_c", now=NOW, host="h1")  # no action
    with store.session() as s:
        action = s.scalars(
            select(InstanceAction).where(InstanceAction.instance_uuid == uuid_)
        ).one()
        events = s.scalars(
            select(InstanceActionEvent)
            .where(InstanceActionEvent.action_id == action.id)
            .order_by(InstanceActionEvent.id)
        ).all()
    assert (action.message, action.finish_time) == ("Error", pytest.approx(NOW + 2))
    assert [(e.event, e.host, e.result) for e in events] == [
        ("compute_a", "h1", "Success"),
        ("compute_b", "h2", "Error"),
    ]
    assert [(e.start_time, e.finish_time) for e in events] == [
        (pytest.approx(NOW), pytest.approx(NOW + 1)),
        (pytest.approx(NOW + 2), pytest.approx(NOW + 2)),
    ]
