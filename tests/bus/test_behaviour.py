"""The bus's behaviour, the same over every transport: in memory and over RabbitMQ."""

from __future__ import annotations

import pytest

from testbed.bus.base import BusFault
from testbed.context import RequestContext
from testbed.exceptions import Conflict, MessagingTimeout, RemoteError

from .conftest import BusHarness
from .endpoints import Echo, Relay

CTX = RequestContext(user_id="u1", project_id="p1", roles=("member",))


def serve_echo(h: BusHarness, topic: str = "echo", service: str = "echo-svc") -> Echo:
    endpoint = Echo(h.clock)
    h.bus.serve(topic, endpoint, service=service)
    return endpoint


def test_call_round_trips_json_and_runs_in_the_receivers_scope(bus: BusHarness):
    echo = serve_echo(bus)
    result = bus.bus.call(CTX, "echo", "echo", value={"a": [1, 2], "b": None})
    assert result == {"value": {"a": [1, 2], "b": None}, "user": "u1"}
    assert echo.seen == [("echo-svc", {"a": [1, 2], "b": None})]


def test_registered_errors_travel_back_as_themselves(bus: BusHarness):
    serve_echo(bus)
    with pytest.raises(Conflict, match="busy"):
        bus.bus.call(CTX, "echo", "conflict")
    with pytest.raises(RemoteError, match="ValueError: internal"):
        bus.bus.call(CTX, "echo", "boom")


def test_unknown_and_private_methods_are_refused(bus: BusHarness):
    serve_echo(bus)
    with pytest.raises(RemoteError, match="no RPC method"):
        bus.bus.call(CTX, "echo", "nope")
    with pytest.raises(RemoteError, match="not an RPC method"):
        bus.bus.call(CTX, "echo", "__init__")


def test_what_cannot_travel_fails_at_the_sender_or_comes_back_as_an_error(bus: BusHarness):
    serve_echo(bus)
    with pytest.raises(TypeError, match="not JSON-safe"):
        bus.bus.call(CTX, "echo", "echo", value=object())
    with pytest.raises(TypeError, match="not JSON-safe"):
        bus.bus.cast(CTX, "echo", "echo", value={1, 2})
    with pytest.raises(RemoteError, match="not JSON-safe"):
        bus.bus.call(CTX, "echo", "unserialisable")


def test_a_call_to_a_topic_nobody_serves_times_out_on_the_clock(bus: BusHarness):
    start = bus.clock.now()
    with pytest.raises(MessagingTimeout, match=r"nowhere\.echo after"):
        bus.bus.call(CTX, "nowhere", "echo", timeout=bus.timeout, value=1)
    assert bus.clock.now() >= start + bus.timeout


def test_a_cast_runs_later_and_settle_waits_for_it(bus: BusHarness):
    echo = serve_echo(bus)
    start = bus.clock.now()
    bus.bus.cast(CTX, "echo", "slow", seconds=bus.pause)
    bus.settle()
    assert [service for service, _t in echo.seen] == ["slow"]
    assert echo.seen[0][1] >= start + bus.pause
    assert bus.clock.now() >= echo.seen[0][1]


def test_casts_wait_in_a_queue_until_a_server_starts(bus: BusHarness):
    bus.bus.cast(CTX, "later", "echo", value=7)
    bus.bus.cast(CTX, "later", "echo", value=8)
    bus.settle()
    endpoint = serve_echo(bus, "later", "later-svc")
    bus.settle()
    assert endpoint.seen == [("later-svc", 7), ("later-svc", 8)]


def test_casts_to_a_stopped_server_wait_for_the_next_one(bus: BusHarness):
    first = Echo(bus.clock)
    bus.bus.serve("host", first, service="first").stop()
    bus.bus.cast(CTX, "host", "echo", value="while down")
    bus.settle()
    second = serve_echo(bus, "host", "second")
    bus.settle()
    assert first.seen == []
    assert second.seen == [("second", "while down")]


def test_the_servers_of_a_topic_share_its_casts(bus: BusHarness):
    a, b = serve_echo(bus, "shared", "a"), serve_echo(bus, "shared", "b")
    for value in range(10):
        bus.bus.cast(CTX, "shared", "echo", value=value)
    bus.settle()
    assert sorted(a.values() + b.values()) == list(range(10))


def test_a_fanout_reaches_every_server_once(bus: BusHarness):
    a, b = serve_echo(bus, "all", "a"), serve_echo(bus, "all", "b")
    bus.bus.fanout(CTX, "all", "echo", value="hi")
    bus.settle()
    assert a.seen == [("a", "hi")]
    assert b.seen == [("b", "hi")]


def test_a_failing_cast_is_logged_and_the_server_goes_on(
    bus: BusHarness, caplog: pytest.LogCaptureFixture
):
    echo = serve_echo(bus)
    bus.bus.cast(CTX, "echo", "conflict")
    bus.settle()
    bus.bus.cast(CTX, "echo", "echo", value="after")
    bus.settle()
    assert echo.values() == ["after"]
    assert "cast echo.conflict failed" in caplog.text


def test_a_service_calls_another_service_from_its_handler(bus: BusHarness):
    serve_echo(bus)
    bus.bus.serve("relay", Relay(bus.bus, "echo"), service="relay-svc")
    assert bus.bus.call(CTX, "relay", "relay", value=5) == 5
    events = bus.tracer.for_request(CTX.request_id)
    assert [(e["kind"], e["source"], e["target"]) for e in events] == [
        ("rpc.call", "client", "relay-svc"),
        ("rpc.call", "relay-svc", "echo-svc"),
        ("rpc.reply", "echo-svc", "relay-svc"),
        ("rpc.reply", "relay-svc", "client"),
    ]


def test_a_drop_fault_makes_a_call_time_out_and_can_be_cleared(bus: BusHarness):
    echo = serve_echo(bus)
    fault = bus.bus.inject(BusFault(topic="ec*", method="echo", action="drop"))
    with pytest.raises(MessagingTimeout):
        bus.bus.call(CTX, "echo", "echo", timeout=bus.timeout, value=1)
    bus.bus.cast(CTX, "echo", "echo", value=2)
    bus.settle()
    assert echo.seen == []
    bus.bus.clear_faults(fault.id)
    assert bus.bus.call(CTX, "echo", "echo", value=3)["value"] == 3


def test_a_delay_fault_delays_by_clock_time_and_counts_down(bus: BusHarness):
    serve_echo(bus)
    bus.bus.inject(BusFault(topic="echo", action="delay", seconds=bus.pause, times=1))
    start = bus.clock.now()
    bus.bus.call(CTX, "echo", "echo", value=1)
    assert bus.clock.now() >= start + bus.pause
    assert bus.bus.faults() == []


def test_a_delayed_cast_arrives_after_the_delay_and_settle_waits_for_it(bus: BusHarness):
    echo = serve_echo(bus)
    bus.bus.inject(BusFault(topic="echo", action="delay", seconds=bus.pause))
    start = bus.clock.now()
    bus.bus.cast(CTX, "echo", "slow", seconds=0)
    bus.settle()
    assert len(echo.seen) == 1
    assert echo.seen[0][1] >= start + bus.pause


def test_an_error_fault_fails_the_call_at_the_sender(bus: BusHarness):
    echo = serve_echo(bus)
    bus.bus.inject(BusFault(topic="echo", action="error", message="link down", times=1))
    with pytest.raises(RemoteError, match="link down"):
        bus.bus.call(CTX, "echo", "echo", value=1)
    assert echo.seen == []


def test_the_trace_records_call_reply_and_cast_with_lifelines(bus: BusHarness):
    serve_echo(bus)
    bus.bus.call(CTX, "echo", "echo", value=1, instance_uuid="i-1")
    bus.bus.cast(CTX, "echo", "echo", value=2, instance_uuid="i-1")
    bus.settle()
    events = bus.tracer.for_request(CTX.request_id)
    assert [(e["kind"], e["source"], e["target"], e["name"]) for e in events] == [
        ("rpc.call", "client", "echo-svc", "echo"),
        ("rpc.reply", "echo-svc", "client", "echo"),
        ("rpc.cast", "client", "echo-svc", "echo"),
    ]
    assert events[1]["duration"] is not None
    assert len(bus.tracer.for_instance("i-1")) == 3
