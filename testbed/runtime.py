"""Build the shared machinery (:class:`testbed.service.Runtime`) from a :class:`Config`."""

from __future__ import annotations

from typing import Any

from testbed.bus.memory import MemoryBus
from testbed.clock import SimClock
from testbed.config import Config
from testbed.service import Runtime
from testbed.store.db import Store
from testbed.trace import Tracer

__all__ = ["build_runtime"]


def build_runtime(config: Config | None = None, *, virt: Any = None) -> Runtime:
    """A runtime on the simulated clock, the in-memory bus and the configured store.

    The schema is created (``create_all``) for an in-memory SQLite store; other databases
    are expected to be migrated with ``testbed db upgrade`` first.
    """
    config = config or Config()
    clock = SimClock()
    tracer = Tracer(clock.now)
    bus = MemoryBus(clock, tracer, default_timeout=config.rpc_response_timeout)
    store = Store(config.database_url, now=clock.now, tracer=tracer)
    if config.database_url.startswith("sqlite"):
        store.create_schema()
    return Runtime(config=config, clock=clock, bus=bus, store=store, tracer=tracer, virt=virt)
