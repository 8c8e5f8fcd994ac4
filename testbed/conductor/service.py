"""The conductor service (topic ``conductor``, binary ``nova-conductor``)."""

from __future__ import annotations

from collections.abc import Callable

from testbed.compute.servicegroup import CONDUCTOR_BINARY, ReportingService
from testbed.conductor.manager import ConductorManager
from testbed.ha.engine import HAEngine
from testbed.service import Runtime

__all__ = ["ConductorService"]


class ConductorService(ReportingService):
    """Serves ``build_instances`` and ``reschedule_instance``; heartbeats."""

    binary = CONDUCTOR_BINARY

    def __init__(self, runtime: Runtime, *, host: str = "controller") -> None:
        super().__init__(runtime, host=host)
        self.manager = ConductorManager(runtime, host)
        #: the HA engine (testbed/ha/engine.py): idle unless enabled
        self.ha_engine = HAEngine(runtime)

    def periodic_tasks(self) -> list[tuple[float, Callable[[], None]]]:
        """Heartbeat; the HA engine's ``ha_check``."""
        return [
            *super().periodic_tasks(),
            (self.runtime.config.ha_check_interval, self.ha_engine.ha_check),
        ]

    @property
    def topic(self) -> str:
        """``conductor``."""
        return "conductor"

    def endpoint(self) -> object:
        """The :class:`ConductorManager`."""
        return self.manager
