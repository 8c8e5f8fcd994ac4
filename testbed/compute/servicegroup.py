"""Service records and heartbeats (Nova's servicegroup, database driver).

Every service (nova-compute on each host, nova-conductor, nova-scheduler) has a row in
``services``.  A heartbeat sets ``last_seen_up`` to the clock's time and counts
``report_count``; a service is *up* when its last heartbeat is at most
``service_down_time`` old and an operator has not forced it down.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from testbed.compute.models import Service
from testbed.service import Runtime
from testbed.service import Service as BaseService
from testbed.store.db import Store

__all__ = [
    "COMPUTE_BINARY",
    "CONDUCTOR_BINARY",
    "SCHEDULER_BINARY",
    "ReportingService",
    "heartbeat",
    "register_service",
    "service_is_up",
]

COMPUTE_BINARY = "nova-compute"
CONDUCTOR_BINARY = "nova-conductor"
SCHEDULER_BINARY = "nova-scheduler"


def service_is_up(
    forced_down: bool | None, last_seen_up: float | None, now: float, down_time: float
) -> bool:
    """Nova's rule: not forced down and a heartbeat within ``down_time`` seconds."""
    if forced_down or last_seen_up is None:
        return False
    return now - last_seen_up <= down_time


def register_service(
    store: Store, *, host: str, binary: str, topic: str, availability_zone: str, now: float
) -> int:
    """Create or refresh the service's row (counts as a heartbeat); returns its id."""
    with store.session() as session:
        row = session.execute(
            select(Service).where(Service.host == host, Service.binary == binary)
        ).scalar_one_or_none()
        if row is None:
            row = Service(host=host, binary=binary, topic=topic, report_count=0)
            session.add(row)
        row.topic = topic
        row.availability_zone = availability_zone
        row.last_seen_up = now
        row.report_count = (row.report_count or 0) + 1
        session.flush()
        return row.id


def heartbeat(store: Store, service_id: int, now: float) -> None:
    """Record that the service is alive at ``now``."""
    with store.session() as session:
        row = session.get(Service, service_id)
        if row is not None:
            row.last_seen_up = now
            row.report_count = (row.report_count or 0) + 1


class ReportingService(BaseService):
    """A service that keeps its ``services`` row alive with heartbeats.

    On :meth:`start` it registers (or refreshes) its row and then heartbeats every
    ``Config.report_interval`` clock seconds; :meth:`stop` ends the heartbeats, so the
    service goes *down* after ``service_down_time``, as a crashed one would.
    :meth:`run_periodic_tasks` runs every periodic task once, now (for the control API).
    """

    availability_zone: str = "internal"

    def __init__(self, runtime: Runtime, *, host: str = "controller") -> None:
        super().__init__(runtime, host=host)
        self.service_id: int | None = None

    def start(self) -> None:
        """Register the service row, then join the bus and start the periodic tasks."""
        self.service_id = register_service(
            self.runtime.store,
            host=self.host,
            binary=self.binary,
            topic=self.topic,
            availability_zone=self.availability_zone,
            now=self.runtime.clock.now(),
        )
        super().start()

    def periodic_tasks(self) -> list[tuple[float, Callable[[], None]]]:
        """The heartbeat; subclasses add theirs."""
        return [(self.runtime.config.report_interval, self.report_state)]

    def report_state(self) -> None:
        """One heartbeat: ``last_seen_up`` = now, ``report_count`` + 1."""
        if self.service_id is not None:
            heartbeat(self.runtime.store, self.service_id, self.runtime.clock.now())

    def run_periodic_tasks(self, task: str | None = None) -> list[str]:
        """Run every periodic task (or the one named ``task``) once, in the calling
        thread; returns the names of those that ran (``report_state``,
        ``update_available_resource``...)."""
        ran = []
        for _interval, fn in self.periodic_tasks():
            name = getattr(fn, "__name__", repr(fn))
            if task is None or task == name:
                fn()
                ran.append(name)
        return ran
