"""Build the shared machinery (:class:`testbed.service.Runtime`) from a :class:`Config`."""

from __future__ import annotations

from typing import Any

from testbed.bus.factory import make_bus, make_clock
from testbed.clock import SimClock
from testbed.config import Config
from testbed.service import Runtime
from testbed.store.db import Store
from testbed.trace import Tracer

__all__ = ["build_runtime"]


def build_runtime(
    config: Config | None = None, *, virt: Any = None, clock_start: float | None = None
) -> Runtime:
    """A runtime on the configured bus and store.

    ``transport_url`` picks the bus and its clock (see :mod:`testbed.bus.factory`):
    ``memory://`` (the default) runs on the simulated clock, ``amqp://`` on the wall clock.

    The schema is created (``create_all``) for an in-memory SQLite store; other databases
    are expected to be migrated with ``testbed db upgrade`` first.  ``clock_start`` fixes
    the simulated clock's start (default: now).
    """
    config = config or Config()
    clock = make_clock(config.transport_url)
    if clock_start is not None and isinstance(clock, SimClock):
        clock = SimClock(clock_start)
    tracer = Tracer(clock.now)
    bus = make_bus(
        config.transport_url,
        clock,
        tracer,
        config.rpc_response_timeout,
        prefix=config.control_exchange,
    )
    store = Store(config.database_url, now=clock.now, tracer=tracer)
    if config.database_url.startswith("sqlite"):
        store.create_schema()
    return Runtime(config=config, clock=clock, bus=bus, store=store, tracer=tracer, virt=virt)
