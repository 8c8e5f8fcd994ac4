"""The in-memory bus: JSON on every hop, errors travel back, faults, and the clock."""

from __future__ import annotations

from typing import Any

import pytest

from testbed.bus.base import BusFault
from testbed.context import RequestContext, current_service
from testbed.exceptions import Conflict, MessagingTimeout, RemoteError
from testbed.service import Runtime


class Echo:
    """A test endpoint: records what it receives."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.seen: list[tuple[str, Any]] = []

    def echo(self, ctx: RequestContext, value: Any, **_about: Any) -> dict[str, Any]:
        self.seen.append((current_service(), value))
        return {"value": value, "user": ctx.user_id}

    def conflict(self, ctx: RequestContext) -> None:
        raise Conflict("busy")

    def boom(self, ctx: RequestContext) -> None:
        raise ValueError("internal")

    def slow(self, ctx: RequestContext, seconds: float) -> float:
        self.runtime.clock.sleep(seconds)
        self.seen.append(("slow", self.runtime.clock.now()))
        return self.runtime.clock.now()

    def unserialisable(self, ctx: RequestContext) -> object:
        return object()


@pytest.fixture
def echo(runtime: Runtime) -> Echo:
    endpoint = Echo(runtime)
    runtime.bus.serve("echo", endpoint, service="echo-svc")
    return endpoint


CTX = RequestContext(user_id="u1", project_id="p1", roles=("member",))


def test_call_round_trips_json_and_runs_in_the_receivers_scope(runtime: Runtime, echo: Echo):
    result = runtime.bus.call(CTX, "echo", "echo", value={"a": [1, 2]})
    assert result == {"value": {"a": [1, 2]}, "user": "u1"}
    assert echo.seen == [("echo-svc", {"a": [1, 2]})]


def test_registered_errors_travel_back_as_themselves(runtime: Runtime, echo: Echo):
    with pytest.raises(Conflict, match="busy"):
        runtime.bus.call(CTX, "echo", "conflict")
    with pytest.raises(RemoteError, match="ValueError: internal"):
        runtime.bus.call(CTX, "echo", "boom")


def test_unknown_method_and_private_methods_are_refused(runtime: Runtime, echo: Echo):
    with pytest.raises(RemoteError, match="no RPC method"):
        runtime.bus.call(CTX, "echo", "nope")
    with pytest.raises(RemoteError, match="not an RPC method"):
        runtime.bus.call(CTX, "echo", "__init__")


def test_arguments_that_cannot_travel_fail_at_the_sender(runtime: Runtime, echo: Echo):
    with pytest.raises(TypeError, match="not JSON-safe"):
        runtime.bus.call(CTX, "echo", "echo", value=object())
    with pytest.raises(RemoteError, match="not JSON-safe"):
        runtime.bus.call(CTX, "echo", "unserialisable")


def test_call_to_a_topic_nobody_serves_times_out_on_the_clock(runtime: Runtime):
    start = runtime.clock.now()
    with pytest.raises(MessagingTimeout, match=r"nowhere\.echo after 30 s"):
        runtime.bus.call(CTX, "nowhere", "echo", timeout=30, value=1)
    assert runtime.clock.now() == start + 30


def test_cast_runs_later_and_settle_waits_for_it(runtime: Runtime, echo: Echo):
    runtime.bus.cast(CTX, "echo", "slow", seconds=12)
    runtime.clock.settle()
    assert echo.seen and echo.seen[0][0] == "slow"
    assert runtime.clock.now() == pytest.approx(echo.seen[0][1])


def test_casts_wait_in_a_queue_until_a_server_starts(runtime: Runtime):
    runtime.bus.cast(CTX, "later", "echo", value=7)
    runtime.clock.settle()
    endpoint = Echo(runtime)
    runtime.bus.serve("later", endpoint, service="later-svc")
    runtime.clock.settle()
    assert endpoint.seen == [("later-svc", 7)]


def test_fanout_reaches_every_server(runtime: Runtime):
    a, b = Echo(runtime), Echo(runtime)
    runtime.bus.serve("all", a, service="a")
    runtime.bus.serve("all", b, service="b")
    runtime.bus.fanout(CTX, "all", "echo", value="hi")
    runtime.clock.settle()
    assert a.seen == [("a", "hi")] and b.seen == [("b", "hi")]


def test_drop_fault_makes_a_call_time_out_and_can_be_cleared(runtime: Runtime, echo: Echo):
    fault = runtime.bus.inject(BusFault(topic="ec*", method="echo", action="drop"))
    with pytest.raises(MessagingTimeout):
        runtime.bus.call(CTX, "echo", "echo", timeout=5, value=1)
    assert echo.seen == []
    runtime.bus.clear_faults(fault.id)
    assert runtime.bus.call(CTX, "echo", "echo", value=2)["value"] == 2


def test_delay_fault_delays_by_clock_time_and_counts_down(runtime: Runtime, echo: Echo):
    runtime.bus.inject(BusFault(topic="echo", action="delay", seconds=7, times=1))
    start = runtime.clock.now()
    runtime.bus.call(CTX, "echo", "echo", value=1)
    assert runtime.clock.now() == start + 7
    runtime.bus.call(CTX, "echo", "echo", value=2)
    assert runtime.clock.now() == start + 7
    assert runtime.bus.faults() == []


def test_trace_records_call_and_reply_with_lifelines(runtime: Runtime, echo: Echo):
    runtime.bus.call(CTX, "echo", "echo", value=1, instance_uuid="i-1")
    events = runtime.tracer.for_request(CTX.request_id)
    assert [(e["kind"], e["source"], e["target"]) for e in events] == [
        ("rpc.call", "client", "echo-svc"),
        ("rpc.reply", "echo-svc", "client"),
    ]
    assert runtime.tracer.for_instance("i-1")
