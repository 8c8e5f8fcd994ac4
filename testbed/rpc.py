"""Base of the RPC client classes (each package's ``rpcapi.py``).

A client turns a Python method call into a bus message on the service's topic; the
service's endpoint has a method of the same name taking ``(ctx, **kwargs)``.
"""

from __future__ import annotations

from typing import Any

from testbed.bus.base import Bus
from testbed.context import RequestContext

__all__ = ["RpcClient"]


class RpcClient:
    """Sends calls and casts to one topic."""

    topic: str = ""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    def _call(
        self,
        ctx: RequestContext,
        method: str,
        *,
        topic: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        return self.bus.call(ctx, topic or self.topic, method, timeout=timeout, **kwargs)

    def _cast(
        self, ctx: RequestContext, method: str, *, topic: str | None = None, **kwargs: Any
    ) -> None:
        self.bus.cast(ctx, topic or self.topic, method, **kwargs)
