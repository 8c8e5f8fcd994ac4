"""IP address management: subnet ranges, allocation pools, and taking a free address.

Addresses are handed out lowest-first from the subnet's pools (deterministic, unlike
Neutron's random pick among the first free ones).  :func:`take_address` only picks and
inserts; the (subnet, address) unique constraint rejects a concurrent duplicate, and
the caller retries the whole transaction.
"""

from __future__ import annotations

import ipaddress
import itertools
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
    "subnet_layout",
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


def _host_range(net: IPNetwork) -> tuple[int, int]:
    """The first and last usable host addresses, as integers."""
    first = int(net.network_address) + 1
    last = int(net.broadcast_address) - (1 if net.version == 4 else 0)
    return first, last


def _text(version: int, value: int) -> str:
    address = ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)
    return str(address)


def default_gateway(net: IPNetwork) -> str:
    """The subnet's first host address (Neutron's default gateway)."""
    return _text(net.version, _host_range(net)[0])


def default_pools(net: IPNetwork, gateway: str | None) -> list[dict[str, str]]:
    """Every host address of the subnet except the gateway, as Neutron computes it."""
    start, end = _host_range(net)
    gw = int(parse_ip(gateway)) if gateway else None
    pools: list[tuple[int, int]] = []
    if gw is None or not start <= gw <= end:
        pools = [(start, end)]
    else:
        if gw > start:
            pools.append((start, gw - 1))
        if gw < end:
            pools.append((gw + 1, end))
    return [{"start": _text(net.version, a), "end": _text(net.version, b)} for a, b in pools]


def validate_pools(net: IPNetwork, pools: Any, gateway: str | None) -> list[dict[str, str]]:
    """Check client-given pools: inside the subnet, ordered, not overlapping, and not
    holding the gateway."""
    if not isinstance(pools, list):
        raise InvalidInput(error_message="allocation_pools must be a list")
    ranges: list[tuple[int, int]] = []
    for pool in pools:
        if not isinstance(pool, dict) or "start" not in pool or "end" not in pool:
            raise InvalidInput(error_message=f"Invalid data format for IP pool: '{pool}'")
        first, last = parse_ip(pool["start"]), parse_ip(pool["end"])
        if first not in net or last not in net or int(first) > int(last):
            raise InvalidAllocationPool(pool=f"{pool['start']}-{pool['end']}")
        ranges.append((int(first), int(last)))
    ranges.sort()
    for (_, end), (start, _) in itertools.pairwise(ranges):
        if start <= end:
            raise InvalidInput(error_message="Found overlapping allocation pools")
    text = [(_text(net.version, a), _text(net.version, b)) for a, b in ranges]
    if gateway:
        gw = int(parse_ip(gateway))
        for (low, high), (low_text, high_text) in zip(ranges, text, strict=True):
            if low <= gw <= high:
                raise GatewayConflictWithAllocationPools(
                    ip_address=gateway, pool=f"{low_text}-{high_text}"
                )
    return [{"start": a, "end": b} for a, b in text]


def subnet_layout(attrs: dict[str, Any]) -> tuple[IPNetwork, str | None, list[dict[str, str]]]:
    """A new subnet's range, gateway and pools from its create attributes (``cidr``,
    ``ip_version``, ``gateway_ip``, ``allocation_pools``), defaulted as Neutron does:
    the gateway is the first host address, the pools the rest of the range."""
    version = attrs.get("ip_version")
    if version is not None and version not in (4, 6, "4", "6"):
        raise InvalidInput(error_message=f"{version} is not in valid IP versions [4, 6]")
    if "cidr" not in attrs:
        raise InvalidInput(error_message="A cidr must be specified in the absence of a subnet pool")
    net = parse_cidr(attrs["cidr"], int(version) if version is not None else None)
    gateway: str | None
    if "gateway_ip" not in attrs:
        gateway = default_gateway(net)
    elif attrs["gateway_ip"] is None:
        gateway = None
    else:
        address = parse_ip(attrs["gateway_ip"])
        if address.version != net.version:
            raise InvalidInput(
                error_message=f"Gateway {address} is not an IPv{net.version} address"
            )
        gateway = str(address)
    if attrs.get("allocation_pools"):
        pools = validate_pools(net, attrs["allocation_pools"], gateway)
    else:
        pools = default_pools(net, gateway)
    return net, gateway, pools


def _candidates(pools: Iterable[dict[str, str]]) -> Iterable[str]:
    for pool in pools:
        start = parse_ip(pool["start"])
        for value in range(int(start), int(parse_ip(pool["end"])) + 1):
            yield _text(start.version, value)


def take_address(
    session: Session, subnet: Subnet, port_id: str, requested: str | None = None
) -> str | None:
    """Insert an allocation for ``port_id`` on ``subnet``: ``requested`` if given (it
    must be in the subnet and free), else the lowest free pool address; None when the
    pools are exhausted."""
    used = set(
        session.scalars(select(IPAllocation.ip_address).where(IPAllocation.subnet_id == subnet.id))
    )
    if requested is not None:
        address = parse_ip(requested)
        net = ipaddress.ip_network(subnet.cidr)
        if (
            address not in net
            or address in (net.network_address,)
            or (net.version == 4 and address == net.broadcast_address)
        ):
            raise InvalidIpForSubnet(ip_address=requested)
        if str(address) in used:
            raise IpAddressAlreadyAllocated(ip=str(address), subnet_id=subnet.id)
        chosen: str | None = str(address)
    else:
        chosen = next((a for a in _candidates(subnet.allocation_pools) if a not in used), None)
    if chosen is not None:
        session.add(
            IPAllocation(
                port_id=port_id,
                subnet_id=subnet.id,
                network_id=subnet.network_id,
                ip_address=chosen,
            )
        )
    return chosen
