"""The compute service of one host (topic ``compute.<host>``, binary ``nova-compute``).

On :meth:`ComputeService.start`: connect the driver to the host's hypervisor, register
the host's compute node (capacity from the driver, allocation ratios from the
configuration) and its service row, then serve the topic and run the periodic tasks on
the clock: the heartbeat every ``report_interval`` and the resource update every
``update_resources_interval``.  :meth:`stop` leaves the bus and ends the heartbeats, as
a crashed host does; the guests keep running on the hypervisor.
"""

from __future__ import annotations

from collections.abc import Callable

from testbed.compute.manager import ComputeManager
from testbed.compute.resources import update_compute_node
from testbed.compute.rpcapi import compute_topic
from testbed.compute.servicegroup import COMPUTE_BINARY, ReportingService
from testbed.service import Runtime
from testbed.virt.backend import HostSpec
from testbed.virt.driver import ComputeDriver

__all__ = ["ComputeService"]


class ComputeService(ReportingService):
    """nova-compute on ``host``.

    ``availability_zone`` defaults to the host's entry in the topology (through
    ``runtime.virt.host_spec``), else ``nova``; ``driver`` defaults to the libvirt driver
    on ``runtime.virt``.
    """

    binary = COMPUTE_BINARY

    def __init__(
        self,
        runtime: Runtime,
        host: str,
        *,
        availability_zone: str | None = None,
        driver: ComputeDriver | None = None,
    ) -> None:
        super().__init__(runtime, host=host)
        if driver is None:
            from testbed.virt.libvirt.driver import LibvirtDriver

            driver = LibvirtDriver(runtime, host)
        self.driver = driver
        self.shared_storage: str | None = None
        spec = self._host_spec()
        if availability_zone is None:
            availability_zone = spec.availability_zone if spec else "nova"
        if spec is not None:
            self.shared_storage = spec.shared_storage
        self.availability_zone = availability_zone
        self.manager = ComputeManager(runtime, host, driver, availability_zone=availability_zone)
        self.node_uuid: str | None = None

    @property
    def topic(self) -> str:
        """``compute.<host>``."""
        return compute_topic(self.host)

    @property
    def lifeline(self) -> str:
        """``compute:<host>``."""
        return f"compute:{self.host}"

    def endpoint(self) -> object:
        """The :class:`ComputeManager`."""
        return self.manager

    def start(self) -> None:
        """Connect the driver, register the node, then serve and heartbeat."""
        self.driver.init_host()
        self.update_available_resource()
        self.manager.init_host()
        super().start()

    def stop(self) -> None:
        """Leave the bus, end the periodic tasks and the lifecycle events."""
        super().stop()
        self.driver.unregister_lifecycle_handler()

    def periodic_tasks(self) -> list[tuple[float, Callable[[], None]]]:
        """Heartbeat and resource update; power-state sync and the clean-up of guests of
        deleted instances (testbed/compute/power_sync.py, drift.py)."""
        config = self.runtime.config
        return [
            *super().periodic_tasks(),
            (config.update_resources_interval, self.update_available_resource),
            (config.sync_power_state_interval, self.manager.power_sync.sync_power_states),
            (
                config.running_deleted_instance_poll_interval,
                self.manager.drift.cleanup_running_deleted_instances,
            ),
            # auto-confirm of resizes (testbed/compute/migrate.py)
            (config.resize_confirm_window or 60.0, self.manager._poll_unconfirmed_resizes),
        ]

    def update_available_resource(self) -> None:
        """Refresh the compute node row from the driver and the allocations."""
        self.node_uuid = update_compute_node(
            self.runtime,
            self.host,
            self.driver.get_available_resource(),
            shared_storage=self.shared_storage,
        )

    def _host_spec(self) -> HostSpec | None:
        virt = self.runtime.virt
        if virt is None:
            return None
        try:
            spec: HostSpec = virt.host_spec(self.host)
            return spec
        except KeyError:
            return None
