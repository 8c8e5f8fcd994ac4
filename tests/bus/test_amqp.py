"""What only the AMQP transport has: a broker between processes, durable queues, and
connections that drop."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testbed.clock import RealClock
from testbed.config import Config
from testbed.context import RequestContext
from testbed.exceptions import Conflict
from testbed.runtime import build_runtime
from testbed.trace import Tracer

from .conftest import new_prefix
from .endpoints import Echo

CTX = RequestContext(user_id="u1", project_id="p1", roles=("member",))
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def amqp(amqp_url: str) -> Iterator[tuple[Any, RealClock, Tracer, str]]:
    """An AMQP bus of its own (names with a fresh prefix), its clock, trace and prefix."""
    from testbed.bus.amqp import AmqpBus

    clock = RealClock()
    tracer = Tracer(clock.now)
    prefix = new_prefix()
    bus = AmqpBus(amqp_url, clock, tracer, default_timeout=5, prefix=prefix)
    yield bus, clock, tracer, prefix
    bus.close(delete=True)
    clock.close()


def queue_depth(url: str, name: str) -> int:
    """Messages waiting in a queue, as the broker counts them."""
    import kombu

    with kombu.Connection(url) as conn:
        return int(conn.default_channel.queue_declare(queue=name, passive=True).message_count)


def test_a_cast_nobody_serves_waits_in_a_durable_queue_named_after_its_topic(amqp, amqp_url):
    bus, clock, _tracer, prefix = amqp
    bus.cast(CTX, "compute.cmp-a1", "echo", value="queued")
    clock.settle()
    assert queue_depth(amqp_url, f"{prefix}.compute.cmp-a1") == 1
    echo = Echo(clock)
    bus.serve("compute.cmp-a1", echo, service="compute:cmp-a1")
    clock.settle()
    assert echo.seen == [("compute:cmp-a1", "queued")]
    assert queue_depth(amqp_url, f"{prefix}.compute.cmp-a1") == 0


@pytest.fixture
def child(amqp, amqp_url: str) -> Iterator[subprocess.Popen[str]]:
    """Another Python process serving topic ``remote`` on the same broker."""
    prefix = amqp[3]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("amqp_child.py")), amqp_url, prefix],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None and proc.stdin is not None
    line = proc.stdout.readline()  # blocks until the child serves (or dies)
    if line.strip() != "ready":
        proc.kill()
        pytest.fail(f"the child process did not start: {proc.communicate()[1]}")
    yield proc
    proc.stdin.close()
    proc.wait(timeout=10)


def test_two_processes_call_cast_and_call_back_over_rabbitmq(amqp, child):
    bus, clock, tracer, _prefix = amqp
    back = Echo(clock)
    bus.serve("back", back, service="back-svc")

    who = bus.call(CTX, "remote", "whoami")
    assert who["pid"] == child.pid != os.getpid()
    assert who == {"pid": child.pid, "service": "remote-svc", "user": "u1"}

    with pytest.raises(Conflict, match="taken in another process"):
        bus.call(CTX, "remote", "conflict")

    for value in range(3):
        bus.cast(CTX, "remote", "record", value=value)
    clock.settle()  # the other process reports each cast handled
    assert sorted(bus.call(CTX, "remote", "recorded_values")) == [0, 1, 2]

    assert bus.call(CTX, "remote", "relay", value="round trip") == "round trip"
    assert back.seen == [("back-svc", "round trip")]
    calls = [e for e in tracer.for_request(CTX.request_id) if e["kind"] == "rpc.call"]
    assert {e["target"] for e in calls} == {"remote-svc"}


@pytest.mark.skipif(shutil.which("rabbitmqctl") is None, reason="needs rabbitmqctl")
def test_servers_and_callers_reconnect_when_the_broker_drops_their_connections(
    amqp, caplog: pytest.LogCaptureFixture
):
    bus, clock, _tracer, prefix = amqp
    echo = Echo(clock)
    bus.serve("echo", echo, service="echo-svc")
    assert bus.call(CTX, "echo", "echo", value=1)["value"] == 1

    listing = subprocess.run(
        ["rabbitmqctl", "-q", "list_connections", "pid", "client_properties"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    ours = [line.split("\t")[0] for line in listing.splitlines() if prefix in line]
    assert len(ours) == 3  # publisher, replies, the echo server
    closing = [
        subprocess.Popen(["rabbitmqctl", "-q", "close_connection", pid, "test"]) for pid in ours
    ]
    assert [proc.wait(timeout=30) for proc in closing] == [0] * len(ours)

    assert bus.call(CTX, "echo", "echo", value=2)["value"] == 2
    bus.cast(CTX, "echo", "echo", value=3)
    clock.settle()
    assert echo.values() == [1, 2, 3]
    assert "reconnecting" in caplog.text


def test_build_runtime_picks_the_amqp_bus_the_wall_clock_and_the_control_exchange(
    amqp_url: str,
):
    from testbed.bus.amqp import AmqpBus

    prefix = new_prefix()
    runtime = build_runtime(Config(transport_url=amqp_url, control_exchange=prefix))
    try:
        assert isinstance(runtime.clock, RealClock)
        assert isinstance(runtime.bus, AmqpBus)
        assert runtime.clock.mode == "real"
        runtime.bus.cast(CTX, "scheduler", "select_destinations")
        assert queue_depth(amqp_url, f"{prefix}.scheduler") == 1
    finally:
        runtime.bus.close(delete=True)
        runtime.clock.close()
        runtime.store.close()
