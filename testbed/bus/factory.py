"""Pick the bus (and the clock it needs) from a ``transport_url``.

- ``memory://``: every service in this process (:class:`MemoryBus`), on the simulated clock.
- ``amqp://user:pass@host:port/vhost`` (``rabbit://`` as oslo.messaging writes it is
  accepted too): RabbitMQ (:class:`testbed.bus.amqp.AmqpBus`, extra ``amqp``), on the
  wall clock: messages cross the network in real time, so an RPC timeout must too.
"""

from __future__ import annotations

from testbed.bus.base import Bus
from testbed.bus.memory import MemoryBus
from testbed.clock import RealClock, SimClock
from testbed.config import ConfigError
from testbed.trace import Tracer

__all__ = ["amqp_url", "make_bus", "make_clock", "transport_scheme"]

AMQP_SCHEMES = ("amqp", "rabbit")


def transport_scheme(transport_url: str) -> str:
    """``memory`` or ``amqp`` (``rabbit`` counts as ``amqp``); refuses anything else."""
    scheme, sep, _rest = transport_url.partition("://")
    scheme = scheme.lower()
    if sep and scheme == "memory":
        return "memory"
    if sep and scheme in AMQP_SCHEMES:
        return "amqp"
    raise ConfigError(
        f"unknown transport_url {transport_url!r}; expected memory:// or "
        "amqp://user:password@host:port/vhost"
    )


def amqp_url(transport_url: str) -> str:
    """The kombu URL of an ``amqp://`` or ``rabbit://`` transport_url."""
    _scheme, _sep, rest = transport_url.partition("://")
    return f"amqp://{rest}"


def make_clock(transport_url: str) -> SimClock | RealClock:
    """The clock a transport needs: simulated in memory, wall-clock over RabbitMQ."""
    return SimClock() if transport_scheme(transport_url) == "memory" else RealClock()


def make_bus(
    transport_url: str,
    clock: SimClock | RealClock,
    tracer: Tracer | None,
    default_timeout: float,
    *,
    prefix: str = "testbed",
) -> Bus:
    """The bus for ``transport_url``; ``prefix`` names the exchanges and queues on RabbitMQ.

    Connects at once for ``amqp://`` (a broker that cannot be reached fails here).
    """
    if transport_scheme(transport_url) == "memory":
        return MemoryBus(clock, tracer, default_timeout=default_timeout)
    if not isinstance(clock, RealClock):
        raise ConfigError("the amqp transport runs on the wall clock; give it a RealClock")
    try:
        from testbed.bus.amqp import AmqpBus
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ConfigError(
            "the amqp transport needs kombu: pip install 'nova-testbed[amqp]'"
        ) from exc
    return AmqpBus(
        amqp_url(transport_url), clock, tracer, default_timeout=default_timeout, prefix=prefix
    )
