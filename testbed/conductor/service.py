"""The conductor service (topic ``conductor``, binary ``nova-conductor``)."""

from __future__ import annotations

from testbed.compute.servicegroup import CONDUCTOR_BINARY, ReportingService
from testbed.conductor.manager import ConductorManager
from testbed.service import Runtime

__all__ = ["ConductorService"]


class ConductorService(ReportingService):
    """Serves ``build_instances`` and ``reschedule_instance``; heartbeats."""

    binary = CONDUCTOR_BINARY

    def __init__(self, runtime: Runtime, *, host: str = "controller") -> None:
        super().__init__(runtime, host=host)
        self.manager = ConductorManager(runtime, host)

    @property
    def topic(self) -> str:
        """``conductor``."""
        return "conductor"

    def endpoint(self) -> object:
        """The :class:`ConductorManager`."""
        return self.manager
