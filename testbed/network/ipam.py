"""IP address management: subnet ranges, allocation pools, and taking a free address.

Addresses are handed out lowest-first from the subnet's pools (deterministic, unlike
Neutron's random pick among the first free ones).  :func:`take_address` only picks and
inserts; the (subnet, address) unique constraint rejects a concurrent duplicate, and
the caller retries the whole transaction.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from testbed.network.errors import (
    GatewayConflictWithAllocationPools,
    InvalidAllocationPool,
    InvalidInput,
    InvalidIpForSubnet,
    IpAddressAlreadyAllocated,
)
from testbed.network.models import IPAllocation, Subnet

__all__ = [
    "IPNetwork",
    "default_gateway",
    "default_pools",
    "parse_cidr",
    "parse_ip",
    "take_address",
    "validate_pools",
]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_cidr(cidr: Any, ip_version: int | None) -> IPNetwork:
    """The subnet's network (host bits cleared); ``InvalidInput`` when malformed."""
    try:
        net = ipaddress.ip_network(str(cidr), strict=False)
    except ValueError as exc:
        raise InvalidInput(error_message=f"'{cidr}' is not a valid IP subnet") from exc
    if ip_version is not None and net.version != ip_version:
        raise InvalidInput(error_message=f"Cidr {cidr} does not match the IP version {ip_version}")
    if net.num_addresses < (4 if net.version == 4 else 2):
        raise InvalidInput(error_message=f"'{cidr}' is too small to hold any address")
    return net


def parse_ip(value: Any) -> IPAddress:
    """An IP address; ``InvalidInput`` when malformed."""
    try:
        return ipaddress.ip_address(str(value))
    except ValueError as exc:
        raise InvalidInput(error_message=f"'{value}' is not a valid IP address") from exc


def _first_host(net: IPNetwork) -> IPAddress:
    return net.network_address + 1


def _last_host(net: IPNetwork) -> IPAddress:
    return net.broadcast_address - 1 if net.version == 4 else net.broadcast_address


def default_gateway(net: IPNetwork) -> str:
    """The subnet's first host address (Neutron's default gateway)."""
    return str(_first_host(net))


def default_pools(net: IPNetwork, gateway: str | None) -> list[dict[str, str]]:
    """Every host address of the subnet except the gateway, as Neutron computes it."""
    start, end = _first_host(net), _last_host(net)
    gw = ipaddress.ip_address(gateway) if gateway else None
    if gw is None or not start <= gw <= end:
        return [{"start": str(start), "end": str(end)}]
    pools = []
    if gw > start:
        pools.append({"start": str(start), "end": str(gw - 1)})
    if gw < end:
        pools.append({"start": str(gw + 1), "end": str(end)})
    return pools


def validate_pools(net: IPNetwork, pools: Any, gateway: str | None) -> list[dict[str, str]]:
    """Check client-given pools: inside the subnet, ordered, not overlapping, and not
    holding the gateway."""
    if not isinstance(pools, list):
        raise InvalidInput(error_message="allocation_pools must be a list")
    ranges: list[tuple[IPAddress, IPAddress]] = []
    for pool in pools:
        if not isinstance(pool, dict) or "start" not in pool or "end" not in pool:
            raise InvalidInput(error_message=f"Invalid data format for IP pool: '{pool}'")
        start, end = parse_ip(pool["start"]), parse_ip(pool["end"])
        if start not in net or end not in net or start > end:
            raise InvalidAllocationPool(pool=f"{pool['start']}-{pool['end']}")
        ranges.append((start, end))
    ranges.sort()
    for (_, end), (start, _) in zip(ranges, ranges[1:], strict=False):
        if start <= end:
            raise InvalidInput(error_message="Found overlapping allocation pools")
    if gateway:
        gw = ipaddress.ip_address(gateway)
        for start, end in ranges:
            if start <= gw <= end:
                raise GatewayConflictWithAllocationPools(
                    ip_address=gateway, pool=f"{start}-{end}"
                )
    return [{"start": str(s), "end": str(e)} for s, e in ranges]


def _candidates(pools: Iterable[dict[str, str]]) -> Iterable[IPAddress]:
    for pool in pools:
        current = ipaddress.ip_address(pool["start"])
        end = ipaddress.ip_address(pool["end"])
        while current <= end:
            yield current
            current += 1


def take_address(
    session: Session, subnet: Subnet, port_id: str, requested: str | None = None
) -> str | None:
    """Insert an allocation for ``port_id`` on ``subnet``: ``requested`` if given (it
    must be in the subnet and free), else the lowest free pool address; None when the
    pools are exhausted."""
    used = set(
        session.scalars(
            select(IPAllocation.ip_address).where(IPAllocation.subnet_id == subnet.id)
        )
    )
    if requested is not None:
        address = parse_ip(requested)
        net = ipaddress.ip_network(subnet.cidr)
        if address not in net or address in (net.network_address,) or (
            net.version == 4 and address == net.broadcast_address
        ):
            raise InvalidIpForSubnet(ip_address=requested)
        if str(address) in used:
            raise IpAddressAlreadyAllocated(ip=str(address), subnet_id=subnet.id)
        chosen: str | None = str(address)
    else:
        chosen = next((str(a) for a in _candidates(subnet.allocation_pools) if str(a) not in used),
                      None)
    if chosen is not None:
        session.add(
            IPAllocation(
                port_id=port_id, subnet_id=subnet.id, network_id=subnet.network_id,
                ip_address=chosen,
            )
        )
    return chosen
