"""Each filter's ``filter_all`` and each weigher's ``raw_all`` (what the scheduler runs)
agree with their per-host ``host_passes`` and ``raw`` (what the rules are written as)."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from testbed.config import Config
from testbed.scheduler.filters import FILTERS, FilterRequest
from testbed.scheduler.host_state import HostState, Resources
from testbed.scheduler.weighers import WEIGHERS


def _hosts() -> list[HostState]:
    """Hosts across the edges the rules look at: up or down, enabled or not, full or
    empty, over-committable or not, either zone."""
    hosts = []
    for index, (up, disabled, used, ratio) in enumerate(
        itertools.product((True, False), (False, True), (0, 3, 4, 60), (1.0, 16.0))
    ):
        hosts.append(
            HostState(
                host=f"h{index}",
                node=f"h{index}",
                node_uuid=f"n{index}",
                availability_zone="az1" if index % 2 else "az2",
                vcpus=4,
                memory_mb=4096,
                local_gb=40,
                vcpus_used=used,
                memory_mb_used=used * 1024 % 5000,
                local_gb_used=used * 10 % 50,
                cpu_allocation_ratio=ratio,
                ram_allocation_ratio=1.0,
                disk_allocation_ratio=ratio / 8 if ratio > 1 else 1.0,
                hypervisor_type="QEMU",
                cpu_info={"arch": "x86_64" if index % 3 else "aarch64"},
                service_up=up,
                service_disabled=disabled,
            )
        )
    return hosts


_REQUESTS = [
    FilterRequest(spec={}, want=Resources(1, 512, 1)),
    FilterRequest(spec={}, want=Resources(4, 4096, 40)),
    FilterRequest(spec={}, want=Resources(5, 1024, 1)),
    FilterRequest(
        spec={
            "availability_zone": "az1",
            "server_group": {"policy": "anti-affinity", "rules": {}},
            "image": {"properties": {"hw_architecture": "x86_64"}},
            "flavor": {"extra_specs": {"capabilities:hypervisor_type": "QEMU"}},
        },
        want=Resources(2, 2048, 10),
        group_hosts=Counter({"h1": 1, "h4": 2}),
    ),
    FilterRequest(
        spec={"server_group": {"policy": "affinity"}},
        want=Resources(1, 512, 1),
        group_hosts=Counter({"h3": 1}),
    ),
    FilterRequest(
        spec={"server_group": {"policy": "soft-anti-affinity"}},
        want=Resources(1, 512, 1),
        group_hosts=Counter({"h2": 3, "h5": 1}),
    ),
]


@pytest.mark.parametrize("name", sorted(FILTERS))
@pytest.mark.parametrize("request_index", range(len(_REQUESTS)))
def test_filter_all_keeps_the_hosts_that_pass(name: str, request_index: int) -> None:
    host_filter = FILTERS[name]()
    request = _REQUESTS[request_index]
    hosts = _hosts()
    passing = [h.host for h in hosts if host_filter.host_passes(h, request)]
    assert [h.host for h in host_filter.filter_all(hosts, request)] == passing


@pytest.mark.parametrize("name", sorted(WEIGHERS))
@pytest.mark.parametrize("request_index", range(len(_REQUESTS)))
def test_raw_all_weighs_as_raw(name: str, request_index: int) -> None:
    weigher = WEIGHERS[name](Config())
    request = _REQUESTS[request_index]
    hosts = _hosts()
    assert weigher.raw_all(hosts, request) == [weigher.raw(h, request) for h in hosts]


def test_the_hosts_and_requests_tell_the_filters_apart() -> None:
    """The cases above are worth something only if each overridden filter passes some
    hosts and refuses others for some request."""
    hosts = _hosts()
    for name in ("ComputeFilter", "ResourceFilter"):
        host_filter = FILTERS[name]()
        counts = {len(host_filter.filter_all(hosts, r)) for r in _REQUESTS}
        assert counts - {0, len(hosts)}, name
