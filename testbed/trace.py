"""The trace: every RPC message, DB write, driver call and state change on a request's path.

Events are plain dicts in the format the report renderer reads (``docs/report.md``):
``seq, t, wall, request_id, kind, source, target, name, instance_uuid, detail, duration``.
Lifelines (``source``/``target``) are "client", "identity", "api", "conductor",
"scheduler", "compute:<host>", "image", "network", "volume", "hypervisor:<host>",
"control".
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, TypedDict

from testbed.context import current_context, current_service

__all__ = ["TraceEvent", "Tracer"]


class TraceEvent(TypedDict):
    """One thing that happened, tied to the request that caused it."""

    seq: int
    t: float
    wall: float
    request_id: str
    kind: str
    source: str
    target: str | None
    name: str
    instance_uuid: str | None
    detail: dict[str, Any]
    duration: float | None


class Tracer:
    """Collects trace events in memory, indexed by request id and by instance.

    ``limit`` bounds memory: the oldest events are dropped past it (a long benchmark run
    would otherwise keep millions).
    """

    def __init__(self, now: Callable[[], float], *, limit: int = 200_000) -> None:
        self._now = now
        self._limit = limit
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._events: list[TraceEvent] = []
        self._by_request: dict[str, list[TraceEvent]] = defaultdict(list)
        self._by_instance: dict[str, list[TraceEvent]] = defaultdict(list)
        self._request_instances: dict[str, set[str]] = defaultdict(set)
        self.enabled = True

    def record(
        self,
        kind: str,
        *,
        request_id: str,
        source: str,
        name: str,
        target: str | None = None,
        instance_uuid: str | None = None,
        detail: dict[str, Any] | None = None,
        duration: float | None = None,
    ) -> TraceEvent | None:
        """Add one event; returns it (its ``detail`` may still be filled in)."""
        if not self.enabled:
            return None
        event: TraceEvent = {
            "seq": 0,
            "t": self._now(),
            "wall": time.time(),
            "request_id": request_id,
            "kind": kind,
            "source": source,
            "target": target,
            "name": name,
            "instance_uuid": instance_uuid,
            "detail": detail or {},
            "duration": duration,
        }
        with self._lock:
            event["seq"] = next(self._seq)
            self._events.append(event)
            self._by_request[request_id].append(event)
            if instance_uuid:
                self._by_instance[instance_uuid].append(event)
                self._request_instances[request_id].add(instance_uuid)
            if len(self._events) > self._limit:
                self._trim()
        return event

    def record_here(
        self,
        kind: str,
        *,
        name: str,
        source: str | None = None,
        target: str | None = None,
        instance_uuid: str | None = None,
        detail: dict[str, Any] | None = None,
        duration: float | None = None,
    ) -> TraceEvent | None:
        """:meth:`record` for the request this thread serves (``req-internal`` outside
        one), on the lifeline of the service it runs in unless ``source`` says otherwise."""
        ctx = current_context()
        return self.record(
            kind,
            request_id=ctx.request_id if ctx else "req-internal",
            source=source or current_service(),
            name=name,
            target=target,
            instance_uuid=instance_uuid,
            detail=detail,
            duration=duration,
        )

    def _trim(self) -> None:
        drop = self._events[: len(self._events) // 4]
        del self._events[: len(drop)]
        dropped = {e["seq"] for e in drop}
        for index in (self._by_request, self._by_instance):
            for key in list(index):
                kept = [e for e in index[key] if e["seq"] not in dropped]
                if kept:
                    index[key] = kept
                else:
                    del index[key]

    def for_request(self, request_id: str) -> list[TraceEvent]:
        """Events of one request, in order."""
        with self._lock:
            return list(self._by_request.get(request_id, ()))

    def for_instance(self, instance_uuid: str) -> list[TraceEvent]:
        """Events that touched one instance, in order."""
        with self._lock:
            return list(self._by_instance.get(instance_uuid, ()))

    def since(self, seq: int) -> list[TraceEvent]:
        """Events after sequence number ``seq`` (0 for all kept)."""
        with self._lock:
            return [e for e in self._events if e["seq"] > seq]

    def last_seq(self) -> int:
        """The sequence number of the newest event (0 when empty)."""
        with self._lock:
            return self._events[-1]["seq"] if self._events else 0

    def requests_of(self, events: Iterable[TraceEvent]) -> list[str]:
        """The distinct request ids of ``events``, in first-seen order."""
        return list(dict.fromkeys(e["request_id"] for e in events))

    def clear(self) -> None:
        """Forget every event."""
        with self._lock:
            self._events.clear()
            self._by_request.clear()
            self._by_instance.clear()
            self._request_instances.clear()
