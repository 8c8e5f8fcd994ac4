"""Errors of the network service, named after Neutron's fault types.

The Network API renders them as ``{"NeutronError": {"type": <class name>, "message":
..., "detail": ""}}``; over the bus they travel like every :class:`CloudError`.
"""

from __future__ import annotations

from testbed.exceptions import BadRequest, Conflict, Forbidden, NotFound

__all__ = [
    "GatewayConflictWithAllocationPools",
    "InvalidAllocationPool",
    "InvalidInput",
    "InvalidIpForSubnet",
    "IpAddressAlreadyAllocated",
    "IpAddressGenerationFailure",
    "MacAddressInUse",
    "NetworkInUse",
    "NetworkNotFound",
    "PolicyNotAuthorized",
    "PortNotFound",
    "SubnetInUse",
    "SubnetNotFound",
    "neutron_type",
]


class NetworkNotFound(NotFound):
    msg_fmt = "Network %(net_id)s could not be found."


class SubnetNotFound(NotFound):
    msg_fmt = "Subnet %(subnet_id)s could not be found."


class PortNotFound(NotFound):
    msg_fmt = "Port %(port_id)s could not be found."


class NetworkInUse(Conflict):
    msg_fmt = (
        "Unable to complete operation on network %(net_id)s. "
        "There are one or more ports still in use on the network."
    )


class SubnetInUse(Conflict):
    msg_fmt = (
        "Unable to complete operation on subnet %(subnet_id)s: "
        "One or more ports have an IP allocation from this subnet."
    )


class IpAddressAlreadyAllocated(Conflict):
    msg_fmt = "IP address %(ip)s already allocated in subnet %(subnet_id)s"


class IpAddressGenerationFailure(Conflict):
    msg_fmt = "No more IP addresses available on network %(net_id)s."


class MacAddressInUse(Conflict):
    msg_fmt = (
        "Unable to complete operation for network %(net_id)s. The mac address %(mac)s is in use."
    )


class InvalidIpForSubnet(BadRequest):
    msg_fmt = "IP address %(ip_address)s is not a valid IP for the specified subnet."


class InvalidAllocationPool(BadRequest):
    msg_fmt = "The allocation pool %(pool)s is not valid."


class GatewayConflictWithAllocationPools(Conflict):
    msg_fmt = "Gateway ip %(ip_address)s conflicts with allocation pool %(pool)s."


class InvalidInput(BadRequest):
    msg_fmt = "Invalid input for operation: %(error_message)s."


class PolicyNotAuthorized(Forbidden):
    msg_fmt = "(rule:%(action)s) is disallowed by policy"


_GENERIC_TYPES = {
    400: "HTTPBadRequest",
    401: "HTTPUnauthorized",
    403: "HTTPForbidden",
    404: "HTTPNotFound",
    405: "HTTPMethodNotAllowed",
    409: "HTTPConflict",
    415: "HTTPUnsupportedMediaType",
}


def neutron_type(error: Exception | None, code: int) -> str:
    """The ``type`` of a NeutronError body: the error's Neutron name, or the generic
    webob one for errors that have none."""
    if error is not None and type(error).__module__ == __name__:
        return type(error).__name__
    return _GENERIC_TYPES.get(code, "HTTPInternalServerError")
