"""/os-availability-zone: the zones of the compute services (and, for admins, /detail
with every host and service, the non-compute ones in the ``internal`` zone)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select

from testbed.api.common import iso_micro, require_admin
from testbed.api.routing import RouteTable
from testbed.compute.api_hosts import COMPUTE_BINARY, service_is_up
from testbed.compute.models import Service
from testbed.web.app import ApiRequest

__all__ = ["routes"]

routes = RouteTable()

INTERNAL_ZONE = "internal"


def _services(req: ApiRequest) -> list[Service]:
    with req.runtime.store.session() as session:
        return list(session.scalars(select(Service).order_by(Service.id)))


def _zone_of(service: Service) -> str:
    return service.availability_zone if service.binary == COMPUTE_BINARY else INTERNAL_ZONE


def _compute_zones(services: list[Service]) -> dict[str, bool]:
    """Zone name -> available (some enabled compute service in it)."""
    zones: dict[str, bool] = {}
    for service in services:
        if service.binary == COMPUTE_BINARY:
            zones[service.availability_zone] = zones.get(service.availability_zone, False) or (
                not service.disabled
            )
    return zones


@routes.route("/v2.1/os-availability-zone", ["GET"])
def list_zones(req: ApiRequest) -> tuple[int, Any]:
    """GET /os-availability-zone."""
    zones = _compute_zones(_services(req))
    info = [
        {"zoneName": name, "zoneState": {"available": available}, "hosts": None}
        for name, available in sorted(zones.items(), key=lambda z: (not z[1], z[0]))
    ]
    return 200, {"availabilityZoneInfo": info}


@routes.route("/v2.1/os-availability-zone/detail", ["GET"])
def list_zones_detail(req: ApiRequest) -> tuple[int, Any]:
    """GET /os-availability-zone/detail (admin): hosts and services of every zone."""
    require_admin(req, "os_compute_api:os-availability-zone:detail")
    services = _services(req)
    now, down_time = req.runtime.clock.now(), req.runtime.config.service_down_time
    hosts: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for service in services:
        zone_hosts = hosts.setdefault(_zone_of(service), {})
        zone_hosts.setdefault(service.host, {})[service.binary] = {
            "available": service_is_up(service, now, down_time) and not service.disabled,
            "active": not service.disabled,
            "updated_at": iso_micro(service.last_seen_up or service.updated_at),
        }
    zones = _compute_zones(services)
    if any(s.binary != COMPUTE_BINARY for s in services):
        zones[INTERNAL_ZONE] = True
    info = [
        {"zoneName": name, "zoneState": {"available": available}, "hosts": hosts.get(name)}
        for name, available in sorted(zones.items(), key=lambda z: (z[0] != INTERNAL_ZONE, z[0]))
    ]
    return 200, {"availabilityZoneInfo": info}
