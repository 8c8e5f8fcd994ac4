"""The scheduler service (topic ``scheduler``, binary ``nova-scheduler``)."""

from __future__ import annotations

from testbed.compute.servicegroup import SCHEDULER_BINARY, ReportingService
from testbed.scheduler.manager import SchedulerManager
from testbed.service import Runtime

__all__ = ["SchedulerService"]


class SchedulerService(ReportingService):
    """Serves ``select_destinations``; heartbeats like every service."""

    binary = SCHEDULER_BINARY

    def __init__(self, runtime: Runtime, *, host: str = "controller") -> None:
        super().__init__(runtime, host=host)
        self.manager = SchedulerManager(runtime)

    @property
    def topic(self) -> str:
        """``scheduler``."""
        return "scheduler"

    def endpoint(self) -> object:
        """The :class:`SchedulerManager`."""
        return self.manager
