"""How the Network API v2.0 shows networks, subnets and ports (Neutron's bodies)."""

from __future__ import annotations

import time
from typing import Any

from testbed.network.models import IPAllocation, Network, Port, Subnet

__all__ = ["isotime", "network", "port", "subnet", "vif"]


def isotime(seconds: float | None) -> str | None:
    """Neutron's timestamp form: ``2026-01-01T00:00:00Z``."""
    if seconds is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _common(obj: Network | Subnet | Port) -> dict[str, Any]:
    return {
        "id": obj.id,
        "name": obj.name,
        "tenant_id": obj.project_id or "",
        "project_id": obj.project_id or "",
        "description": obj.description,
        "tags": [],
        "created_at": isotime(obj.created_at),
        "updated_at": isotime(obj.updated_at if obj.updated_at is not None else obj.created_at),
        "revision_number": obj.revision_number,
    }


def network(net: Network, subnet_ids: list[str]) -> dict[str, Any]:
    """A network as ``GET /v2.0/networks/{id}`` returns it."""
    return {
        **_common(net),
        "admin_state_up": net.admin_state_up,
        "status": net.status,
        "shared": net.shared,
        "router:external": net.router_external,
        "subnets": subnet_ids,
        "mtu": net.mtu,
        "availability_zone_hints": [],
        "availability_zones": ["nova"],
        "ipv4_address_scope": None,
        "ipv6_address_scope": None,
        "port_security_enabled": True,
        "l2_adjacency": True,
        "is_default": False,
    }


def subnet(sub: Subnet) -> dict[str, Any]:
    """A subnet as ``GET /v2.0/subnets/{id}`` returns it."""
    return {
        **_common(sub),
        "network_id": sub.network_id,
        "ip_version": sub.ip_version,
        "cidr": sub.cidr,
        "gateway_ip": sub.gateway_ip,
        "allocation_pools": list(sub.allocation_pools or []),
        "enable_dhcp": sub.enable_dhcp,
        "dns_nameservers": list(sub.dns_nameservers or []),
        "host_routes": list(sub.host_routes or []),
        "ipv6_ra_mode": None,
        "ipv6_address_mode": None,
        "subnetpool_id": None,
        "service_types": [],
        "segment_id": None,
        "dns_publish_fixed_ip": False,
    }


def port(p: Port, ips: list[IPAllocation], *, admin: bool) -> dict[str, Any]:
    """A port as ``GET /v2.0/ports/{id}`` returns it; ``binding:*`` attributes are
    admin-only, as Neutron's policy has them."""
    bound = bool(p.host_id) and bool(p.device_id)
    body: dict[str, Any] = {
        **_common(p),
        "network_id": p.network_id,
        "mac_address": p.mac_address,
        "admin_state_up": p.admin_state_up,
        "status": "ACTIVE" if bound and p.admin_state_up else "DOWN",
        "device_id": p.device_id,
        "device_owner": p.device_owner,
        "fixed_ips": [{"subnet_id": a.subnet_id, "ip_address": a.ip_address} for a in ips],
        "allowed_address_pairs": [],
        "extra_dhcp_opts": [],
        "security_groups": [],
        "port_security_enabled": True,
        "dns_name": "",
        "dns_assignment": [],
        "binding:vnic_type": p.vnic_type,
    }
    if admin:
        body["binding:host_id"] = p.host_id
        body["binding:vif_type"] = "ovs" if p.host_id else "unbound"
        body["binding:vif_details"] = (
            {
                "port_filter": True,
                "connectivity": "l2",
                "bridge_name": "br-int",
                "datapath_type": "system",
                "ovs_hybrid_plug": False,
            }
            if p.host_id
            else {}
        )
        body["binding:profile"] = dict(p.binding_profile or {})
    return body


def vif(p: Port, ips: list[IPAllocation], network_name: str) -> dict[str, Any]:
    """One entry of an instance's network_info (see :mod:`testbed.network.rpcapi`)."""
    return {
        "port_id": p.id,
        "network_id": p.network_id,
        "network_name": network_name,
        "mac_address": p.mac_address,
        "fixed_ips": [
            {
                "ip_address": a.ip_address,
                "subnet_id": a.subnet_id,
                "version": 6 if ":" in a.ip_address else 4,
            }
            for a in ips
        ],
        "host": p.host_id or None,
        "preserve_on_delete": p.preserve_on_delete,
    }
