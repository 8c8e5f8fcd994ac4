"""Which attributes each Network API resource takes, and how values are read.

Attributes Neutron has but the test-bed does not model (security groups, QoS, DNS...)
are accepted and ignored; anything else is refused as Neutron refuses it.
"""

from __future__ import annotations

from typing import Any

from testbed.context import RequestContext
from testbed.exceptions import BadRequest
from testbed.network.errors import InvalidInput

__all__ = ["accept", "as_bool", "check_owner"]

_OWNER = {"project_id", "tenant_id"}

_MODELLED: dict[str, set[str]] = {
    "network": {"name", "description", "admin_state_up", "shared", "router:external", "mtu"},
    "subnet": {
        "network_id",
        "name",
        "description",
        "cidr",
        "ip_version",
        "gateway_ip",
        "allocation_pools",
        "enable_dhcp",
        "dns_nameservers",
        "host_routes",
    },
    "port": {
        "network_id",
        "name",
        "description",
        "admin_state_up",
        "mac_address",
        "fixed_ips",
        "device_id",
        "device_owner",
        "binding:host_id",
        "binding:vnic_type",
        "binding:profile",
    },
}
_IGNORED: dict[str, set[str]] = {
    "network": {
        "availability_zone_hints",
        "port_security_enabled",
        "provider:network_type",
        "provider:physical_network",
        "provider:segmentation_id",
        "qos_policy_id",
        "dns_domain",
        "is_default",
        "segments",
        "vlan_transparent",
        "tags",
    },
    "subnet": {
        "ipv6_ra_mode",
        "ipv6_address_mode",
        "subnetpool_id",
        "prefixlen",
        "service_types",
        "segment_id",
        "use_default_subnet_pool",
        "dns_publish_fixed_ip",
        "tags",
    },
    "port": {
        "security_groups",
        "port_security_enabled",
        "allowed_address_pairs",
        "extra_dhcp_opts",
        "dns_name",
        "dns_domain",
        "qos_policy_id",
        "propagate_uplink_status",
        "numa_affinity_policy",
        "tags",
        "hints",
    },
}
_CREATE_ONLY: dict[str, set[str]] = {
    "network": set(),
    "subnet": {"network_id", "cidr", "ip_version"},
    "port": {"network_id", "mac_address", "fixed_ips"},
}
_REQUIRED: dict[str, set[str]] = {
    "network": set(),
    "subnet": {"network_id"},
    "port": {"network_id"},
}


def accept(resource: str, body: Any, *, create: bool) -> dict[str, Any]:
    """The attributes of a create/update body that the test-bed acts on.

    Refuses unknown attributes, read-only ones and missing required ones with Neutron's
    wording."""
    if not isinstance(body, dict):
        raise BadRequest(f"Body contains invalid data: {resource} must be an object")
    allowed = _MODELLED[resource] | _IGNORED[resource] | _OWNER
    unknown = sorted(set(body) - allowed - {"id"})
    if unknown:
        raise BadRequest(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
    if "id" in body:
        method = "POST" if create else "PUT"
        raise BadRequest(f"Attribute 'id' not allowed in {method}")
    if create:
        missing = sorted(_REQUIRED[resource] - set(body))
        if missing:
            raise BadRequest(
                f"Failed to parse request. Required attribute '{missing[0]}' not specified"
            )
    else:
        fixed = sorted((_CREATE_ONLY[resource] | _OWNER) & set(body))
        if fixed:
            raise BadRequest(f"Cannot update read-only attribute {fixed[0]}")
    return {k: v for k, v in body.items() if k in _MODELLED[resource] | _OWNER}


def as_bool(value: Any, name: str) -> bool:
    """Neutron's boolean conversion (``true``/``false`` strings and 0/1 accepted)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise InvalidInput(error_message=f"'{value}' cannot be converted to boolean")


def check_owner(ctx: RequestContext, attrs: dict[str, Any]) -> str | None:
    """The project a new resource belongs to: the caller's, unless an admin names
    another one with ``project_id``/``tenant_id``."""
    named = attrs.get("project_id") or attrs.get("tenant_id")
    if (
        attrs.get("project_id")
        and attrs.get("tenant_id")
        and attrs["project_id"] != attrs["tenant_id"]
    ):
        raise InvalidInput(error_message="'project_id' and 'tenant_id' do not match")
    if named and named != ctx.project_id and not ctx.is_admin:
        raise BadRequest(
            "Specifying 'project_id' or 'tenant_id' other than the authenticated "
            "project in request requires admin privileges"
        )
    return str(named) if named else ctx.project_id
