"""The network registry: Neutron's rules for networks, subnets and ports, on the store.

Both the HTTP API and the RPC endpoint (through :mod:`testbed.network.instances`) go
through :class:`NetworkRegistry`; it returns dicts in the Network API's representation.

Visibility as Neutron's default policy: admins see everything; a project sees its own
networks and the shared (or external) ones, the subnets of those networks, its own ports
and the ports on networks it owns.  Changing or deleting needs ownership (or admin).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from testbed.context import RequestContext
from testbed.exceptions import Conflict
from testbed.network import ipam, views
from testbed.network.attributes import accept, as_bool, check_owner
from testbed.network.errors import (
    InvalidInput,
    IpAddressGenerationFailure,
    NetworkInUse,
    NetworkNotFound,
    PolicyNotAuthorized,
    PortNotFound,
    SubnetInUse,
    SubnetNotFound,
)
from testbed.network.models import IPAllocation, Network, Port, Subnet
from testbed.service import Runtime
from testbed.store.base import new_uuid

__all__ = ["NetworkRegistry", "PortSpec"]

T = TypeVar("T")
_RETRIES = 8

PortSpec = dict[str, Any]


def net_visible(net: Network, ctx: RequestContext) -> bool:
    """Whether ``ctx`` may see (and use) ``net``."""
    return ctx.is_admin or net.shared or net.router_external or net.project_id == ctx.project_id


def _owns(obj: Network | Subnet | Port, ctx: RequestContext) -> bool:
    return ctx.is_admin or (obj.project_id is not None and obj.project_id == ctx.project_id)


def random_mac() -> str:
    """An OpenStack-style MAC address (``fa:16:3e`` prefix)."""
    tail = secrets.token_bytes(3)
    return "fa:16:3e:" + ":".join(f"{b:02x}" for b in tail)


class NetworkRegistry:
    """Neutron's network, subnet and port operations on the store."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    # -- plumbing -------------------------------------------------------------------------
    def transaction(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one transaction, retried when a unique constraint (an IP or a
        MAC taken concurrently) rejects it."""
        for _ in range(_RETRIES):
            try:
                with self.runtime.store.session() as s:
                    return work(s)
            except IntegrityError:
                continue
        raise Conflict("The request kept colliding with concurrent changes; try again.")

    @staticmethod
    def load_network(s: Session, ctx: RequestContext, net_id: str) -> Network:
        """The network, or ``NetworkNotFound`` when missing or not visible."""
        net = s.get(Network, net_id)
        if net is None or not net_visible(net, ctx):
            raise NetworkNotFound(net_id=net_id)
        return net

    @staticmethod
    def load_subnet(s: Session, ctx: RequestContext, subnet_id: str) -> Subnet:
        """The subnet, or ``SubnetNotFound`` when missing or not visible."""
        sub = s.get(Subnet, subnet_id)
        net = s.get(Network, sub.network_id) if sub is not None else None
        if sub is None or net is None or not net_visible(net, ctx):
            raise SubnetNotFound(subnet_id=subnet_id)
        return sub

    @staticmethod
    def load_port(s: Session, ctx: RequestContext, port_id: str) -> Port:
        """The port, or ``PortNotFound`` when missing or not visible."""
        port = s.get(Port, port_id)
        if port is None:
            raise PortNotFound(port_id=port_id)
        if not _owns(port, ctx):
            net = s.get(Network, port.network_id)
            if net is None or net.project_id != ctx.project_id:
                raise PortNotFound(port_id=port_id)
        return port

    @staticmethod
    def subnet_ids(s: Session, net_id: str) -> list[str]:
        """The network's subnets, oldest first."""
        rows = s.scalars(
            select(Subnet).where(Subnet.network_id == net_id).order_by(Subnet.created_at, Subnet.id)
        )
        return [r.id for r in rows]

    @staticmethod
    def port_ips(s: Session, port_id: str) -> list[IPAllocation]:
        """The port's addresses, in allocation order."""
        return list(
            s.scalars(
                select(IPAllocation)
                .where(IPAllocation.port_id == port_id)
                .order_by(IPAllocation.id)
            )
        )

    def render_port(self, s: Session, port: Port, ctx: RequestContext) -> dict[str, Any]:
        """The API body of ``port``."""
        return views.port(port, self.port_ips(s, port.id), admin=ctx.is_admin)

    # -- networks -------------------------------------------------------------------------
    def list_networks(self, ctx: RequestContext) -> list[dict[str, Any]]:
        """Every network visible to ``ctx``, by id (as Neutron lists them)."""
        with self.runtime.store.session() as s:
            nets = s.scalars(select(Network).order_by(Network.id))
            return [views.network(n, self.subnet_ids(s, n.id)) for n in nets if net_visible(n, ctx)]

    def get_network(self, ctx: RequestContext, net_id: str) -> dict[str, Any]:
        """One network."""
        with self.runtime.store.session() as s:
            net = self.load_network(s, ctx, net_id)
            return views.network(net, self.subnet_ids(s, net.id))

    def create_network(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /v2.0/networks``."""
        attrs = accept("network", body, create=True)
        owner = check_owner(ctx, attrs)
        shared = as_bool(attrs.get("shared", False), "shared")
        external = as_bool(attrs.get("router:external", False), "router:external")
        if (shared or external) and not ctx.is_admin:
            rule = "create_network:shared" if shared else "create_network:router:external"
            raise PolicyNotAuthorized(action=rule)
        net = Network(
            id=new_uuid(),
            name=str(attrs.get("name", "")),
            description=str(attrs.get("description", "")),
            project_id=owner,
            shared=shared,
            router_external=external,
            admin_state_up=as_bool(attrs.get("admin_state_up", True), "admin_state_up"),
            mtu=_mtu(attrs.get("mtu", 1500)),
        )
        with self.runtime.store.session() as s:
            s.add(net)
            s.flush()
            return views.network(net, [])

    def update_network(
        self, ctx: RequestContext, net_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """``PUT /v2.0/networks/{id}``."""
        attrs = accept("network", body, create=False)
        with self.runtime.store.session() as s:
            net = self.load_network(s, ctx, net_id)
            if not _owns(net, ctx):
                raise PolicyNotAuthorized(action="update_network")
            for key in ("shared", "router:external"):
                if key in attrs and not ctx.is_admin:
                    raise PolicyNotAuthorized(action=f"update_network:{key}")
            if "name" in attrs:
                net.name = str(attrs["name"])
            if "description" in attrs:
                net.description = str(attrs["description"])
            if "admin_state_up" in attrs:
                net.admin_state_up = as_bool(attrs["admin_state_up"], "admin_state_up")
            if "shared" in attrs:
                net.shared = as_bool(attrs["shared"], "shared")
            if "router:external" in attrs:
                net.router_external = as_bool(attrs["router:external"], "router:external")
            if "mtu" in attrs:
                net.mtu = _mtu(attrs["mtu"])
            net.revision_number += 1
            s.flush()
            return views.network(net, self.subnet_ids(s, net.id))

    def delete_network(self, ctx: RequestContext, net_id: str) -> None:
        """``DELETE /v2.0/networks/{id}``: refused while ports are in use on it."""
        with self.runtime.store.session() as s:
            net = self.load_network(s, ctx, net_id)
            if not _owns(net, ctx):
                raise PolicyNotAuthorized(action="delete_network")
            ports = list(s.scalars(select(Port).where(Port.network_id == net_id)))
            if any(not p.device_owner.startswith("network:") for p in ports):
                raise NetworkInUse(net_id=net_id)
            for port in ports:
                s.delete(port)
            for ip in s.scalars(select(IPAllocation).where(IPAllocation.network_id == net_id)):
                s.delete(ip)
            for sub in s.scalars(select(Subnet).where(Subnet.network_id == net_id)):
                s.delete(sub)
            s.flush()
            s.delete(net)

    # -- subnets --------------------------------------------------------------------------
    def list_subnets(self, ctx: RequestContext) -> list[dict[str, Any]]:
        """Every subnet of a network visible to ``ctx``, by id."""
        with self.runtime.store.session() as s:
            visible = {n.id for n in s.scalars(select(Network)) if net_visible(n, ctx)}
            subs = s.scalars(select(Subnet).order_by(Subnet.id))
            return [views.subnet(sub) for sub in subs if sub.network_id in visible]

    def get_subnet(self, ctx: RequestContext, subnet_id: str) -> dict[str, Any]:
        """One subnet."""
        with self.runtime.store.session() as s:
            return views.subnet(self.load_subnet(s, ctx, subnet_id))

    def create_subnet(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /v2.0/subnets``: the gateway defaults to the first host address and the
        pools to the rest of the range."""
        attrs = accept("subnet", body, create=True)
        owner = check_owner(ctx, attrs)
        net_addr, gateway, pools = ipam.subnet_layout(attrs)
        sub = Subnet(
            id=new_uuid(),
            network_id=str(attrs.get("network_id")),
            name=str(attrs.get("name", "")),
            description=str(attrs.get("description", "")),
            project_id=owner,
            ip_version=net_addr.version,
            cidr=str(net_addr),
            gateway_ip=gateway,
            allocation_pools=pools,
            enable_dhcp=as_bool(attrs.get("enable_dhcp", True), "enable_dhcp"),
            dns_nameservers=list(attrs.get("dns_nameservers") or []),
            host_routes=list(attrs.get("host_routes") or []),
        )
        with self.runtime.store.session() as s:
            net = self.load_network(s, ctx, sub.network_id)
            if not _owns(net, ctx):
                raise PolicyNotAuthorized(action="create_subnet")
            sub.project_id = sub.project_id or net.project_id
            for other in s.scalars(select(Subnet).where(Subnet.network_id == net.id)):
                if ipam.parse_cidr(other.cidr, None).overlaps(net_addr):
                    raise InvalidInput(
                        error_message=f"Requested subnet with cidr: {sub.cidr} for network: "
                        f"{net.id} overlaps with another subnet"
                    )
            s.add(sub)
            net.revision_number += 1
            s.flush()
            return views.subnet(sub)

    def update_subnet(
        self, ctx: RequestContext, subnet_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """``PUT /v2.0/subnets/{id}`` (name, description, DHCP, DNS, routes)."""
        attrs = accept("subnet", body, create=False)
        with self.runtime.store.session() as s:
            sub = self.load_subnet(s, ctx, subnet_id)
            if not _owns(sub, ctx):
                raise PolicyNotAuthorized(action="update_subnet")
            if "name" in attrs:
                sub.name = str(attrs["name"])
            if "description" in attrs:
                sub.description = str(attrs["description"])
            if "enable_dhcp" in attrs:
                sub.enable_dhcp = as_bool(attrs["enable_dhcp"], "enable_dhcp")
            if "dns_nameservers" in attrs:
                sub.dns_nameservers = list(attrs["dns_nameservers"] or [])
            if "host_routes" in attrs:
                sub.host_routes = list(attrs["host_routes"] or [])
            sub.revision_number += 1
            s.flush()
            return views.subnet(sub)

    def delete_subnet(self, ctx: RequestContext, subnet_id: str) -> None:
        """``DELETE /v2.0/subnets/{id}``: refused while ports hold addresses from it."""
        with self.runtime.store.session() as s:
            sub = self.load_subnet(s, ctx, subnet_id)
            if not _owns(sub, ctx):
                raise PolicyNotAuthorized(action="delete_subnet")
            held = s.scalars(select(IPAllocation).where(IPAllocation.subnet_id == subnet_id))
            if any(True for _ in held):
                raise SubnetInUse(subnet_id=subnet_id)
            s.delete(sub)

    # -- ports ----------------------------------------------------------------------------
    def list_ports(self, ctx: RequestContext) -> list[dict[str, Any]]:
        """Every port visible to ``ctx``, by id."""
        with self.runtime.store.session() as s:
            owned_nets = {
                n.id for n in s.scalars(select(Network)) if n.project_id == ctx.project_id
            }
            ports = s.scalars(select(Port).order_by(Port.id))
            return [
                self.render_port(s, p, ctx)
                for p in ports
                if _owns(p, ctx) or p.network_id in owned_nets
            ]

    def get_port(self, ctx: RequestContext, port_id: str) -> dict[str, Any]:
        """One port."""
        with self.runtime.store.session() as s:
            return self.render_port(s, self.load_port(s, ctx, port_id), ctx)

    def create_port(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /v2.0/ports``: the port gets an address from the network's subnets
        (or the ``fixed_ips`` asked for)."""
        attrs = accept("port", body, create=True)
        owner = check_owner(ctx, attrs)
        for key in ("binding:host_id", "binding:profile"):
            if key in attrs and not ctx.is_admin:
                raise PolicyNotAuthorized(action=f"create_port:{key}")
        spec: PortSpec = {
            "network_id": str(attrs.get("network_id")),
            "project_id": owner,
            "name": str(attrs.get("name", "")),
            "description": str(attrs.get("description", "")),
            "admin_state_up": as_bool(attrs.get("admin_state_up", True), "admin_state_up"),
            "mac_address": attrs.get("mac_address"),
            "device_id": str(attrs.get("device_id", "")),
            "device_owner": str(attrs.get("device_owner", "")),
            "host_id": str(attrs.get("binding:host_id", "")),
            "vnic_type": str(attrs.get("binding:vnic_type", "normal")),
            "binding_profile": dict(attrs.get("binding:profile") or {}),
            "fixed_ips": attrs.get("fixed_ips"),
            "preserve_on_delete": True,
        }

        def work(s: Session) -> dict[str, Any]:
            return self.render_port(s, self.add_port(s, ctx, spec), ctx)

        return self.transaction(work)

    def add_port(self, s: Session, ctx: RequestContext, spec: PortSpec) -> Port:
        """Insert a port from ``spec`` (the :meth:`create_port` keys) with its
        addresses; inside the caller's transaction."""
        net = self.load_network(s, ctx, spec["network_id"])
        port = Port(
            id=new_uuid(),
            network_id=net.id,
            project_id=spec.get("project_id") or ctx.project_id,
            name=spec.get("name", ""),
            description=spec.get("description", ""),
            admin_state_up=spec.get("admin_state_up", True),
            mac_address=spec.get("mac_address") or random_mac(),
            device_id=spec.get("device_id", ""),
            device_owner=spec.get("device_owner", ""),
            host_id=spec.get("host_id", ""),
            vnic_type=spec.get("vnic_type", "normal"),
            binding_profile=spec.get("binding_profile", {}),
            preserve_on_delete=spec.get("preserve_on_delete", True),
            vif_index=spec.get("vif_index", 0),
        )
        s.add(port)
        s.flush()
        self._assign_addresses(s, ctx, net, port, spec.get("fixed_ips"))
        return port

    def _assign_addresses(
        self, s: Session, ctx: RequestContext, net: Network, port: Port, fixed_ips: Any
    ) -> None:
        subnets = [s.get(Subnet, sid) for sid in self.subnet_ids(s, net.id)]
        if fixed_ips is None:
            if not subnets:
                return
            ordered = sorted((x for x in subnets if x is not None), key=lambda x: x.ip_version)
            for sub in ordered:
                if ipam.take_address(s, sub, port.id) is not None:
                    return
            raise IpAddressGenerationFailure(net_id=net.id)
        if not isinstance(fixed_ips, list):
            raise InvalidInput(
                error_message="Invalid data format for fixed IP: 'fixed_ips' must be a list"
            )
        for entry in fixed_ips:
            sub = self._subnet_for(s, ctx, net, entry)
            if ipam.take_address(s, sub, port.id, entry.get("ip_address")) is None:
                raise IpAddressGenerationFailure(net_id=net.id)

    def _subnet_for(self, s: Session, ctx: RequestContext, net: Network, entry: Any) -> Subnet:
        if not isinstance(entry, dict) or not ({"subnet_id", "ip_address"} & entry.keys()):
            raise InvalidInput(error_message=f"Invalid data format for fixed IP: '{entry}'")
        if "subnet_id" in entry:
            sub = self.load_subnet(s, ctx, str(entry["subnet_id"]))
            if sub.network_id != net.id:
                raise InvalidInput(
                    error_message=f"Failed to create port on network {net.id}, "
                    f"because fixed_ips included invalid subnet {sub.id}"
                )
            return sub
        address = ipam.parse_ip(entry["ip_address"])
        for sid in self.subnet_ids(s, net.id):
            candidate = s.get(Subnet, sid)
            if candidate is not None and address in ipam.parse_cidr(candidate.cidr, None):
                return candidate
        raise InvalidInput(
            error_message=f"IP address {address} is not a valid IP for any of "
            f"the subnets on network {net.id}"
        )

    def update_port(
        self, ctx: RequestContext, port_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """``PUT /v2.0/ports/{id}`` (name, description, admin state, device, binding)."""
        attrs = accept("port", body, create=False)
        for key in ("binding:host_id", "binding:profile"):
            if key in attrs and not ctx.is_admin:
                raise PolicyNotAuthorized(action=f"update_port:{key}")
        with self.runtime.store.session() as s:
            port = self.load_port(s, ctx, port_id)
            if not _owns(port, ctx):
                raise PolicyNotAuthorized(action="update_port")
            simple = {
                "name": "name",
                "description": "description",
                "device_id": "device_id",
                "device_owner": "device_owner",
                "binding:host_id": "host_id",
                "binding:vnic_type": "vnic_type",
            }
            for key, column in simple.items():
                if key in attrs:
                    setattr(port, column, str(attrs[key] or ""))
            if "admin_state_up" in attrs:
                port.admin_state_up = as_bool(attrs["admin_state_up"], "admin_state_up")
            if "binding:profile" in attrs:
                port.binding_profile = dict(attrs["binding:profile"] or {})
            port.revision_number += 1
            s.flush()
            return self.render_port(s, port, ctx)

    def delete_port(self, ctx: RequestContext, port_id: str) -> None:
        """``DELETE /v2.0/ports/{id}``: its addresses go back to the pools."""
        with self.runtime.store.session() as s:
            port = self.load_port(s, ctx, port_id)
            if not _owns(port, ctx) and not ctx.is_admin:
                net = s.get(Network, port.network_id)
                if net is None or net.project_id != ctx.project_id:
                    raise PolicyNotAuthorized(action="delete_port")
            for ip in self.port_ips(s, port.id):
                s.delete(ip)
            s.delete(port)


def _mtu(value: Any) -> int:
    try:
        mtu = int(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(error_message=f"'{value}' is not an integer") from exc
    if mtu < 68:
        raise InvalidInput(error_message=f"'{mtu}' is too small - must be at least '68'")
    return mtu
