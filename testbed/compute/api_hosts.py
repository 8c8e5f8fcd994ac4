"""Whether a service is up, as Nova's database servicegroup driver decides.

A service is up when its last heartbeat (``last_seen_up``; none yet means down) is at most
``service_down_time`` clock seconds old and no operator has forced it down — the rule of
testbed/compute/servicegroup.py, applied to a service row.  The api uses it for ``state``
in os-services and os-hypervisors, for a server's ``host_status``, and to delete locally
when a compute host is down.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from testbed.compute import servicegroup
from testbed.compute.models import Service
from testbed.compute.servicegroup import COMPUTE_BINARY
from testbed.store.db import Transaction, core

__all__ = [
    "COMPUTE_BINARY",
    "compute_host_exists",
    "compute_service",
    "host_status",
    "service_is_up",
]

_COMPUTE_SERVICE_ID = (
    select(Service.id)
    .where(Service.host == bindparam("host"), Service.binary == COMPUTE_BINARY)
    .limit(1)
)


def service_is_up(service: Service, now: float, service_down_time: float) -> bool:
    """True when the service reported recently and is not forced down."""
    return servicegroup.service_is_up(
        service.forced_down, service.last_seen_up, now, service_down_time
    )


def compute_service(session: Session, host: str) -> Service | None:
    """The nova-compute service row of ``host``, if any."""
    return session.scalars(
        select(Service).where(Service.host == host, Service.binary == COMPUTE_BINARY)
    ).first()


def compute_host_exists(tx: Transaction, host: str) -> bool:
    """Whether ``host`` runs a nova-compute service."""
    return core(tx).execute(_COMPUTE_SERVICE_ID, {"host": host}).first() is not None


def host_status(service: Service | None, now: float, service_down_time: float) -> str:
    """A server's ``host_status`` (2.16): UP, DOWN, MAINTENANCE (disabled) or UNKNOWN."""
    if service is None:
        return "UNKNOWN"
    if not service_is_up(service, now, service_down_time):
        return "DOWN"
    if service.disabled:
        return "MAINTENANCE"
    return "UP"
