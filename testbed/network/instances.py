"""What Nova's network API does with Neutron for an instance: check the requested
networks, create or bind its ports, move the bindings, and give them back.

Errors raised for a server create's ``networks`` are worded as Nova words them (they
surface through the compute API as 400/409 there).  "auto" (and no request at all)
picks the project's own network, else a shared one — the test-bed prefers the project's
network where Nova would call a project network plus a shared one ambiguous.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from testbed.context import RequestContext
from testbed.exceptions import BadRequest, CloudError, Conflict, NotFound
from testbed.network import ipam, views
from testbed.network.models import IPAllocation, Network, Port, Subnet
from testbed.network.registry import NetworkRegistry, PortSpec

__all__ = ["InstancePorts", "NetworkRequest"]

_PORTS = cast(Table, Port.__table__)
# Every move rebinds the instance's ports: one statement, no load.
_BIND = (
    update(_PORTS)
    .where(_PORTS.c.device_id == bindparam("instance"), _PORTS.c.host_id != bindparam("host"))
    .values(
        host_id=bindparam("host"),
        revision_number=_PORTS.c.revision_number + 1,
        updated_at=bindparam("now"),
    )
    .execution_options(preserve_rowcount=True)
)


@dataclass(frozen=True)
class NetworkRequest:
    """One NIC asked for: a network (optionally with a fixed IP) or an existing port."""

    network_id: str | None = None
    port_id: str | None = None
    fixed_ip: str | None = None


class InstancePorts:
    """The network side of an instance's life (see :mod:`testbed.network.rpcapi`)."""

    def __init__(self, registry: NetworkRegistry) -> None:
        self.registry = registry
        self._store = registry.runtime.store

    # -- validation -----------------------------------------------------------------------
    def validate(self, ctx: RequestContext, requested: Any) -> None:
        """Raise if a server create's ``networks`` cannot be satisfied."""
        with self._store.session() as s:
            self._resolve(s, ctx, ctx.project_id, requested, instance_uuid=None)

    def _resolve(
        self,
        s: Session,
        ctx: RequestContext,
        project_id: str | None,
        requested: Any,
        *,
        instance_uuid: str | None,
    ) -> list[NetworkRequest]:
        if requested == "none":
            return []
        if requested is None or requested == "auto" or requested == []:
            return self._auto(s, project_id, required=requested == "auto")
        if not isinstance(requested, list):
            raise BadRequest(f"Invalid networks request: {requested!r}")
        return [self._check(s, ctx, item, instance_uuid) for item in requested]

    def _auto(self, s: Session, project_id: str | None, *, required: bool) -> list[NetworkRequest]:
        nets = list(s.scalars(select(Network).order_by(Network.created_at, Network.id)))
        own = [n for n in nets if n.project_id == project_id and not n.shared]
        candidates = own or [n for n in nets if n.shared]
        if not candidates:
            if required:
                raise BadRequest(
                    f"Unable to automatically allocate a network for project {project_id}"
                )
            return []
        if len(candidates) > 1:
            raise Conflict(
                "Multiple possible networks found, use a Network ID to be more specific."
            )
        self._require_subnet(s, candidates[0].id)
        return [NetworkRequest(network_id=candidates[0].id)]

    def _check(
        self, s: Session, ctx: RequestContext, item: Any, instance_uuid: str | None
    ) -> NetworkRequest:
        if not isinstance(item, dict):
            raise BadRequest(f"Invalid network request: {item!r}")
        port_id = item.get("port")
        if port_id:
            return self._check_port(s, ctx, str(port_id), instance_uuid)
        net_id = item.get("uuid") or item.get("network_id")
        if not net_id:
            raise BadRequest(
                f"Bad networks format: network uuid is not in proper format ({net_id!r})"
            )
        try:
            self.registry.load_network(s, ctx, str(net_id))
        except NotFound as exc:
            raise BadRequest(f"Network {net_id} could not be found.") from exc
        self._require_subnet(s, str(net_id))
        fixed_ip = item.get("fixed_ip")
        if fixed_ip:
            self._check_fixed_ip(s, str(net_id), str(fixed_ip))
        return NetworkRequest(network_id=str(net_id), fixed_ip=fixed_ip or None)

    def _check_port(
        self, s: Session, ctx: RequestContext, port_id: str, instance_uuid: str | None
    ) -> NetworkRequest:
        try:
            port = self.registry.load_port(s, ctx, port_id)
        except NotFound as exc:
            raise BadRequest(f"Port id {port_id} could not be found.") from exc
        if port.device_id and port.device_id != instance_uuid:
            raise Conflict(f"Port {port_id} is still in use.")
        if not self.registry.port_ips(s, port_id):
            raise BadRequest(f"Port {port_id} requires a FixedIP in order to be used.")
        return NetworkRequest(network_id=port.network_id, port_id=port_id)

    @staticmethod
    def _require_subnet(s: Session, net_id: str) -> None:
        if s.scalars(select(Subnet.id).where(Subnet.network_id == net_id)).first() is None:
            raise BadRequest(f"Network {net_id} requires a subnet in order to boot instances on.")

    @staticmethod
    def _check_fixed_ip(s: Session, net_id: str, fixed_ip: str) -> None:
        try:
            address = ipam.parse_ip(fixed_ip)
        except CloudError as exc:
            raise BadRequest(f"Invalid fixed IP address ({fixed_ip})") from exc
        subnets = s.scalars(select(Subnet).where(Subnet.network_id == net_id))
        subnet = next((x for x in subnets if address in ipam.parse_cidr(x.cidr, None)), None)
        if subnet is None:
            raise BadRequest(f"Fixed IP address {fixed_ip} is not valid on network {net_id}.")
        taken = s.scalars(
            select(IPAllocation).where(
                IPAllocation.subnet_id == subnet.id, IPAllocation.ip_address == str(address)
            )
        ).first()
        if taken is not None:
            owner = s.get(Port, taken.port_id)
            device = owner.device_id if owner is not None else ""
            raise BadRequest(f"Fixed IP address {fixed_ip} is already in use on instance {device}.")

    # -- allocation -----------------------------------------------------------------------
    def allocate(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        project_id: str,
        requested: Any,
        host: str,
        availability_zone: str | None,
    ) -> list[dict[str, Any]]:
        """Create (or bind) one port per requested NIC, bound to ``host``.

        Calling it again for an instance that has ports only re-binds them (a
        rescheduled build).  On failure the ports made or bound so far are given back.
        """
        if requested == "none":  # no NICs asked for: nothing to create, bind or describe
            return []
        if self._ports_of(instance_uuid):
            self.bind(ctx, instance_uuid, host)
            return self.nw_info(ctx, instance_uuid)
        with self._store.session() as s:
            plan = self._resolve(s, ctx, project_id, requested, instance_uuid=instance_uuid)
        if not plan:  # "none": no ports, nothing to describe
            return []
        owner = f"compute:{availability_zone or 'nova'}"
        try:
            for index, item in enumerate(plan):
                if item.port_id:
                    self._bind_existing(item.port_id, instance_uuid, owner, host, index)
                else:
                    self._create_for(ctx, item, instance_uuid, project_id, owner, host, index)
        except CloudError:
            self.deallocate(ctx, instance_uuid)
            raise
        return self.nw_info(ctx, instance_uuid)

    def _bind_existing(
        self, port_id: str, instance_uuid: str, owner: str, host: str, index: int
    ) -> None:
        with self._store.session() as s:
            port = s.get(Port, port_id)
            if port is None:
                raise BadRequest(f"Port id {port_id} could not be found.")
            if port.device_id and port.device_id != instance_uuid:
                raise Conflict(f"Port {port_id} is still in use.")
            port.device_id, port.device_owner, port.host_id = instance_uuid, owner, host
            port.preserve_on_delete, port.vif_index = True, index
            port.revision_number += 1

    def _create_for(
        self,
        ctx: RequestContext,
        item: NetworkRequest,
        instance_uuid: str,
        project_id: str,
        owner: str,
        host: str,
        index: int,
    ) -> None:
        spec: PortSpec = {
            "network_id": item.network_id,
            "project_id": project_id,
            "device_id": instance_uuid,
            "device_owner": owner,
            "host_id": host,
            "fixed_ips": [{"ip_address": item.fixed_ip}] if item.fixed_ip else None,
            "preserve_on_delete": False,
            "vif_index": index,
        }
        self.registry.transaction(lambda s: self.registry.add_port(s, ctx.elevated(), spec).id)

    def deallocate(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Delete the ports made for the instance; unbind the ones the user brought."""
        with self._store.session() as s:
            for port in s.scalars(select(Port).where(Port.device_id == instance_uuid)):
                if port.preserve_on_delete:
                    port.device_id, port.device_owner, port.host_id = "", "", ""
                    port.vif_index = 0
                    port.revision_number += 1
                    continue
                for ip in self.registry.port_ips(s, port.id):
                    s.delete(ip)
                s.delete(port)

    def bind(self, ctx: RequestContext, instance_uuid: str, host: str) -> None:
        """Point every port of the instance at ``host``."""
        now = self.registry.runtime.clock.now()
        params = {"instance": instance_uuid, "host": host, "now": now}
        with self._store.transaction() as connection:
            if connection.execute(_BIND, params).rowcount:
                self._store.trace_write("UPDATE", "ports", instance_uuid=instance_uuid)

    def nw_info(self, ctx: RequestContext, instance_uuid: str) -> list[dict[str, Any]]:
        """The instance's VIFs, in the order they were requested."""
        with self._store.session() as s:
            ports = s.scalars(
                select(Port)
                .where(Port.device_id == instance_uuid)
                .order_by(Port.vif_index, Port.created_at, Port.id)
            )
            result = []
            for port in ports:
                net = s.get(Network, port.network_id)
                result.append(
                    views.vif(port, self.registry.port_ips(s, port.id), net.name if net else "")
                )
            return result

    def _ports_of(self, instance_uuid: str) -> list[str]:
        with self._store.session() as s:
            return list(s.scalars(select(Port.id).where(Port.device_id == instance_uuid)))
