"""Fixtures of the bus tests: one ``bus`` harness per transport.

The ``amqp`` variant needs RabbitMQ (``TESTBED_AMQP_URL``, default
``amqp://guest:guest@127.0.0.1:5672//``): it is skipped when the broker cannot be
reached, except under CI (``CI`` set), where that is a failure.  Each harness names its
exchanges and queues with a prefix of its own and deletes them afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from testbed.bus.base import Bus
from testbed.bus.memory import MemoryBus
from testbed.clock import RealClock, SimClock
from testbed.trace import Tracer

AMQP_URL = os.environ.get("TESTBED_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def require(what: str, problem: str | None) -> None:
    """Skip (fail under CI) when ``problem`` says a server is missing."""
    if problem is None:
        return
    message = f"{what} unreachable: {problem}"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set, so this is a failure, not a skip)")
    pytest.skip(message)


def _broker_problem() -> str | None:
    try:
        import kombu
    except ImportError:
        return "kombu is not installed (extra 'amqp')"
    try:
        with kombu.Connection(AMQP_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:
        return f"{AMQP_URL}: {exc}"
    return None


@pytest.fixture(scope="session")
def amqp_url() -> str:
    """The broker's URL, once it is known to answer."""
    require("RabbitMQ", _broker_problem())
    return AMQP_URL


def new_prefix() -> str:
    """Exchange and queue names of their own for one test."""
    return f"tbtest-{uuid.uuid4().hex[:10]}"


@dataclass
class BusHarness:
    """A bus with its clock and trace, and the durations that suit its clock.

    ``timeout`` is a short RPC timeout, ``pause`` a short handler sleep: virtual seconds
    cost nothing in memory, wall-clock ones do over RabbitMQ.
    """

    transport: str
    bus: Bus
    clock: SimClock | RealClock
    tracer: Tracer
    timeout: float
    pause: float
    prefix: str = ""

    def settle(self) -> None:
        """Wait until every message sent or received here has been handled."""
        self.clock.settle(timeout=10)


@pytest.fixture(params=["memory", "amqp"])
def bus(request: Any) -> Iterator[BusHarness]:
    """The same bus behaviour over each transport."""
    if request.param == "memory":
        sim = SimClock()
        tracer = Tracer(sim.now)
        yield BusHarness("memory", MemoryBus(sim, tracer), sim, tracer, timeout=30, pause=12)
        sim.close()
        return
    url = request.getfixturevalue("amqp_url")
    from testbed.bus.amqp import AmqpBus

    real = RealClock()
    tracer = Tracer(real.now)
    prefix = new_prefix()
    amqp = AmqpBus(url, real, tracer, default_timeout=5, prefix=prefix)
    yield BusHarness("amqp", amqp, real, tracer, timeout=0.3, pause=0.1, prefix=prefix)
    amqp.close(delete=True)
    real.close()
