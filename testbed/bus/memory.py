"""The in-memory transport: every message still round-trips through JSON.

``call`` runs the handler on the caller's thread (the caller would only wait anyway),
inside the receiver's service scope; ``cast`` and ``fanout`` run on worker threads of
the clock, each message holding an activity unit until its handler returns, so virtual
time never moves past work still queued.  Casts to a topic nobody serves wait in a
queue until a server starts (as a durable queue would keep them).
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

from testbed.bus.base import (
    Bus,
    BusFault,
    Endpoint,
    Subscription,
)
from testbed.clock import Clock
from testbed.context import RequestContext, current_service
from testbed.exceptions import MessagingTimeout, RemoteError, error_from_dict
from testbed.trace import Tracer

__all__ = ["MemoryBus"]

LOG = logging.getLogger(__name__)


@dataclass(eq=False)
class _Server(Subscription):
    bus: MemoryBus
    topic: str
    endpoint: Endpoint
    service: str

    def stop(self) -> None:
        self.bus._unserve(self)


class MemoryBus(Bus):
    """All services in one process; JSON on every hop."""

    def __init__(
        self, clock: Clock, tracer: Tracer | None = None, *, default_timeout: float = 60.0
    ) -> None:
        super().__init__()
        self._clock = clock
        self._tracer = tracer
        self._default_timeout = default_timeout
        self._lock = threading.Lock()
        self._servers: dict[str, list[_Server]] = defaultdict(list)
        self._pending: dict[str, deque[str]] = defaultdict(deque)
        self._rr = itertools.count()

    # -- serving --------------------------------------------------------------------------
    def serve(self, topic: str, endpoint: Endpoint, *, service: str) -> Subscription:
        server = _Server(self, topic, endpoint, service)
        with self._lock:
            self._servers[topic].append(server)
            backlog = self._pending.pop(topic, deque())
        for payload in backlog:
            self._clock.hold()
            self._submit(lambda p=payload: self._deliver(topic, p, None))
        return server

    def _unserve(self, server: _Server) -> None:
        with self._lock:
            servers = self._servers.get(server.topic, [])
            if server in servers:
                servers.remove(server)

    def _pick(self, topic: str) -> _Server | None:
        with self._lock:
            servers = self._servers.get(topic)
            if not servers:
                return None
            return servers[next(self._rr) % len(servers)]

    # -- sending --------------------------------------------------------------------------
    def call(
        self,
        ctx: RequestContext,
        topic: str,
        method: str,
        *,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        timeout = self._default_timeout if timeout is None else timeout
        payload = self._encode(ctx, method, kwargs)
        fault = self._fault_for(topic, method)
        server = self._pick(topic)
        target = server.service if server else topic
        self._trace("rpc.call", ctx, current_service(), target, method, kwargs)
        started = time.perf_counter()
        if fault is not None:
            self._apply_call_fault(fault, topic, method, timeout)
            server = self._pick(topic)
        if server is None:
            self._clock.sleep(timeout)
            raise MessagingTimeout(topic=topic, method=method, timeout=timeout)
        caller = current_service()
        reply = self._dispatch(server, payload)
        self._trace(
            "rpc.reply",
            ctx,
            server.service,
            caller,
            method,
            kwargs,
            duration=time.perf_counter() - started,
            detail={"error": reply["error"]["class"].rpartition(".")[2]}
            if reply.get("error")
            else None,
        )
        if reply.get("error"):
            raise error_from_dict(reply["error"])
        return reply["result"]

    def _apply_call_fault(self, fault: BusFault, topic: str, method: str, timeout: float) -> None:
        if fault.action == "drop":
            self._clock.sleep(timeout)
            raise MessagingTimeout(topic=topic, method=method, timeout=timeout)
        if fault.action == "delay":
            self._clock.sleep(fault.seconds)
        elif fault.action == "error":
            raise RemoteError(fault.message)

    def cast(self, ctx: RequestContext, topic: str, method: str, **kwargs: Any) -> None:
        payload = self._encode(ctx, method, kwargs)
        server = self._pick(topic)
        self._trace(
            "rpc.cast", ctx, current_service(), server.service if server else topic, method, kwargs
        )
        self._send_later(topic, payload, None, self._fault_for(topic, method))

    def fanout(self, ctx: RequestContext, topic: str, method: str, **kwargs: Any) -> None:
        payload = self._encode(ctx, method, kwargs)
        with self._lock:
            servers = list(self._servers.get(topic, ()))
        self._trace("rpc.fanout", ctx, current_service(), topic, method, kwargs)
        fault = self._fault_for(topic, method)
        for server in servers:
            self._send_later(topic, payload, server, fault)

    def _send_later(
        self, topic: str, payload: str, server: _Server | None, fault: BusFault | None
    ) -> None:
        if fault is not None and fault.action in ("drop", "error"):
            LOG.info("bus fault %s dropped a message to %s", fault.id, topic)
            return
        if fault is not None and fault.action == "delay":
            self._clock.call_later(
                fault.seconds, lambda: self._deliver_held(topic, payload, server)
            )
            return
        self._clock.hold()
        self._submit(lambda: self._deliver(topic, payload, server))

    def _deliver_held(self, topic: str, payload: str, server: _Server | None) -> None:
        """Deliver on the current (timer) thread, which already holds a unit."""
        self._clock.hold()
        self._deliver(topic, payload, server)
        self._clock.release()

    def _submit(self, job: Any) -> None:
        submit = getattr(self._clock, "submit_held", None)
        if submit is None:  # pragma: no cover - every clock of ours has it
            raise TypeError("the bus needs a clock with submit_held")
        submit(job)

    def _deliver(self, topic: str, payload: str, server: _Server | None) -> None:
        """Run a cast on this worker thread (which owns one activity unit)."""
        server = server or self._pick(topic)
        if server is None:
            with self._lock:
                self._pending[topic].append(payload)
            return
        reply = self._dispatch(server, payload)
        if reply.get("error"):
            message = json.loads(payload)
            LOG.warning("cast %s.%s failed: %s", topic, message["method"], reply["error"])

    def _dispatch(self, server: _Server, payload: str) -> dict[str, Any]:
        """Run a request on ``server`` (see :meth:`Bus._run_handler`)."""
        return self._run_handler(server.endpoint, server.topic, server.service, payload)
