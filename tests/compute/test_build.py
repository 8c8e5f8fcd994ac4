"""Building instances through the bus: conductor -> scheduler -> compute -> driver."""

from __future__ import annotations

from testbed.compute.states import power_state
from testbed.context import RequestContext
from testbed.image.registry import ImageRegistry

from .minicloud import IMAGE_ID, MiniCloud


def test_a_build_ends_active_and_running_with_its_timeline(cloud: MiniCloud) -> None:
    [uuid] = cloud.boot()

    inst = cloud.instance(uuid)
    assert (inst.vm_state, inst.task_state, inst.power_state) == ("active", None, 1)
    assert inst.host in ("h1", "h2", "h3") and inst.node == inst.host
    assert inst.launched_at is not None and inst.task_id is None
    assert inst.network_info and inst.network_info[0]["fixed_ips"]
    assert cloud.allocations(uuid) == [(inst.host, 1, 512, 1)]
    assert cloud.guest_state(uuid, inst.host) == cloud.backend.libvirt.VIR_DOMAIN_RUNNING
    assert cloud.states(uuid) == [
        ("building", "scheduling", 0),
        ("building", "networking", 0),
        ("building", "block_device_mapping", 0),
        ("building", "spawning", 0),
        ("active", None, power_state.RUNNING),
    ]
    assert cloud.events(uuid) == [
        ("create", "conductor_schedule_and_build_instances", "Success"),
        ("create", "compute_build_and_run_instance", "Success"),
    ]


def test_the_boot_takes_boot_seconds_of_clock_time(cloud: MiniCloud) -> None:
    started = cloud.runtime.clock.now()
    [uuid] = cloud.boot()
    inst = cloud.instance(uuid)
    assert inst.launched_at is not None
    assert inst.launched_at - started == cloud.runtime.config.boot_seconds


def test_the_trace_shows_the_boot_flow(cloud: MiniCloud) -> None:
    [uuid] = cloud.boot()
    host = cloud.instance(uuid).host
    flow = [
        (e["kind"], e["source"], e["target"], e["name"])
        for e in cloud.runtime.tracer.for_request(cloud.ctx.request_id)
        if e["kind"] in ("rpc.call", "rpc.cast", "driver")
    ]
    assert ("rpc.cast", "client", "conductor", "build_instances") in flow
    assert ("rpc.call", "conductor", "scheduler", "select_destinations") in flow
    assert ("rpc.cast", "conductor", f"compute:{host}", "build_and_run_instance") in flow
    assert ("rpc.call", f"compute:{host}", "image", "get_image") in flow
    assert ("rpc.call", f"compute:{host}", "network", "allocate_for_instance") in flow
    assert ("driver", f"compute:{host}", f"hypervisor:{host}", "spawn") in flow


def test_many_builds_spread_and_never_overcommit(cloud: MiniCloud) -> None:
    # 3 hosts x 4096 MB at ram ratio 1.5 = 18 x 1 GB servers; 20 requests in flight at once.
    flavor = {"vcpus": 1, "memory_mb": 1024, "root_gb": 1, "ephemeral_gb": 0, "swap": 0}
    uuids = [u for _ in range(20) for u in cloud.boot(flavor=flavor, settle=False)]
    cloud.settle()

    states = [cloud.instance(u).vm_state for u in uuids]
    assert states.count("active") == 18 and states.count("error") == 2
    for host in ("h1", "h2", "h3"):
        hosted = [u for u in uuids if cloud.instance(u).host == host]
        assert len(hosted) == 6
    failed = [u for u in uuids if cloud.instance(u).vm_state == "error"]
    for uuid in failed:
        assert cloud.faults(uuid) == [
            (500, "No valid host was found. There are not enough hosts available.")
        ]
        assert cloud.events(uuid) == [("create", "conductor_schedule_and_build_instances", "Error")]
        assert cloud.allocations(uuid) == []


def test_no_valid_host_puts_the_instance_in_error_with_a_fault(cloud: MiniCloud) -> None:
    huge = {"vcpus": 64, "memory_mb": 512, "root_gb": 1, "ephemeral_gb": 0, "swap": 0}
    [uuid] = cloud.boot(flavor=huge)

    inst = cloud.instance(uuid)
    assert (inst.vm_state, inst.task_state, inst.host) == ("error", None, None)
    assert cloud.faults(uuid) == [
        (500, "No valid host was found. There are not enough hosts available.")
    ]


def test_a_multi_instance_request_fails_as_a_whole(cloud: MiniCloud) -> None:
    flavor = {"vcpus": 1, "memory_mb": 2048, "root_gb": 1, "ephemeral_gb": 0, "swap": 0}
    uuids = cloud.boot(10, flavor=flavor)  # 9 would fit
    assert {cloud.instance(u).vm_state for u in uuids} == {"error"}
    assert all(cloud.allocations(u) == [] for u in uuids)


def test_a_host_fetches_an_image_once_and_keeps_it_as_nova_keeps_base_images(
    cloud: MiniCloud,
) -> None:
    [first] = cloud.boot(force_hosts=["h1"])
    [second] = cloud.boot(force_hosts=["h1"])
    fetches = [
        e
        for e in cloud.runtime.tracer.since(0)
        if e["kind"] == "rpc.call" and e["source"] == "compute:h1" and e["name"] == "get_image"
    ]
    assert len(fetches) == 1
    ImageRegistry(cloud.runtime).delete(RequestContext.admin(), IMAGE_ID)
    [cached] = cloud.boot(force_hosts=["h1"])  # the base file is still on h1
    [fetched] = cloud.boot(force_hosts=["h2"])  # h2 must fetch it: gone
    states = {u: cloud.instance(u).vm_state for u in (first, second, cached, fetched)}
    assert states == {first: "active", second: "active", cached: "active", fetched: "error"}
    assert f"No image found with ID {IMAGE_ID}" in cloud.faults(fetched)[0][1]
