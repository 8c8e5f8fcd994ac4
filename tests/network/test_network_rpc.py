"""The network service over the bus: Nova's calls for an instance's ports."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest

from testbed.context import RequestContext
from testbed.exceptions import BadRequest, Conflict
from testbed.network.errors import IpAddressGenerationFailure
from testbed.network.registry import NetworkRegistry
from testbed.network.rpcapi import NetworkAPI
from testbed.network.seed import seed_network
from testbed.network.service import NetworkService
from testbed.service import Runtime

PUBLIC = "3f1e8d2c-7b6a-4c5d-9e0f-1a2b3c4d5e01"
DEMO = "3f1e8d2c-7b6a-4c5d-9e0f-1a2b3c4d5e02"
DEMO_CTX = RequestContext(user_id="u-demo", project_id="p-demo", roles=("member",))
OTHER_CTX = RequestContext(user_id="u-other", project_id="p-other", roles=("member",))
TOPOLOGY: list[dict[str, Any]] = [
    {
        "id": PUBLIC,
        "name": "public",
        "shared": True,
        "subnets": [
            {
                "id": "sub-public",
                "name": "public-v4",
                "cidr": "172.24.4.0/22",
                "gateway_ip": "172.24.4.1",
            }
        ],
    },
    {
        "id": DEMO,
        "name": "demo-net",
        "project_id": "p-demo",
        "subnets": [
            {
                "id": "sub-demo",
                "name": "demo-subnet",
                "cidr": "10.0.0.0/24",
                "gateway_ip": "10.0.0.1",
            }
        ],
    },
]


@pytest.fixture
def api(runtime: Runtime, network_service: NetworkService) -> NetworkAPI:
    seed_network(runtime, TOPOLOGY)
    return NetworkAPI(runtime.bus)


@pytest.fixture
def registry(network_service: NetworkService) -> NetworkRegistry:
    """The service's registry, to look at ports the way the HTTP API does."""
    return network_service.registry


def test_validate_networks(api: NetworkAPI) -> None:
    api.validate_networks(DEMO_CTX, "auto")
    api.validate_networks(DEMO_CTX, "none")
    api.validate_networks(DEMO_CTX, [{"uuid": PUBLIC}, {"uuid": DEMO, "fixed_ip": "10.0.0.9"}])
    with pytest.raises(BadRequest, match=r"^Network nope could not be found\.$"):
        api.validate_networks(DEMO_CTX, [{"uuid": "nope"}])
    with pytest.raises(BadRequest, match=re.escape(f"Network {DEMO} could not be found.")):
        api.validate_networks(OTHER_CTX, [{"uuid": DEMO}])
    with pytest.raises(BadRequest, match=r"Port id gone could not be found\."):
        api.validate_networks(DEMO_CTX, [{"port": "gone"}])
    with pytest.raises(BadRequest, match="not valid on network"):
        api.validate_networks(DEMO_CTX, [{"uuid": DEMO, "fixed_ip": "192.168.1.1"}])


def test_auto_without_any_network_is_refused(runtime: Runtime, network_service: Any) -> None:
    api = NetworkAPI(runtime.bus)
    with pytest.raises(
        BadRequest, match=r"^Unable to automatically allocate a network for project p-demo$"
    ):
        api.validate_networks(DEMO_CTX, "auto")


def test_auto_prefers_the_projects_network_then_a_shared_one(api: NetworkAPI) -> None:
    demo = api.allocate_for_instance(
        DEMO_CTX, "vm-1", "p-demo", "auto", "cmp-a1", availability_zone="az1"
    )
    assert [v["network_name"] for v in demo] == ["demo-net"]
    assert demo[0]["fixed_ips"] == [
        {"ip_address": "10.0.0.2", "subnet_id": "sub-demo", "version": 4}
    ]
    assert demo[0]["host"] == "cmp-a1" and demo[0]["mac_address"].startswith("fa:16:3e")
    other = api.allocate_for_instance(OTHER_CTX, "vm-2", "p-other", "auto", "cmp-a1")
    assert [v["network_name"] for v in other] == ["public"]
    assert other[0]["fixed_ips"][0]["ip_address"] == "172.24.4.2"


def test_allocation_sets_device_fields_and_is_listed_by_the_api(
    api: NetworkAPI, registry: NetworkRegistry
) -> None:
    api.allocate_for_instance(
        DEMO_CTX, "vm-1", "p-demo", [{"uuid": DEMO}], "cmp-b1", availability_zone="az2"
    )
    ports = registry.list_ports(RequestContext.admin())
    assert len(ports) == 1
    port = ports[0]
    assert port["device_id"] == "vm-1" and port["device_owner"] == "compute:az2"
    assert port["binding:host_id"] == "cmp-b1" and port["status"] == "ACTIVE"
    assert port["project_id"] == "p-demo"


def test_several_networks_keep_their_order_and_none_gives_nothing(api: NetworkAPI) -> None:
    info = api.allocate_for_instance(
        DEMO_CTX, "vm-1", "p-demo", [{"uuid": PUBLIC}, {"uuid": DEMO}, {"uuid": PUBLIC}], "h1"
    )
    assert [v["network_name"] for v in info] == ["public", "demo-net", "public"]
    assert api.get_instance_nw_info(DEMO_CTX, "vm-1") == info
    assert api.allocate_for_instance(DEMO_CTX, "vm-2", "p-demo", "none", "h1") == []


def test_deallocate_frees_addresses(api: NetworkAPI) -> None:
    first = api.allocate_for_instance(DEMO_CTX, "vm-1", "p-demo", [{"uuid": DEMO}], "h1")
    api.deallocate_for_instance(DEMO_CTX, "vm-1")
    assert api.get_instance_nw_info(DEMO_CTX, "vm-1") == []
    again = api.allocate_for_instance(DEMO_CTX, "vm-2", "p-demo", [{"uuid": DEMO}], "h1")
    assert again[0]["fixed_ips"] == first[0]["fixed_ips"]
    assert again[0]["port_id"] != first[0]["port_id"]


def test_pre_existing_port_is_bound_then_only_unbound(
    api: NetworkAPI, registry: NetworkRegistry
) -> None:
    port = registry.create_port(DEMO_CTX, {"network_id": DEMO, "name": "mine"})
    info = api.allocate_for_instance(DEMO_CTX, "vm-1", "p-demo", [{"port": port["id"]}], "h1")
    assert [v["port_id"] for v in info] == [port["id"]]
    assert info[0]["preserve_on_delete"] is True
    with pytest.raises(Conflict, match=re.escape(f"Port {port['id']} is still in use.")):
        api.validate_networks(DEMO_CTX, [{"port": port["id"]}])
    api.deallocate_for_instance(DEMO_CTX, "vm-1")
    kept = registry.get_port(RequestContext.admin(), port["id"])
    assert kept["device_id"] == "" and kept["binding:host_id"] == ""
    assert kept["fixed_ips"] == port["fixed_ips"]


def test_bind_ports_to_host_moves_every_binding(api: NetworkAPI) -> None:
    api.allocate_for_instance(DEMO_CTX, "vm-1", "p-demo", [{"uuid": DEMO}, {"uuid": PUBLIC}], "src")
    api.bind_ports_to_host(DEMO_CTX, "vm-1", "dst")
    assert {v["host"] for v in api.get_instance_nw_info(DEMO_CTX, "vm-1")} == {"dst"}
    again = api.allocate_for_instance(DEMO_CTX, "vm-1", "p-demo", [{"uuid": DEMO}], "third")
    assert len(again) == 2 and {v["host"] for v in again} == {"third"}


def test_fixed_ip_request_and_its_conflict(api: NetworkAPI) -> None:
    info = api.allocate_for_instance(
        DEMO_CTX, "vm-1", "p-demo", [{"uuid": DEMO, "fixed_ip": "10.0.0.50"}], "h1"
    )
    assert info[0]["fixed_ips"][0]["ip_address"] == "10.0.0.50"
    with pytest.raises(BadRequest, match=re.escape("10.0.0.50 is already in use on instance vm-1")):
        api.validate_networks(DEMO_CTX, [{"uuid": DEMO, "fixed_ip": "10.0.0.50"}])


def test_exhaustion_is_clear_and_rolls_back(runtime: Runtime, network_service: Any) -> None:
    seed_network(
        runtime,
        [
            {
                "id": "tiny",
                "name": "tiny",
                "project_id": "p-demo",
                "subnets": [{"id": "sub-tiny", "cidr": "10.7.0.0/30"}],
            }
        ],
    )
    api = NetworkAPI(runtime.bus)
    api.allocate_for_instance(DEMO_CTX, "vm-1", "p-demo", [{"uuid": "tiny"}], "h1")
    with pytest.raises(
        IpAddressGenerationFailure,
        match=re.escape("No more IP addresses available on network tiny."),
    ):
        api.allocate_for_instance(
            DEMO_CTX, "vm-2", "p-demo", [{"uuid": "tiny"}, {"uuid": "tiny"}], "h1"
        )
    assert api.get_instance_nw_info(DEMO_CTX, "vm-2") == []


def test_concurrent_allocations_never_share_an_address(
    runtime: Runtime, api: NetworkAPI, registry: NetworkRegistry
) -> None:
    casts = 30
    for n in range(casts):
        runtime.bus.cast(
            DEMO_CTX,
            "network",
            "allocate_for_instance",
            instance_uuid=f"cast-{n}",
            project_id="p-demo",
            requested_networks=[{"uuid": DEMO}],
            host="h1",
        )
    errors: list[BaseException] = []

    def call(n: int) -> None:
        try:
            api.allocate_for_instance(DEMO_CTX, f"call-{n}", "p-demo", [{"uuid": DEMO}], "h2")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    runtime.clock.settle()
    assert errors == []
    addresses = [
        ip["ip_address"]
        for port in registry.list_ports(RequestContext.admin())
        for ip in port["fixed_ips"]
    ]
    assert len(addresses) == 60 and len(set(addresses)) == 60
