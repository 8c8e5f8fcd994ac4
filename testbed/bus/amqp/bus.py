"""The AMQP transport's bus: call / cast / fanout / serve over RabbitMQ.

Same behaviour as the in-memory transport (:mod:`testbed.bus.memory`): the same JSON
bodies, errors travelling back the same way (``CloudError`` subclasses as themselves,
anything else as ``RemoteError``), the same trace events (recorded by the sender), faults
applied at the sender.  A call waits for its answer on a clock :class:`Signal`, so its
timeout follows the clock; that clock is the wall clock (:class:`RealClock`), since
messages cross the network in real time.

Clock accounting (see :mod:`testbed.bus.amqp.inflight`): a delivered message holds an
activity unit from its arrival until its handler returns, on a worker of the clock; a cast
to a queue with a consumer holds one at the sender until a server has handled it (taken
over by the handler when the server is in this process, released by a "done" notice on
the sender's reply queue otherwise); a server starting on a backlog holds one per waiting
message.  So ``settle()`` waits for the messages this process sent or is about to receive.

Delivery is at least once: a message is acknowledged after its handler returned, so one
in flight when a connection drops comes back and may run twice.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from testbed.bus.amqp.broker import Listener, Message, Names, Publisher
from testbed.bus.amqp.inflight import InFlight
from testbed.bus.base import (
    Bus,
    BusFault,
    Endpoint,
    Subscription,
)
from testbed.clock import RealClock, Signal
from testbed.context import RequestContext, current_service
from testbed.exceptions import MessagingTimeout, RemoteError, error_from_dict
from testbed.trace import Tracer

__all__ = ["AmqpBus"]

LOG = logging.getLogger(__name__)

PREFETCH = 32  # messages a server may hold unacknowledged: its handler concurrency


@dataclass(eq=False)
class _Server(Subscription):
    bus: AmqpBus
    topic: str
    endpoint: Endpoint
    service: str
    backlog_key: str
    listener: Listener | None = None

    def stop(self) -> None:
        self.bus._unserve(self)


@dataclass
class _PendingCall:
    signal: Signal
    reply: dict[str, Any] | None = None


class AmqpBus(Bus):
    """The bus over RabbitMQ.  ``url`` is a kombu URL (``amqp://user:pass@host:5672/vhost``);
    ``prefix`` names the exchanges and queues (see :mod:`testbed.bus.amqp.broker`).

    Connects at once: an unreachable broker fails here with a ``ConnectionError``.
    """

    def __init__(
        self,
        url: str,
        clock: RealClock,
        tracer: Tracer | None = None,
        *,
        default_timeout: float = 60.0,
        prefix: str = "testbed",
        prefetch: int = PREFETCH,
        connect_timeout: float = 10.0,
    ) -> None:
        super().__init__()
        if not isinstance(clock, RealClock):
            raise TypeError("the AMQP transport runs on wall-clock time: give it a RealClock")
        self._url, self._clock, self._tracer = url, clock, tracer
        self._default_timeout, self._prefetch = default_timeout, prefetch
        self._connect_timeout = connect_timeout
        self._id = uuid.uuid4().hex[:12]
        self._names = Names(prefix)
        self._exchange = prefix
        self._lock = threading.Lock()
        self._closed = False
        self._servers: dict[str, list[_Server]] = defaultdict(list)
        self._services: dict[str, str] = {}  # topic -> lifeline, learnt from answers
        self._calls: dict[str, _PendingCall] = {}
        self._inflight = InFlight(clock, default_timeout)
        self._publisher = Publisher(url, f"{prefix}:{self._id}:publisher", self._names)
        reply_queue = self._names.reply_queue(self._id)
        self._reply_to = str(reply_queue.name)
        self._replies = Listener(
            url,
            f"{prefix}:{self._id}:replies",
            lambda: [reply_queue],
            self._on_reply,
            prefetch=None,
        )
        self._replies.start(connect_timeout)

    # -- serving --------------------------------------------------------------------------
    def serve(self, topic: str, endpoint: Endpoint, *, service: str) -> Subscription:
        server = _Server(self, topic, endpoint, service, f"backlog:{uuid.uuid4().hex}")
        backlog = self._publisher.declare_topic(topic)[0]
        self._publisher.declare_fanout(topic)
        self._inflight.hold(server.backlog_key, backlog)
        fanout_queue = self._names.fanout_queue(topic)
        server.listener = Listener(
            self._url,
            f"{self._names.prefix}:{self._id}:{topic}",
            lambda: [self._names.topic_queue(topic), fanout_queue],
            lambda message: self._on_request(server, message),
            prefetch=self._prefetch,
        )
        with self._lock:
            self._servers[topic].append(server)
        try:
            server.listener.start(self._connect_timeout)
        except ConnectionError:
            self._unserve(server)
            raise
        return server

    def _unserve(self, server: _Server) -> None:
        with self._lock:
            servers = self._servers.get(server.topic, [])
            if server in servers:
                servers.remove(server)
        if server.listener is not None:
            server.listener.stop(graceful=True)
        self._inflight.drop(server.backlog_key)

    def _on_request(self, server: _Server, message: Message) -> None:
        """A message for ``server`` arrived (on its listener thread): hand it to a worker."""
        headers = message.headers or {}
        msg_id, origin = headers.get("tb_id"), headers.get("tb_origin")
        units = 0
        if origin == self._id and isinstance(msg_id, str) and self._inflight.take(msg_id):
            units += 1  # sent from this process: its unit passes to the handler
        if self._inflight.take(server.backlog_key):
            units += 1  # one of the messages waiting when the server started
        if units == 0:
            self._clock.hold()
        elif units == 2:
            self._clock.release()
        listener = server.listener
        assert listener is not None
        generation = listener.begin()
        notify = bool(headers.get("tb_notify")) and origin != self._id

        def handle() -> None:
            try:
                self._handle(server, message, notify)
            finally:
                listener.done(generation, message)

        self._clock.submit_held(handle)

    def _handle(self, server: _Server, message: Message, notify: bool) -> None:
        """Run a message's handler on this worker (which owns its unit) and answer it."""
        try:
            body = message.body
            payload = body.decode() if isinstance(body, bytes) else str(body)
            reply = self._run_handler(server.endpoint, server.topic, server.service, payload)
            props = message.properties
            reply_to, correlation_id = props.get("reply_to"), props.get("correlation_id")
            if correlation_id and reply_to:
                answer = json.dumps({**reply, "service": server.service})
                self._publisher.send(answer, "", reply_to, correlation_id=correlation_id)
            elif reply.get("error"):
                method = json.loads(payload).get("method")
                LOG.warning("cast %s.%s failed: %s", server.topic, method, reply["error"])
            if notify and reply_to:
                done = {"tb_kind": "done", "tb_id": (message.headers or {}).get("tb_id")}
                self._publisher.send("{}", "", reply_to, headers=done)
        except Exception:
            LOG.exception("handling a message on %s failed", server.topic)

    def _on_reply(self, message: Message) -> None:
        """An answer or a "done" notice arrived on the reply queue (listener thread)."""
        headers = message.headers or {}
        if headers.get("tb_kind") == "done":
            msg_id = headers.get("tb_id")
            if isinstance(msg_id, str):
                self._inflight.release(msg_id)
            return
        correlation_id = str(message.properties.get("correlation_id"))
        with self._lock:
            pending = self._calls.get(correlation_id)
        if pending is None:
            LOG.info("an answer (%s) came after its caller gave up", correlation_id)
            return
        pending.reply = json.loads(message.body)
        pending.signal.set()

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
        caller = current_service()
        event = self._trace("rpc.call", ctx, caller, self._service_of(topic), method, kwargs)
        started = self._clock.now()
        if fault is not None:
            self._apply_call_fault(fault, topic, method, timeout)
        reply = self._request(topic, method, payload, timeout)
        service = str(reply.get("service") or topic)
        with self._lock:
            self._services[topic] = service
        if event is not None:
            event["target"] = service  # who answered, as the in-memory bus records it
        self._trace(
            "rpc.reply",
            ctx,
            service,
            caller,
            method,
            kwargs,
            duration=self._clock.now() - started,
            detail={"error": reply["error"]["class"]} if reply.get("error") else None,
        )
        if reply.get("error"):
            raise error_from_dict(reply["error"])
        return reply.get("result")

    def _request(self, topic: str, method: str, payload: str, timeout: float) -> dict[str, Any]:
        """Send a call and wait (on the clock) for its answer."""
        correlation_id = uuid.uuid4().hex
        pending = _PendingCall(self._clock.signal())
        with self._lock:
            self._calls[correlation_id] = pending
        try:
            self._publisher.declare_topic(topic)
            self._publisher.send(
                payload,
                self._exchange,
                topic,
                reply_to=self._reply_to,
                correlation_id=correlation_id,
                expiration=timeout,  # nobody waits for the answer after that
            )
            if not pending.signal.wait(timeout) or pending.reply is None:
                raise MessagingTimeout(topic=topic, method=method, timeout=timeout)
            return pending.reply
        finally:
            with self._lock:
                self._calls.pop(correlation_id, None)

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
        self._trace("rpc.cast", ctx, current_service(), self._service_of(topic), method, kwargs)
        self._send_later(topic, method, lambda: self._send_cast(topic, payload))

    def fanout(self, ctx: RequestContext, topic: str, method: str, **kwargs: Any) -> None:
        payload = self._encode(ctx, method, kwargs)
        self._trace("rpc.fanout", ctx, current_service(), topic, method, kwargs)
        self._send_later(topic, method, lambda: self._send_fanout(topic, payload))

    def _send_later(self, topic: str, method: str, send: Callable[[], None]) -> None:
        """Send now, or as a fault says: never, or after a delay of clock time."""
        fault = self._fault_for(topic, method)
        if fault is not None and fault.action in ("drop", "error"):
            LOG.info("bus fault %s dropped a message to %s", fault.id, topic)
            return
        if fault is not None and fault.action == "delay":
            self._clock.hold()  # the message is in flight while it waits

            def deliver() -> None:
                try:
                    send()
                finally:
                    self._clock.release()

            self._clock.call_later(fault.seconds, deliver)
            return
        send()

    def _send_cast(self, topic: str, payload: str) -> None:
        consumers = self._publisher.declare_topic(topic)[1]
        msg_id = uuid.uuid4().hex
        self._inflight.hold(msg_id, 1 if consumers else 0)
        headers = {"tb_origin": self._id, "tb_id": msg_id, "tb_notify": bool(consumers)}
        try:
            self._publisher.send(
                payload,
                self._exchange,
                topic,
                headers=headers,
                reply_to=self._reply_to,
                delivery_mode=2,
            )
        except Exception:
            self._inflight.drop(msg_id)
            raise

    def _send_fanout(self, topic: str, payload: str) -> None:
        exchange = self._publisher.declare_fanout(topic)
        msg_id = uuid.uuid4().hex
        with self._lock:
            local = len(self._servers.get(topic, ()))
        self._inflight.hold(msg_id, local)  # the servers in this process take them over
        headers = {"tb_origin": self._id, "tb_id": msg_id, "tb_notify": False}
        try:
            self._publisher.send(payload, exchange, "", headers=headers)
        except Exception:
            self._inflight.drop(msg_id)
            raise

    # -- helpers --------------------------------------------------------------------------
    def _service_of(self, topic: str) -> str:
        """The lifeline serving ``topic``, as far as this process knows (else the topic)."""
        with self._lock:
            servers = self._servers.get(topic)
            if servers:
                return servers[0].service
            return self._services.get(topic, topic)

    def close(self, *, delete: bool = False) -> None:
        """Stop every server and the reply listener, give back held units, disconnect.

        ``delete`` also deletes every queue and exchange this bus declared (tests and
        throw-away clouds: messages still waiting in them are lost).  Closing twice is
        harmless.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            servers = [s for group in self._servers.values() for s in group]
            self._servers.clear()
        listeners = [s.listener for s in servers if s.listener is not None]
        listeners.append(self._replies)
        for listener in listeners:
            listener.stop(graceful=False, timeout=0)
        for server in servers:
            self._inflight.drop(server.backlog_key)
        self._inflight.drop_all()
        for listener in listeners:
            listener.join(timeout=2.0)
        if delete:
            self._publisher.delete_declared(self._reply_to)
        self._publisher.close()
