"""power-sync: the periodic sync applies Nova's _sync_instance_power_state rules."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.support import CloudUnderTest

pytestmark = [
    pytest.mark.testbed_capability("power-sync"),
    pytest.mark.testbed_requires("control"),
]


def _domain(server: Any) -> str:
    return str(server.instance_name)


def _hypervisor(cloud: CloudUnderTest, server: Any, kind: str, **extra: Any) -> None:
    cloud.control.inject(
        {
            "target": "hypervisor",
            "kind": kind,
            "host": server.compute_host,
            "domain": _domain(server),
            **extra,
        }
    )


def _sync(cloud: CloudUnderTest, server: Any) -> None:
    cloud.control.run_periodic_tasks("sync_power_states", server.compute_host)


@pytest.mark.testbed_id("6f423b6a-8383-4778-9e4e-628b4127ab98")
@pytest.mark.parametrize(
    "kind",
    [
        "guest_shutdown",
        pytest.param(
            "guest_crash", marks=pytest.mark.testbed_requires("hypervisor-fault:guest_crash")
        ),
    ],
)
def test_active_server_whose_guest_stopped_is_stopped(cloud: CloudUnderTest, kind: str) -> None:
    server = cloud.boot(name=f"ps-{kind}")
    _hypervisor(cloud, server, kind)
    _sync(cloud, server)
    stopped = cloud.wait(server.id, "SHUTOFF")
    assert (stopped.vm_state, stopped.power_state) == ("stopped", 4)
    latest = next(iter(cloud.conn.compute.server_actions(server.id)))
    assert latest.action == "stop"


@pytest.mark.testbed_id("5a26c098-7bd2-4411-b61d-6a580aa0a57a")
def test_paused_server_whose_guest_shut_down_is_force_stopped(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="ps-paused-shutdown")
    cloud.action(server.id, {"pause": None})
    cloud.wait(server.id, "PAUSED")
    _hypervisor(cloud, server, "domain_state", state="destroyed")
    _sync(cloud, server)
    assert cloud.wait(server.id, "SHUTOFF").power_state == 4


@pytest.mark.testbed_id("f94a3f92-79ee-478e-807e-057c23071043")
def test_active_server_paused_unexpectedly_is_left_alone(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="ps-active-paused")
    _hypervisor(cloud, server, "domain_state", state="paused")
    _sync(cloud, server)
    after = cloud.wait(server.id, "ACTIVE")
    assert after.power_state == 3  # the hypervisor's power state is written, nothing else
    _hypervisor(cloud, after, "domain_state", state="running")
    _sync(cloud, server)
    assert cloud.wait(server.id, "ACTIVE").power_state == 1
