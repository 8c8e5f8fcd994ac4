"""Unmodified python-openstackclient for the HA commands against a `testbed up` process:
`compute service set --down`, `server evacuate [--host] --wait`, `server rebuild --wait`."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import UpProcess
from tests.e2e.test_real_clients import openstack


@pytest.mark.usefixtures("client_env")
def test_openstack_client_evacuates_and_rebuilds(testbed_up: UpProcess) -> None:
    server = openstack(
        "server",
        "create",
        "--flavor",
        "m1.tiny",
        "--image",
        "cirros",
        "--nic",
        "none",
        "--availability-zone",
        "az2:cmp-b1",
        "--wait",
        "osc-ha",
    )
    sid = server["id"]
    openstack("server", "rebuild", "--image", "tiny-linux", "--wait", sid, "--no-format")
    rebuilt = openstack("server", "show", sid)
    assert rebuilt["status"] == "ACTIVE"
    assert rebuilt["image"].startswith("tiny-linux")
    # the operator declares the host dead (a fenced host): its service is down at once
    openstack("compute", "service", "set", "--down", "cmp-b1", "nova-compute", "--no-format")
    try:
        openstack(
            "--os-compute-api-version",
            "2.29",
            "server",
            "evacuate",
            "--host",
            "cmp-b2",
            "--wait",
            sid,
            "--no-format",
        )
        shown = openstack("server", "show", sid)
        assert shown["status"] == "ACTIVE"
        assert shown["OS-EXT-SRV-ATTR:host"] == "cmp-b2"
        migrations = openstack("server", "migration", "list", "--server", sid)
        assert [m["Type"] for m in migrations] == ["evacuation"]
    finally:
        openstack("compute", "service", "set", "--up", "cmp-b1", "nova-compute", "--no-format")
    openstack("server", "delete", "--wait", sid, "--no-format")
