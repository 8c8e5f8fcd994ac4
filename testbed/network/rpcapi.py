"""RPC client of the network service (topic ``network``).

``network_info`` is a list of VIFs: ``{port_id, network_id, network_name, mac_address,
fixed_ips: [{ip_address, subnet_id, version}], host}``.
"""

from __future__ import annotations

from typing import Any

from testbed.context import RequestContext
from testbed.rpc import RpcClient


class NetworkAPI(RpcClient):
    """What compute services ask of the network service."""

    topic = "network"

    def validate_networks(self, ctx: RequestContext, requested_networks: Any) -> None:
        """Check a server create's ``networks`` ("none", "auto", or a list of
        ``{uuid|port|fixed_ip}``) before anything is created; ``BadRequest`` /
        ``NotFound`` with a clear message otherwise."""
        self._call(ctx, "validate_networks", requested_networks=requested_networks)

    def allocate_for_instance(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        project_id: str,
        requested_networks: Any,
        host: str,
        *,
        availability_zone: str | None = None,
    ) -> list[dict[str, Any]]:
        """Create (or bind) the instance's ports, each with a fixed IP; returns network_info.

        ``availability_zone`` (the instance's) makes the ports' ``device_owner``
        ``compute:<az>`` as Nova sets it (``compute:nova`` when not given).  Calling it
        again for an instance that already has ports re-binds them to ``host``."""
        kwargs: dict[str, Any] = {}
        if availability_zone is not None:
            kwargs["availability_zone"] = availability_zone
        result: list[dict[str, Any]] = self._call(
            ctx,
            "allocate_for_instance",
            instance_uuid=instance_uuid,
            project_id=project_id,
            requested_networks=requested_networks,
            host=host,
            **kwargs,
        )
        return result

    def deallocate_for_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Delete the instance's ports (pre-existing ports are unbound instead)."""
        self._call(ctx, "deallocate_for_instance", instance_uuid=instance_uuid)

    def bind_ports_to_host(self, ctx: RequestContext, instance_uuid: str, host: str) -> None:
        """Move the instance's port bindings to ``host`` (migrations, evacuation)."""
        self._call(ctx, "bind_ports_to_host", instance_uuid=instance_uuid, host=host)

    def get_instance_nw_info(self, ctx: RequestContext, instance_uuid: str) -> list[dict[str, Any]]:
        """The instance's current network_info."""
        result: list[dict[str, Any]] = self._call(
            ctx, "get_instance_nw_info", instance_uuid=instance_uuid
        )
        return result
