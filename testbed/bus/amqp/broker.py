"""What the AMQP transport has on the broker, and its connections to it.

Names (``prefix`` is ``testbed`` unless told otherwise), as oslo.messaging lays them out:

- a durable topic exchange ``<prefix>``; each topic has a durable queue ``<prefix>.<topic>``
  bound to it with the topic as routing key (``testbed.conductor``,
  ``testbed.compute.cmp-a1``).  Calls and casts go there: a cast to a host whose service
  is down waits in its queue, and the servers of one topic share its messages.
- a durable fanout exchange ``<prefix>.<topic>.fanout``; each server binds an exclusive
  queue ``<prefix>.<topic>.fanout.<id>`` to it, so a fanout reaches every server once.
- a reply queue ``<prefix>.reply.<id>`` per bus (reached through the default exchange).
  It survives a dropped connection, so answers sent meanwhile wait there; the broker
  deletes it a minute after its last consumer is gone.

A :class:`Listener` consumes on a connection and a thread of its own (I/O only: it hands
messages on and never runs a handler), acknowledges a message once its handler is done,
and reconnects with backoff when the connection drops.  The :class:`Publisher` is one
connection shared by every sending thread of a bus, under a lock, reconnecting as needed.
"""

from __future__ import annotations

import importlib
import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

__all__ = ["Listener", "Names", "Publisher", "kombu"]

LOG = logging.getLogger(__name__)

# kombu's functions carry no annotations; its objects are Any here.
kombu: Any = importlib.import_module("kombu")
Connection: TypeAlias = Any  # kombu.Connection
Message: TypeAlias = Any  # kombu.message.Message
Queue: TypeAlias = Any  # kombu.Queue
Exchange: TypeAlias = Any  # kombu.Exchange

T = TypeVar("T")

POLL_SECONDS = 0.05  # how often a listener sends its acks and looks at its stop flag
HEARTBEAT_SECONDS = 20
CONNECT_TIMEOUT_SECONDS = 5
REPLY_QUEUE_EXPIRES_MS = 60_000
MAX_BACKOFF_SECONDS = 2.0


@dataclass(frozen=True)
class Names:
    """The exchanges and queues of one bus prefix."""

    prefix: str

    def topic_exchange(self) -> Exchange:
        """The exchange every call and cast goes through."""
        return kombu.Exchange(self.prefix, "topic", durable=True)

    def topic_queue(self, topic: str) -> Queue:
        """The durable queue the servers of ``topic`` share."""
        return kombu.Queue(
            f"{self.prefix}.{topic}", self.topic_exchange(), routing_key=topic, durable=True
        )

    def fanout_exchange(self, topic: str) -> Exchange:
        """The exchange a fanout to ``topic`` goes through."""
        return kombu.Exchange(f"{self.prefix}.{topic}.fanout", "fanout", durable=True)

    def fanout_queue(self, topic: str) -> Queue:
        """A new server's own queue for fanouts to ``topic``."""
        exchange = self.fanout_exchange(topic)
        return kombu.Queue(f"{exchange.name}.{uuid.uuid4().hex[:8]}", exchange, exclusive=True)

    def reply_queue(self, bus_id: str) -> Queue:
        """The queue a bus's answers and "done" notices come to."""
        name = f"{self.prefix}.reply.{bus_id}"
        return kombu.Queue(
            name,
            kombu.Exchange(""),
            routing_key=name,
            durable=False,
            auto_delete=False,
            queue_arguments={"x-expires": REPLY_QUEUE_EXPIRES_MS},
        )


def _connection(url: str, name: str, *, heartbeat: int = 0) -> Connection:
    """A kombu connection the broker lists under ``name`` (rabbitmqctl list_connections)."""
    return kombu.Connection(
        url,
        heartbeat=heartbeat,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        transport_options={"client_properties": {"connection_name": name}},
    )


def _release(conn: Connection, name: str) -> None:
    try:
        conn.release()
    except Exception:  # the connection may be half-dead already
        LOG.debug("%s: release failed", name, exc_info=True)


class Listener:
    """One connection consuming some queues on a thread of its own.

    ``on_message`` runs on that thread and must not block.  Acks asked for from other
    threads (:meth:`done`) are sent from it between reads.  With ``prefetch`` None the
    queues are consumed without acknowledgements (the reply queue).
    """

    def __init__(
        self,
        url: str,
        name: str,
        queues: Callable[[], list[Queue]],
        on_message: Callable[[Message], None],
        *,
        prefetch: int | None,
    ) -> None:
        self._url, self.name = url, name
        self._queues, self._on_message, self._prefetch = queues, on_message, prefetch
        self._lock = threading.Lock()
        self._acks: deque[tuple[int, Message]] = deque()
        self._inflight = 0
        self._generation = 0
        self._stopping = threading.Event()
        self._graceful = True
        self._ready = threading.Event()
        self._cancelled = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"amqp:{name}", daemon=True)

    def start(self, timeout: float) -> None:
        """Connect and start consuming; wait (wall-clock, broker I/O) until it does."""
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop(graceful=False)
            raise ConnectionError(f"{self.name}: could not consume within {timeout:g} s")

    def begin(self) -> int:
        """A delivered message goes to a handler (called from ``on_message``)."""
        with self._lock:
            self._inflight += 1
            return self._generation

    def done(self, generation: int, message: Message) -> None:
        """The handler of ``message`` returned: acknowledge it (from any thread)."""
        with self._lock:
            self._inflight -= 1
            self._acks.append((generation, message))

    def stop(self, *, graceful: bool, timeout: float = 5.0) -> None:
        """Stop consuming; a graceful stop acknowledges the handlers still running first.

        Returns once the broker stopped delivering (wall-clock, broker I/O): a message
        sent afterwards waits in the queue for the next server.
        """
        self._graceful = self._graceful and graceful
        self._stopping.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._cancelled.wait(timeout)

    def join(self, timeout: float) -> None:
        """Wait for the thread to end (used when the bus closes)."""
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            conn = _connection(self._url, self.name, heartbeat=HEARTBEAT_SECONDS)
            try:
                conn.connect()
                consumer = kombu.Consumer(
                    conn.channel(),
                    queues=self._queues(),
                    on_message=self._receive,
                    no_ack=self._prefetch is None,
                    prefetch_count=self._prefetch,
                )
                consumer.consume()
                self._ready.set()
                backoff = 0.1
                self._pump(conn, until=self._stopping.is_set)
                consumer.cancel()
                self._cancelled.set()
                self._pump(conn, until=self._drained)
            except conn.connection_errors + conn.channel_errors as exc:
                if self._stopping.is_set():
                    break
                LOG.warning("%s: connection lost (%s); reconnecting", self.name, exc)
                with self._lock:
                    self._generation += 1  # the broker gives unacked messages back
                    self._acks.clear()
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
            finally:
                _release(conn, self.name)
        self._cancelled.set()

    def _drained(self) -> bool:
        with self._lock:
            return not self._graceful or (self._inflight == 0 and not self._acks)

    def _pump(self, conn: Connection, *, until: Callable[[], bool]) -> None:
        while not until():
            self._send_acks()
            try:
                conn.drain_events(timeout=POLL_SECONDS)
            except TimeoutError:
                pass
            conn.heartbeat_check()
        self._send_acks()

    def _send_acks(self) -> None:
        while True:
            with self._lock:
                if not self._acks:
                    return
                generation, message = self._acks.popleft()
                current = generation == self._generation
            if current:
                message.ack()

    def _receive(self, message: Message) -> None:
        if self._stopping.is_set() and self._prefetch is not None:
            message.requeue()  # arrived after the stop: leave it to the next server
            return
        try:
            self._on_message(message)
        except Exception:
            LOG.exception("%s: could not dispatch a message", self.name)


class Publisher:
    """The sending side of a bus: one connection and channel, shared under a lock."""

    def __init__(self, url: str, name: str, names: Names) -> None:
        self._url, self._name, self._names = url, name, names
        self._lock = threading.Lock()
        self._conn = _connection(url, name)
        self._channel: Any = None
        self._on_channel: set[str] = set()  # declared on the current channel
        self._queues_made: set[str] = set()
        self._exchanges_made: set[str] = set()
        self._closed = False

    def run(self, fn: Callable[[Any], T], attempts: int = 3) -> T:
        """Run ``fn(channel)``, reconnecting (with kombu's backoff) if the link was lost."""
        with self._lock:
            for attempt in range(1, attempts + 1):
                if self._closed:
                    raise ConnectionError("the bus is closed")
                try:
                    if self._channel is None:
                        self._conn.ensure_connection(
                            max_retries=5, interval_start=0.1, interval_step=0.5, interval_max=2
                        )
                        self._channel = self._conn.channel()
                        self._on_channel.clear()
                    return fn(self._channel)
                except self._conn.connection_errors + self._conn.channel_errors as exc:
                    LOG.warning("%s: %s (attempt %d of %d)", self._name, exc, attempt, attempts)
                    self._channel = None
                    _release(self._conn, self._name)
                    self._conn = _connection(self._url, self._name)
                    if attempt == attempts:
                        raise
        raise AssertionError("unreachable")

    def send(self, body: str, exchange: str, routing_key: str, **properties: Any) -> None:
        """Publish a JSON body (transient unless ``delivery_mode=2``)."""
        properties.setdefault("delivery_mode", 1)
        self.run(
            lambda ch: kombu.Producer(ch).publish(
                body,
                exchange=exchange,
                routing_key=routing_key,
                content_type="application/json",
                content_encoding="utf-8",
                **properties,
            )
        )

    def declare_fanout(self, topic: str) -> str:
        """Make sure the fanout exchange of ``topic`` exists; its name."""
        exchange = self._names.fanout_exchange(topic)
        self.run(lambda ch: self._declare_exchange(ch, exchange))
        return str(exchange.name)

    def declare_topic(self, topic: str) -> tuple[int, int]:
        """Make sure the queue of ``topic`` exists; (messages waiting, consumers) in it."""
        return self.run(lambda ch: self._declare_topic(ch, topic))

    def _declare_exchange(self, channel: Any, exchange: Exchange) -> None:
        if exchange.name not in self._on_channel:
            exchange(channel).declare()
            self._on_channel.add(exchange.name)
            self._exchanges_made.add(exchange.name)

    def _declare_topic(self, channel: Any, topic: str) -> tuple[int, int]:
        self._declare_exchange(channel, self._names.topic_exchange())
        queue = self._names.topic_queue(topic)(channel)
        ok = queue.queue_declare()
        if queue.name not in self._on_channel:
            queue.queue_bind()
            self._on_channel.add(queue.name)
            self._queues_made.add(queue.name)
        return int(ok.message_count), int(ok.consumer_count)

    def delete_declared(self, *extra_queues: str) -> None:
        """Delete every queue and exchange declared through this publisher."""

        def delete(channel: Any) -> None:
            for name in sorted({*self._queues_made, *extra_queues}):
                channel.queue_delete(queue=name)
            for name in sorted(self._exchanges_made):
                channel.exchange_delete(exchange=name)
            self._on_channel.clear()

        self.run(delete)

    def close(self) -> None:
        """Close the connection; later sends fail."""
        with self._lock:
            self._closed = True
            _release(self._conn, self._name)
