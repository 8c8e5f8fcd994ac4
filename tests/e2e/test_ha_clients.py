"""Unmodified python-openstackclient for the HA commands against a `testbed up` process:
`compute service set --down`, `server evacuate --host`, `server rebuild --wait`.

`server evacuate --wait` is not used: python-openstackclient 10.5 waits for the statuses
``['ACTIVE']`` (+ ``'SHUTOFF'``) while osc-lib compares them with the lower-cased server
status, so the wait never ends against any cloud (a client bug, not the test-bed's).
The client also negotiates the newest microversion, where (2.95) an evacuated server
lands stopped.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import UpProcess
from tests.e2e.test_real_clients import openstack


def _settle(up: UpProcess) -> None:
    """Wait until the cloud is quiescent (its control API)."""
    import openstack as sdk

    from testbed.control.client import ControlClient

    conn = sdk.connect(cloud="testbed")
    ControlClient(conn.session, up.url).settle()


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
            "server",
            "evacuate",
            "--host",
            "cmp-b2",
            sid,
            "--no-format",
        )  # no --wait: see the module docstring
        _settle(testbed_up)
        shown = openstack("server", "show", sid)
        assert shown["status"] == "SHUTOFF"  # microversion 2.95+: lands stopped
        assert shown["OS-EXT-SRV-ATTR:host"] == "cmp-b2"
        migrations = openstack("server", "migration", "list", "--server", sid)
        assert [m["Type"] for m in migrations] == ["evacuation"]
    finally:
        openstack("compute", "service", "set", "--up", "cmp-b1", "nova-compute", "--no-format")
    openstack("server", "delete", "--wait", sid, "--no-format")
