"""select_destinations through the bus: filters, weighers, claims, alternates."""

from __future__ import annotations

import threading
import uuid as uuidlib

import pytest
from sqlalchemy import func, select

from testbed.compute.models import Allocation, ComputeNode
from testbed.config import ConfigError
from testbed.context import RequestContext
from testbed.exceptions import NoValidHost
from testbed.scheduler.rpcapi import SchedulerAPI
from testbed.scheduler.service import SchedulerService
from testbed.service import Runtime

from .conftest import add_group, add_host, spec


def uuids(n: int) -> list[str]:
    return [str(uuidlib.uuid4()) for _ in range(n)]


def usage(runtime: Runtime, host: str) -> tuple[int, int, int]:
    with runtime.store.session() as s:
        node = s.execute(select(ComputeNode).where(ComputeNode.host == host)).scalar_one()
        return node.vcpus_used, node.memory_mb_used, node.local_gb_used


def test_picks_the_host_with_most_free_ram_and_claims_there(
    runtime: Runtime, scheduler: SchedulerService, ctx: RequestContext
) -> None:
    add_host(runtime, "small", memory_mb=2048)
    add_host(runtime, "big", memory_mb=8192)
    [inst] = uuids(1)

    [[chosen, *alternates]] = SchedulerAPI(runtime.bus).select_destinations(
        ctx, spec(vcpus=2, ram=1024, disk=10), [inst]
    )

    assert chosen["host"] == "big"
    assert [a["host"] for a in alternates] == ["small"]
    assert usage(runtime, "big") == (2, 1024, 10)
    assert usage(runtime, "small") == (0, 0, 0)
    with runtime.store.session() as s:
        alloc = s.execute(select(Allocation)).scalar_one()
        assert (alloc.consumer_uuid, alloc.host, alloc.vcpus) == (inst, "big", 2)


def test_no_valid_host_undoes_the_claims_of_the_request(
    runtime: Runtime, scheduler: SchedulerService, ctx: RequestContext
) -> None:
    add_host(runtime, "h1", memory_mb=2048)

    with pytest.raises(NoValidHost) as err:
        SchedulerAPI(runtime.bus).select_destinations(ctx, spec(ram=1024), uuids(3))

    assert err.value.message == "No valid host was found. There are not enough hosts available."
    assert usage(runtime, "h1") == (0, 0, 0)
    with runtime.store.session() as s:
        assert s.execute(select(func.count(Allocation.id))).scalar_one() == 0


def test_a_flavor_larger_than_the_host_never_fits_whatever_the_ratio(
    runtime: Runtime, scheduler: SchedulerService, ctx: RequestContext
) -> None:
    add_host(runtime, "h1", vcpus=4, cpu_ratio=16.0)
    with pytest.raises(NoValidHost):
        SchedulerAPI(runtime.bus).select_destinations(ctx, spec(vcpus=8), uuids(1))


def test_concurrent_requests_never_overcommit(
    runtime: Runtime, scheduler: SchedulerService, ctx: RequestContext
) -> None:
    # 3 hosts x 4 vCPUs at ratio 1.0: exactly 12 one-vCPU servers fit.
    for name in ("h1", "h2", "h3"):
        add_host(runtime, name, vcpus=4, cpu_ratio=1.0, memory_mb=65536, disk_gb=1000)
    api = SchedulerAPI(runtime.bus)
    results: list[str] = []
    failures: list[Exception] = []
    lock = threading.Lock()
    start = threading.Barrier(40)

    def boot() -> None:
        start.wait()
        try:
            [[chosen, *_]] = api.select_destinations(ctx, spec(vcpus=1), uuids(1))
            with lock:
                results.append(chosen["host"])
        except NoValidHost as exc:
            with lock:
                failures.append(exc)

    threads = [threading.Thread(target=boot) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(results) == 12 and len(failures) == 28
    for name in ("h1", "h2", "h3"):
        assert results.count(name) == 4
        assert usage(runtime, name)[0] == 4
    with runtime.store.session() as s:
        per_node = s.execute(
            select(Allocation.host, func.sum(Allocation.vcpus)).group_by(Allocation.host)
        ).all()
    assert sorted(per_node) == [("h1", 4), ("h2", 4), ("h3", 4)]


def test_allocation_ratio_allows_overcommit_up_to_the_ratio(
    runtime: Runtime, scheduler: SchedulerService, ctx: RequestContext
) -> None:
    add_host(runtime, "h1", vcpus=2, cpu_ratio=2.0, memory_mb=65536)
    selections = SchedulerAPI(runtime.bus).select_destinations(ctx, spec(vcpus=1), uuids(4))
    assert [s[0]["host"] for s in selections] == ["h1"] * 4
    with pytest.raises(NoValidHost):
        SchedulerAPI(runtime.bus).select_destinations(ctx, spec(vcpus=1), uuids(1))


def test_filters_zone_down_and_disabled_hosts(
    runtime: Runtime, scheduler: SchedulerService, ctx: RequestContext
) -> None:
    add_host(runtime, "down", up=False, memory_mb=65536)
    add_host(runtime, "off", disabled=True, memory_mb=65536)
    add_host(runtime, "az2", az="az2", memory_mb=65536)
    add_host(runtime, "ok", az="az1")
    api = SchedulerAPI(runtime.bus)

    [[chosen, *alternates]] = api.select_destinations(ctx, spec(availability_zone="az1"), uuids(1))
    assert chosen["host"] == "ok" and alternates == []
    assert chosen["availability_zone"] == "az1"
    [[chosen, *_]] = api.select_destinations(ctx, spec(), uuids(1))
    assert chosen["host"] == "az2"


def test_a_service_goes_down_when_its_heartbeat_is_too_old(
    runtime: Runtime, scheduler: SchedulerService, ctx: RequestContext
) -> None:
    add_host(runtime, "h1")
    runtime.clock.advance(runtime.config.service_down_time + 1)
    with pytest.raises(NoValidHost):
        SchedulerAPI(runtime.bus).select_destinations(ctx, spec(), uuids(1))


def test_forced_host_skips_filters_but_not_the_claim(
    runtime: Runtime, scheduler: SchedulerService, ctx: RequestContext
) -> None:
    add_host(runtime, "big", memory_mb=65536)
    add_host(runtime, "down", up=False, memory_mb=1024)
    api = SchedulerAPI(runtime.bus)

    [[chosen]] = api.select_destinations(ctx, spec(ram=512, force_hosts=["down"]), uuids(1))
    assert chosen["host"] == "down"
    with pytest.raises(NoValidHost):
        api.select_destinations(ctx, spec(ram=1024, force_hosts=["down"]), uuids(1))


def test_anti_affinity_spreads_and_refuses_when_hosts_run_out(
    runtime: Runtime, scheduler: SchedulerService, ctx: RequestContext
) -> None:
    for name in ("h1", "h2", "h3"):
        add_host(runtime, name, memory_mb=65536)
    group = add_group(runtime, "anti-affinity", {str(uuidlib.uuid4()): "h1"})
    api = SchedulerAPI(runtime.bus)

    selections = api.select_destinations(ctx, spec(server_group=group), uuids(2))
    assert sorted(s[0]["host"] for s in selections) == ["h2", "h3"]
    with pytest.raises(NoValidHost):
        api.select_destinations(ctx, spec(server_group=group), uuids(3))


def test_affinity_follows_the_first_member(
    runtime: Runtime, scheduler: SchedulerService, ctx: RequestContext
) -> None:
    add_host(runtime, "h1", memory_mb=65536)
    add_host(runtime, "h2", memory_mb=4096)
    group = add_group(runtime, "affinity", {str(uuidlib.uuid4()): "h2"})
    selections = SchedulerAPI(runtime.bus).select_destinations(
        ctx, spec(server_group=group), uuids(3)
    )
    assert [s[0]["host"] for s in selections] == ["h2"] * 3


def test_alternates_are_bounded_by_max_attempts(
    runtime: Runtime, scheduler: SchedulerService, ctx: RequestContext
) -> None:
    for i in range(6):
        add_host(runtime, f"h{i}", memory_mb=4096 + i * 1024)
    [[chosen, *alternates]] = SchedulerAPI(runtime.bus).select_destinations(ctx, spec(), uuids(1))
    assert chosen["host"] == "h5"
    assert [a["host"] for a in alternates] == ["h4", "h3"]  # max_attempts 3


def test_negative_ram_multiplier_stacks(ctx: RequestContext) -> None:
    from testbed.config import Config
    from testbed.runtime import build_runtime

    runtime = build_runtime(Config().with_overrides(ram_weight_multiplier=-1.0))
    try:
        service = SchedulerService(runtime)
        service.start()
        add_host(runtime, "small", memory_mb=2048)
        add_host(runtime, "big", memory_mb=8192)
        [[chosen, *_]] = SchedulerAPI(runtime.bus).select_destinations(ctx, spec(), uuids(1))
        assert chosen["host"] == "small"
    finally:
        runtime.clock.close()


def test_capabilities_extra_specs_and_image_properties(
    runtime: Runtime, scheduler: SchedulerService, ctx: RequestContext
) -> None:
    add_host(runtime, "h1")
    api = SchedulerAPI(runtime.bus)
    wants_arm = spec()
    wants_arm["image"]["properties"] = {"hw_architecture": "aarch64"}
    with pytest.raises(NoValidHost):
        api.select_destinations(ctx, wants_arm, uuids(1))
    wants_x86 = spec()
    wants_x86["flavor"]["extra_specs"] = {"capabilities:cpu_info:arch": "s== x86_64"}
    assert api.select_destinations(ctx, wants_x86, uuids(1))[0][0]["host"] == "h1"
    wants_more = spec()
    wants_more["flavor"]["extra_specs"] = {"capabilities:vcpus": ">= 64"}
    with pytest.raises(NoValidHost):
        api.select_destinations(ctx, wants_more, uuids(1))


def test_unknown_filter_names_are_refused(runtime: Runtime) -> None:
    from testbed.runtime import build_runtime

    bad = build_runtime(runtime.config.with_overrides(enabled_filters=["NoSuchFilter"]))
    try:
        with pytest.raises(ConfigError, match="NoSuchFilter"):
            SchedulerService(bad)
    finally:
        bad.clock.close()


def test_the_scheduler_heartbeats_on_the_clock(
    runtime: Runtime, scheduler: SchedulerService
) -> None:
    from testbed.compute.models import Service

    def row() -> tuple[float | None, int]:
        with runtime.store.session() as s:
            svc = s.execute(select(Service).where(Service.binary == "nova-scheduler")).scalar_one()
            return svc.last_seen_up, svc.report_count

    seen, count = row()
    runtime.clock.advance(runtime.config.report_interval * 3)
    later, later_count = row()
    assert later == seen + runtime.config.report_interval * 3
    assert later_count == count + 3
