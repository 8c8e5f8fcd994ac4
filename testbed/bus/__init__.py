"""The message bus: ``call`` (wait for the answer), ``cast`` (fire and forget) and
``fanout`` (to every server of a topic), on topics such as ``conductor``, ``scheduler``,
``compute.<host>``.  See :class:`testbed.bus.base.Bus`."""

from testbed.bus.base import Bus, BusFault, Endpoint
from testbed.bus.memory import MemoryBus

__all__ = ["Bus", "BusFault", "Endpoint", "MemoryBus"]
