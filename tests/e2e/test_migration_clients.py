"""Unmodified python-openstackclient driving resizes and migrations against a
`testbed up` process: resize / confirm / revert, cold migrate, live migrate, and the
server migration list / show / abort / force complete commands."""

from __future__ import annotations

from typing import Any

import openstack
import pytest

from testbed.control.client import ControlClient
from tests.e2e.conftest import UpProcess
from tests.e2e.test_real_clients import openstack as osc


def _server(flavor: str = "m1.tiny", zone: str | None = None) -> str:
    args = ["server", "create", "--flavor", flavor, "--image", "cirros", "--nic", "none"]
    if zone:
        args += ["--availability-zone", zone]
    server = osc(*args, "--wait", "osc-move")
    assert server["status"] == "ACTIVE"
    return str(server["id"])


def _control(testbed_up: UpProcess) -> ControlClient:
    conn = openstack.connect(cloud="testbed")
    return ControlClient(conn.session, testbed_up.url)


def _show(sid: str) -> dict[str, Any]:
    result: dict[str, Any] = osc("server", "show", sid)
    return result


def _live_migration_running(control: ControlClient, sid: str) -> dict[str, Any]:
    """Start a live migration (the clock in manual mode) and give it 1 s: its row in
    ``server migration list``."""
    osc("server", "migrate", "--live-migration", sid, "--no-format")
    control.advance(1)
    [running] = osc(
        "server",
        "migration",
        "list",
        "--server",
        sid,
        "--status",
        "running",
        "--os-compute-api-version",
        "2.59",
    )
    return dict(running)


@pytest.mark.usefixtures("client_env")
def test_resize_confirm_revert_and_cold_migrate(testbed_up: UpProcess) -> None:
    sid = _server()
    osc("server", "resize", "--flavor", "m1.small", "--wait", sid, "--no-format")
    shown = _show(sid)
    assert shown["status"] == "VERIFY_RESIZE" and "m1.small" in str(shown["flavor"])
    osc("server", "resize", "confirm", sid, "--no-format")
    _control(testbed_up).settle()
    assert _show(sid)["status"] == "ACTIVE"
    osc("server", "resize", "--flavor", "m1.medium", "--wait", sid, "--no-format")
    osc("server", "resize", "revert", sid, "--no-format")
    _control(testbed_up).settle()
    shown = _show(sid)
    assert shown["status"] == "ACTIVE" and "m1.small" in str(shown["flavor"])
    host = shown["OS-EXT-SRV-ATTR:host"]
    osc("server", "migrate", "--wait", sid, "--no-format")
    shown = _show(sid)
    assert shown["status"] == "VERIFY_RESIZE" and shown["OS-EXT-SRV-ATTR:host"] != host
    osc("server", "resize", "confirm", sid, "--no-format")
    migrations = osc("server", "migration", "list", "--server", sid)
    assert {m["Type"] for m in migrations} >= {"resize", "migration"}
    osc("server", "delete", "--wait", sid, "--no-format")


@pytest.mark.usefixtures("client_env")
def test_live_migration_commands(testbed_up: UpProcess) -> None:
    sid = _server(zone="az2:cmp-b1")
    osc(
        "server",
        "migrate",
        "--live-migration",
        "--host",
        "cmp-b2",
        "--block-migration",
        "--os-compute-api-version",
        "2.30",
        "--wait",
        sid,
        "--no-format",
    )
    assert _show(sid)["OS-EXT-SRV-ATTR:host"] == "cmp-b2"
    control = _control(testbed_up)
    control.set_clock_mode("manual")
    try:
        running = _live_migration_running(control, sid)
        mid = str(running["Id"])
        # by uuid: OSC hands (server, id) to openstacksdk's get_server_migration, whose
        # parameters are (migration, server); with a uuid it lists and picks instead
        shown = osc(
            "server",
            "migration",
            "show",
            sid,
            str(running["UUID"]),
            "--os-compute-api-version",
            "2.59",
        )
        assert shown["Status"] == "running" and shown["Memory Total Bytes"] > 0
        osc(
            "server",
            "migration",
            "force",
            "complete",
            sid,
            mid,
            "--os-compute-api-version",
            "2.22",
            "--no-format",
        )
    finally:
        control.set_clock_mode("auto")
    control.settle()
    assert _show(sid)["status"] == "ACTIVE"
    control.set_clock_mode("manual")
    try:
        running = _live_migration_running(control, sid)
        osc(
            "server",
            "migration",
            "abort",
            sid,
            str(running["Id"]),
            "--os-compute-api-version",
            "2.24",
            "--no-format",
        )
    finally:
        control.set_clock_mode("auto")
    control.settle()
    statuses = [m["Status"] for m in osc("server", "migration", "list", "--server", sid)]
    assert "cancelled" in statuses and "completed" in statuses
    osc("server", "delete", "--wait", sid, "--no-format")
