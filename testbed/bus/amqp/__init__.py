"""The AMQP transport: the bus over RabbitMQ (kombu), for one process per service.

- :mod:`testbed.bus.amqp.bus`: :class:`AmqpBus`, call / cast / fanout / serve, the trace
  and faults, with the same behaviour as the in-memory transport.
- :mod:`testbed.bus.amqp.broker`: names on the broker, the consuming and the publishing
  connections (threads, acks, reconnection).
- :mod:`testbed.bus.amqp.inflight`: the clock's activity units held for messages on the
  wire, so ``settle()`` waits for them.

Needs the ``amqp`` extra (kombu).  See ``docs/distributed.md``.
"""

from testbed.bus.amqp.bus import AmqpBus

__all__ = ["AmqpBus"]
