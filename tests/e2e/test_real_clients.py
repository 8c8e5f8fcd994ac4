"""Unmodified python-openstackclient and openstacksdk against a `testbed up` process."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest

from tests.e2e.conftest import UpProcess


def openstack(*args: str) -> Any:
    """Run the `openstack` command (its real shell, in this process); parsed JSON output."""
    from openstackclient import shell

    out, err = io.StringIO(), io.StringIO()
    argv = ["--os-cloud", "testbed", *args]
    if args[-1] != "--no-format":
        argv += ["-f", "json"]
    else:
        argv = argv[:-1]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = shell.main(argv)
    assert status == 0, f"openstack {' '.join(args)} failed ({status}): {err.getvalue()}"
    text = out.getvalue().strip()
    return json.loads(text) if text.startswith(("{", "[")) else text


@pytest.mark.usefixtures("client_env")
def test_openstack_client_drives_a_server_through_its_life(testbed_up: UpProcess) -> None:
    flavors = {f["Name"] for f in openstack("flavor", "list")}
    assert {"m1.tiny", "m1.small"} <= flavors
    assert "cirros" in {i["Name"] for i in openstack("image", "list")}
    server = openstack(
        "server",
        "create",
        "--flavor",
        "m1.tiny",
        "--image",
        "cirros",
        "--nic",
        "none",
        "--wait",
        "osc-vm",
    )
    assert server["status"] == "ACTIVE"
    sid = server["id"]
    for verb, status in (
        ("stop", "SHUTOFF"),
        ("start", "ACTIVE"),
        ("pause", "PAUSED"),
        ("unpause", "ACTIVE"),
        ("suspend", "SUSPENDED"),
        ("resume", "ACTIVE"),
        ("reboot", "ACTIVE"),
    ):
        openstack("server", verb, sid, "--no-format")
        assert openstack("server", "show", sid)["status"] == status, verb
    events = openstack("server", "event", "list", sid)
    assert {"create", "stop", "start", "pause", "reboot"} <= {e["Action"] for e in events}
    assert openstack("server", "migration", "list", "--server", sid) == []
    openstack("server", "delete", "--wait", sid, "--no-format")
    assert sid not in {s["ID"] for s in openstack("server", "list")}


@pytest.mark.usefixtures("client_env")
def test_openstack_client_admin_views(testbed_up: UpProcess) -> None:
    services = openstack("compute", "service", "list")
    computes = [s for s in services if s["Binary"] == "nova-compute"]
    assert len(computes) == 4 and all(s["State"] == "up" for s in computes)
    hypervisors = openstack("hypervisor", "list")
    assert len(hypervisors) == 4
    host = computes[0]["Host"]
    openstack("compute", "service", "set", "--down", host, "nova-compute", "--no-format")
    after = {s["Host"]: s for s in openstack("compute", "service", "list")}
    assert after[host]["State"] == "down"
    openstack("compute", "service", "set", "--up", host, "nova-compute", "--no-format")
    assert {s["Host"]: s for s in openstack("compute", "service", "list")}[host]["State"] == "up"


@pytest.mark.usefixtures("client_env")
def test_force_delete_with_the_client(testbed_up: UpProcess) -> None:
    server = openstack(
        "server",
        "create",
        "--flavor",
        "m1.tiny",
        "--image",
        "cirros",
        "--nic",
        "none",
        "--wait",
        "osc-force",
    )
    openstack("server", "delete", "--force", "--wait", server["id"], "--no-format")
    assert server["id"] not in {s["ID"] for s in openstack("server", "list")}


def test_openstacksdk_over_http(testbed_up: UpProcess, client_env: dict[str, str]) -> None:
    import openstack as sdk

    conn = sdk.connect(cloud="testbed")
    server = conn.compute.create_server(
        name="sdk-vm", flavor_id="1", networks="none", image_id=conn.image.find_image("cirros").id
    )
    server = conn.compute.wait_for_server(server, interval=0.2, wait=30)
    assert server.status == "ACTIVE"
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, interval=0.2, wait=30)
    demo = sdk.connect(cloud="testbed-demo")
    assert list(demo.compute.servers()) == []
