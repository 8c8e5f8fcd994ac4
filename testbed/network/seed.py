"""Seed the network service from a topology file's ``networks`` section."""

from __future__ import annotations

from typing import Any

from testbed.network import ipam
from testbed.network.models import Network, Subnet
from testbed.service import Runtime
from testbed.store.base import new_uuid

__all__ = ["seed_network"]


def seed_network(runtime: Runtime, networks: list[dict[str, Any]]) -> None:
    """Insert each network with its subnets.

    An entry is ``{id, name, project_id (resolved by the caller) or shared: true,
    router:external, mtu, subnets: [{id, name, cidr, ip_version, gateway_ip,
    allocation_pools, enable_dhcp, dns_nameservers}]}``; gateway and pools default as
    Neutron's do.  Seeding is idempotent: a network whose id exists is left as it is.
    """
    for spec in networks or []:
        _seed_one(runtime, spec)


def _seed_one(runtime: Runtime, spec: dict[str, Any]) -> None:
    net_id = str(spec.get("id") or new_uuid())
    owner = spec.get("project_id") or spec.get("project")
    subnets = []
    for sub in spec.get("subnets") or []:
        net_addr, gateway, pools = ipam.subnet_layout(dict(sub))
        subnets.append(
            Subnet(
                id=str(sub.get("id") or new_uuid()),
                network_id=net_id,
                name=str(sub.get("name", "")),
                project_id=owner,
                ip_version=net_addr.version,
                cidr=str(net_addr),
                gateway_ip=gateway,
                allocation_pools=pools,
                enable_dhcp=bool(sub.get("enable_dhcp", True)),
                dns_nameservers=list(sub.get("dns_nameservers") or []),
            )
        )
    with runtime.store.session() as s:
        if s.get(Network, net_id) is not None:
            return
        s.add(
            Network(
                id=net_id,
                name=str(spec.get("name", "")),
                project_id=owner,
                shared=bool(spec.get("shared", False)),
                router_external=bool(spec.get("router:external", False)),
                mtu=int(spec.get("mtu", 1500)),
                description=str(spec.get("description", "")),
            )
        )
        s.flush()
        s.add_all(subnets)
