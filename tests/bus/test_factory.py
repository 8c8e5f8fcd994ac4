"""Choosing the bus and its clock from ``transport_url``."""

from __future__ import annotations

import pytest

from testbed.bus.factory import amqp_url, make_bus, make_clock, transport_scheme
from testbed.bus.memory import MemoryBus
from testbed.clock import RealClock, SimClock
from testbed.config import Config, ConfigError
from testbed.runtime import build_runtime


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("memory://", "memory"),
        ("amqp://guest:guest@127.0.0.1:5672/", "amqp"),
        ("rabbit://u:p@mq.example:5672/nova", "amqp"),
    ],
)
def test_transport_schemes(url: str, scheme: str):
    assert transport_scheme(url) == scheme


@pytest.mark.parametrize("url", ["kafka://broker:9092", "memory", "", "amqp:/x"])
def test_unknown_transports_are_refused_with_the_expected_forms(url: str):
    with pytest.raises(ConfigError, match=r"expected memory:// or amqp://"):
        transport_scheme(url)


def test_oslo_rabbit_urls_become_kombu_urls():
    assert amqp_url("rabbit://u:p@mq:5672/nova") == "amqp://u:p@mq:5672/nova"


def test_memory_runs_on_the_simulated_clock_and_amqp_on_the_wall_clock():
    sim, real = make_clock("memory://"), make_clock("amqp://guest:guest@127.0.0.1//")
    try:
        assert isinstance(sim, SimClock)
        assert isinstance(real, RealClock)
    finally:
        sim.close()
        real.close()


def test_memory_bus_from_the_factory_and_the_default_runtime():
    clock = SimClock()
    assert isinstance(make_bus("memory://", clock, None, 60.0), MemoryBus)
    runtime = build_runtime(Config())
    assert isinstance(runtime.bus, MemoryBus)
    assert isinstance(runtime.clock, SimClock)
    clock.close()
    runtime.clock.close()


def test_the_amqp_bus_refuses_the_simulated_clock():
    clock = SimClock()
    with pytest.raises(ConfigError, match="wall clock"):
        make_bus("amqp://guest:guest@127.0.0.1//", clock, None, 60.0)
    clock.close()
