"""The bus interface every transport implements, and what they share.

A *server* serves one topic with one *endpoint*: an object whose public methods are the
RPC methods, each called as ``method(ctx, **kwargs)``.  Arguments and results must be
JSON-safe (dicts, lists, strings, numbers, booleans, None): every transport sends them
as JSON, the in-memory one included, so nothing works embedded that would break over
RabbitMQ.  Errors derived from :class:`testbed.exceptions.CloudError` travel back to the
caller as themselves; anything else arrives as ``RemoteError``.

Faults (:class:`BusFault`) are injected at run time and apply at the sender: drop a
message (a call then times out), delay it, or fail it.
"""

from __future__ import annotations

import fnmatch
import itertools
import json
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from testbed.context import RequestContext, service_scope
from testbed.exceptions import BadRequest, CloudError
from testbed.trace import TraceEvent, Tracer

__all__ = ["Bus", "BusFault", "Endpoint", "Subscription", "encode", "instance_of"]

Endpoint = object

LOG = logging.getLogger(__name__)

FAULT_ACTIONS = ("drop", "delay", "error")


@dataclass
class BusFault:
    """A rule that disturbs matching messages.

    ``topic`` and ``method`` are shell-style patterns (``compute.*``); ``action`` is
    ``drop``, ``delay`` (by ``seconds`` of clock time) or ``error`` (the call raises
    ``message``); ``times`` limits how many messages it hits (None: until cleared).
    """

    topic: str = "*"
    method: str = "*"
    action: str = "drop"
    seconds: float = 0.0
    message: str = "injected bus fault"
    times: int | None = None
    id: int = field(default=0)

    def __post_init__(self) -> None:
        if self.action not in FAULT_ACTIONS:
            raise BadRequest(f"unknown bus fault action {self.action!r}; one of {FAULT_ACTIONS}")

    def matches(self, topic: str, method: str) -> bool:
        """Whether this rule applies to a message."""
        return fnmatch.fnmatchcase(topic, self.topic) and fnmatch.fnmatchcase(method, self.method)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form for the control API."""
        return asdict(self)


class Subscription(ABC):
    """A running server on a topic."""

    @abstractmethod
    def stop(self) -> None:
        """Stop receiving messages."""


def encode(value: Any, what: str) -> str:
    """JSON-encode a message part, with a clear error for what cannot travel."""
    try:
        return json.dumps(value, separators=(",", ":"))
    except TypeError as exc:
        raise TypeError(f"{what} is not JSON-safe and cannot go over the bus: {exc}") from exc


def instance_of(kwargs: dict[str, Any]) -> str | None:
    """The instance a message is about, for the trace (by convention of argument names)."""
    uuid = kwargs.get("instance_uuid")
    if isinstance(uuid, str):
        return uuid
    inst = kwargs.get("instance")
    if isinstance(inst, dict) and isinstance(inst.get("uuid"), str):
        return str(inst["uuid"])
    return None


class Bus(ABC):
    """call / cast / fanout on topics.  Transports subclass this."""

    _tracer: Tracer | None = None

    def __init__(self) -> None:
        self._faults: list[BusFault] = []
        self._fault_ids = itertools.count(1)
        self._fault_lock = threading.Lock()

    @abstractmethod
    def call(
        self,
        ctx: RequestContext,
        topic: str,
        method: str,
        *,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        """Send a request and wait for its answer; re-raises the remote error.

        Raises ``MessagingTimeout`` when no answer comes within ``timeout`` clock seconds
        (default: the configured ``rpc_response_timeout``).
        """

    @abstractmethod
    def cast(self, ctx: RequestContext, topic: str, method: str, **kwargs: Any) -> None:
        """Send a message to one server of ``topic`` and do not wait."""

    @abstractmethod
    def fanout(self, ctx: RequestContext, topic: str, method: str, **kwargs: Any) -> None:
        """Send a message to every server of ``topic`` and do not wait."""

    @abstractmethod
    def serve(self, topic: str, endpoint: Endpoint, *, service: str) -> Subscription:
        """Start delivering ``topic``'s messages to ``endpoint``.

        ``service`` is the lifeline name the trace shows for the receiver.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and threads."""

    # -- what every transport does the same way ---------------------------------------------
    @staticmethod
    def _encode(ctx: RequestContext, method: str, kwargs: dict[str, Any]) -> str:
        """The JSON body of a request."""
        return encode(
            {"context": ctx.to_dict(), "method": method, "args": kwargs},
            f"a message for {method}",
        )

    @staticmethod
    def _run_handler(endpoint: Endpoint, topic: str, service: str, payload: str) -> dict[str, Any]:
        """Decode a request, run the endpoint's handler in the server's scope, and give back
        ``{"result": ...}`` or ``{"error": ...}`` (JSON-safe)."""
        message = json.loads(payload)
        ctx = RequestContext.from_dict(message["context"])
        with service_scope(service, ctx):
            try:
                handler = resolve_method(endpoint, message["method"])
                result = handler(ctx, **message["args"])
                return {"result": json.loads(encode(result, f"the result of {message['method']}"))}
            except CloudError as exc:
                return {"error": exc.to_dict()}
            except Exception as exc:
                LOG.exception("%s.%s failed", topic, message["method"])
                return {"error": {"class": type(exc).__name__, "message": str(exc)}}

    def _trace(
        self,
        kind: str,
        ctx: RequestContext,
        source: str,
        target: str,
        method: str,
        kwargs: dict[str, Any],
        *,
        duration: float | None = None,
        detail: dict[str, Any] | None = None,
    ) -> TraceEvent | None:
        """Record a message in the trace (when the bus has a tracer)."""
        if self._tracer is None:
            return None
        return self._tracer.record(
            kind,
            request_id=ctx.request_id,
            source=source,
            target=target,
            name=method,
            instance_uuid=instance_of(kwargs),
            duration=duration,
            detail=detail,
        )

    # -- faults ---------------------------------------------------------------------------
    def inject(self, fault: BusFault) -> BusFault:
        """Start disturbing matching messages; returns the rule with its id."""
        with self._fault_lock:
            fault.id = next(self._fault_ids)
            self._faults.append(fault)
        return fault

    def faults(self) -> list[BusFault]:
        """The rules in force."""
        with self._fault_lock:
            return list(self._faults)

    def clear_faults(self, fault_id: int | None = None) -> None:
        """Remove one rule, or all of them."""
        with self._fault_lock:
            self._faults = [f for f in self._faults if fault_id is not None and f.id != fault_id]

    def _fault_for(self, topic: str, method: str) -> BusFault | None:
        """The first rule hitting this message (and count the hit)."""
        with self._fault_lock:
            for fault in self._faults:
                if fault.matches(topic, method):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None


def resolve_method(endpoint: Endpoint, method: str) -> Callable[..., Any]:
    """The endpoint's handler for ``method``; only public methods are remotely callable."""
    if method.startswith("_"):
        raise AttributeError(f"{method} is not an RPC method")
    handler = getattr(type(endpoint), method, None)
    if not callable(handler):
        raise AttributeError(f"{type(endpoint).__name__} has no RPC method {method!r}")
    bound: Callable[..., Any] = getattr(endpoint, method)
    return bound
