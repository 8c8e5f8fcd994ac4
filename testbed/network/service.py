"""The network service on the bus (topic ``network``): what compute services ask of
Neutron, through Nova's network API calls."""

from __future__ import annotations

from typing import Any

from testbed.context import RequestContext
from testbed.network.instances import InstancePorts
from testbed.network.registry import NetworkRegistry
from testbed.service import Runtime, Service

__all__ = ["NetworkEndpoint", "NetworkService"]


class NetworkEndpoint:
    """RPC methods of the network service (see :class:`testbed.network.rpcapi.NetworkAPI`)."""

    def __init__(self, ports: InstancePorts) -> None:
        self._ports = ports

    def validate_networks(self, ctx: RequestContext, requested_networks: Any) -> None:
        """Check a server create's ``networks`` before anything is made."""
        self._ports.validate(ctx, requested_networks)

    def allocate_for_instance(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        project_id: str,
        requested_networks: Any,
        host: str,
        availability_zone: str | None = None,
    ) -> list[dict[str, Any]]:
        """Create (or bind) the instance's ports; returns its network_info."""
        return self._ports.allocate(
            ctx, instance_uuid, project_id, requested_networks, host, availability_zone
        )

    def deallocate_for_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Delete the instance's ports (unbind the pre-existing ones)."""
        self._ports.deallocate(ctx, instance_uuid)

    def bind_ports_to_host(self, ctx: RequestContext, instance_uuid: str, host: str) -> None:
        """Move the instance's port bindings to ``host``."""
        self._ports.bind(ctx, instance_uuid, host)

    def get_instance_nw_info(self, ctx: RequestContext, instance_uuid: str) -> list[dict[str, Any]]:
        """The instance's network_info."""
        return self._ports.nw_info(ctx, instance_uuid)


class NetworkService(Service):
    """Neutron: serves the ``network`` topic."""

    binary = "neutron-server"

    def __init__(self, runtime: Runtime, *, host: str = "controller") -> None:
        super().__init__(runtime, host=host)
        self.registry = NetworkRegistry(runtime)

    @property
    def topic(self) -> str:
        return "network"

    def endpoint(self) -> object:
        return NetworkEndpoint(InstancePorts(self.registry))
