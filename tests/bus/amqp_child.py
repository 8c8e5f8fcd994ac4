"""A second process on the bus: serves topic ``remote`` over RabbitMQ until stdin closes.

Run by ``test_amqp.py`` as ``python amqp_child.py <amqp-url> <prefix>``; prints ``ready``
once it serves.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from testbed.bus.amqp import AmqpBus
from testbed.clock import RealClock
from testbed.context import RequestContext, current_service
from testbed.exceptions import Conflict


class Remote:
    """What the parent process asks of this one."""

    def __init__(self, bus: AmqpBus) -> None:
        self.bus = bus
        self.recorded: list[Any] = []
        self._lock = threading.Lock()

    def whoami(self, ctx: RequestContext) -> dict[str, Any]:
        return {"pid": os.getpid(), "service": current_service(), "user": ctx.user_id}

    def record(self, ctx: RequestContext, value: Any) -> None:
        with self._lock:
            self.recorded.append(value)

    def recorded_values(self, ctx: RequestContext) -> list[Any]:
        with self._lock:
            return list(self.recorded)

    def conflict(self, ctx: RequestContext) -> None:
        raise Conflict("taken in another process")

    def relay(self, ctx: RequestContext, value: Any) -> Any:
        return self.bus.call(ctx, "back", "echo", value=value)["value"]


def main() -> None:
    url, prefix = sys.argv[1], sys.argv[2]
    clock = RealClock()
    bus = AmqpBus(url, clock, default_timeout=5, prefix=prefix)
    bus.serve("remote", Remote(bus), service="remote-svc")
    print("ready", flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    bus.close(delete=True)
    clock.close()


if __name__ == "__main__":
    main()
