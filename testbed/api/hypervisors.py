"""/os-hypervisors (admin): list, detail, show with usage (< 2.88), statistics, uptime,
search and servers, from the ComputeNode and Service rows.  Ids are integers up to 2.52
and uuids from 2.53, as in Nova."""

from __future__ import annotations

import json
import re
import uuid as uuidlib
from typing import Any

from sqlalchemy import func, select

from testbed.api.common import at_least, next_links, page_params, query_flag, require_admin
from testbed.api.routing import RouteTable
from testbed.compute.api_hosts import COMPUTE_BINARY, service_is_up
from testbed.compute.models import ComputeNode, Instance, Service
from testbed.exceptions import BadRequest, NotFound
from testbed.web.app import ApiRequest

__all__ = ["routes"]

routes = RouteTable()

_POLICY = "os_compute_api:os-hypervisors:list"


def _nodes_and_services(req: ApiRequest) -> tuple[list[ComputeNode], dict[str, Service]]:
    """Every node (its ``running_vms`` counted from the instances placed on it, as Nova's
    resource tracker counts them) and the compute services by host."""
    with req.runtime.store.session() as session:
        nodes = list(session.scalars(select(ComputeNode).order_by(ComputeNode.id)))
        services = {
            s.host: s
            for s in session.scalars(select(Service).where(Service.binary == COMPUTE_BINARY))
        }
        placed = dict(
            session.execute(
                select(Instance.node, func.count())
                .where(Instance.deleted.is_(False), Instance.node.is_not(None))
                .group_by(Instance.node)
            ).all()
        )
    for node in nodes:  # detached: nothing is written back
        node.running_vms = int(placed.get(node.hypervisor_hostname, 0))
    return nodes, services


def _servers_on(req: ApiRequest, node: ComputeNode) -> list[dict[str, str]]:
    with req.runtime.store.session() as session:
        rows = session.scalars(
            select(Instance).where(
                Instance.node == node.hypervisor_hostname, Instance.deleted.is_(False)
            )
        ).all()
    return [{"name": i.display_name, "uuid": i.uuid} for i in rows]


def _node_id(req: ApiRequest, node: ComputeNode) -> Any:
    return node.uuid if at_least(req, "2.53") else node.id


def _view(
    req: ApiRequest,
    node: ComputeNode,
    service: Service | None,
    *,
    detail: bool,
    with_servers: bool = False,
) -> dict[str, Any]:
    up = service is not None and service_is_up(
        service, req.runtime.clock.now(), req.runtime.config.service_down_time
    )
    view: dict[str, Any] = {
        "id": _node_id(req, node),
        "hypervisor_hostname": node.hypervisor_hostname,
        "state": "up" if up else "down",
        "status": "disabled" if service is not None and service.disabled else "enabled",
    }
    if detail:
        view.update(
            {
                "hypervisor_type": node.hypervisor_type,
                "hypervisor_version": node.hypervisor_version,
                "host_ip": node.host_ip,
                "service": {
                    "host": node.host,
                    "id": (service.uuid if at_least(req, "2.53") else service.id)
                    if service
                    else None,
                    "disabled_reason": service.disabled_reason if service else None,
                },
            }
        )
        if at_least(req, "2.88"):
            view["uptime"] = None
        else:
            view.update(_usage(req, node))
    if with_servers:
        servers = _servers_on(req, node)
        if servers:
            view["servers"] = servers
    return view


def _usage(req: ApiRequest, node: ComputeNode) -> dict[str, Any]:
    cpu_info: Any = dict(node.cpu_info or {})
    if not at_least(req, "2.28"):
        cpu_info = json.dumps(cpu_info)
    return {
        "vcpus": node.vcpus,
        "memory_mb": node.memory_mb,
        "local_gb": node.local_gb,
        "vcpus_used": node.vcpus_used,
        "memory_mb_used": node.memory_mb_used,
        "local_gb_used": node.local_gb_used,
        "free_ram_mb": node.memory_mb - node.memory_mb_used,
        "free_disk_gb": node.local_gb - node.local_gb_used,
        "current_workload": 0,
        "running_vms": node.running_vms,
        "disk_available_least": node.local_gb - node.local_gb_used,
        "cpu_info": cpu_info,
    }


def _listing(req: ApiRequest, *, detail: bool) -> tuple[int, Any]:
    require_admin(req, _POLICY)
    nodes, services = _nodes_and_services(req)
    pattern = req.query.get("hypervisor_hostname_pattern") if at_least(req, "2.53") else None
    with_servers = at_least(req, "2.53") and query_flag(req, "with_servers")
    if pattern is not None:
        nodes = [n for n in nodes if pattern in n.hypervisor_hostname]
        if not nodes:
            raise NotFound(f"No hypervisor matching '{pattern}' could be found.")
    limit, marker = page_params(req) if at_least(req, "2.33") else (None, None)
    if marker is not None:
        ids = [str(_node_id(req, n)) for n in nodes]
        if marker not in ids:
            raise BadRequest(f"marker [{marker}] not found")
        nodes = nodes[ids.index(marker) + 1 :]
    if limit is not None:
        nodes = nodes[:limit]
    body: dict[str, Any] = {
        "hypervisors": [
            _view(req, n, services.get(n.host), detail=detail, with_servers=with_servers)
            for n in nodes
        ]
    }
    last = str(_node_id(req, nodes[-1])) if nodes else None
    path = "os-hypervisors/detail" if detail else "os-hypervisors"
    more = next_links(req, path, nodes, limit, last)
    if more:
        body["hypervisors_links"] = more
    return 200, body


@routes.route("/v2.1/os-hypervisors", ["GET"])
def list_hypervisors(req: ApiRequest) -> tuple[int, Any]:
    """GET /os-hypervisors."""
    return _listing(req, detail=False)


@routes.route("/v2.1/os-hypervisors/detail", ["GET"])
def list_hypervisors_detail(req: ApiRequest) -> tuple[int, Any]:
    """GET /os-hypervisors/detail."""
    return _listing(req, detail=True)


def _find(req: ApiRequest, hypervisor_id: str) -> tuple[ComputeNode, Service | None]:
    if at_least(req, "2.53"):
        try:
            uuidlib.UUID(hypervisor_id)
        except ValueError:
            raise BadRequest(f"Invalid uuid {hypervisor_id}") from None
    nodes, services = _nodes_and_services(req)
    for node in nodes:
        if str(_node_id(req, node)) == hypervisor_id:
            return node, services.get(node.host)
    raise NotFound(f"Hypervisor with ID '{hypervisor_id}' could not be found.")


@routes.route("/v2.1/os-hypervisors/statistics", ["GET"], max_version="2.87")
def hypervisor_statistics(req: ApiRequest) -> tuple[int, Any]:
    """GET /os-hypervisors/statistics: totals over every node."""
    require_admin(req, _POLICY)
    nodes, _services = _nodes_and_services(req)
    keys = ("vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used", "local_gb_used")
    totals: dict[str, Any] = {k: sum(getattr(n, k) for n in nodes) for k in keys}
    totals.update(
        {
            "count": len(nodes),
            "running_vms": sum(n.running_vms for n in nodes),
            "free_ram_mb": totals["memory_mb"] - totals["memory_mb_used"],
            "free_disk_gb": totals["local_gb"] - totals["local_gb_used"],
            "disk_available_least": totals["local_gb"] - totals["local_gb_used"],
            "current_workload": 0,
        }
    )
    return 200, {"hypervisor_statistics": totals}


@routes.route("/v2.1/os-hypervisors/<hypervisor_id>", ["GET"])
def show_hypervisor(req: ApiRequest, hypervisor_id: str) -> tuple[int, Any]:
    """GET /os-hypervisors/{id} (with_servers from 2.53)."""
    require_admin(req, _POLICY)
    node, service = _find(req, hypervisor_id)
    with_servers = at_least(req, "2.53") and query_flag(req, "with_servers")
    return 200, {"hypervisor": _view(req, node, service, detail=True, with_servers=with_servers)}


@routes.route("/v2.1/os-hypervisors/<hypervisor_id>/uptime", ["GET"], max_version="2.87")
def hypervisor_uptime(req: ApiRequest, hypervisor_id: str) -> tuple[int, Any]:
    """GET /os-hypervisors/{id}/uptime."""
    require_admin(req, _POLICY)
    node, service = _find(req, hypervisor_id)
    view = _view(req, node, service, detail=False)
    view["uptime"] = " 00:00:00 up 0 days,  0:00,  0 users,  load average: 0.00, 0.00, 0.00"
    return 200, {"hypervisor": view}


def _search(req: ApiRequest, pattern: str, *, with_servers: bool) -> tuple[int, Any]:
    require_admin(req, _POLICY)
    nodes, services = _nodes_and_services(req)
    matched = [n for n in nodes if re.search(re.escape(pattern), n.hypervisor_hostname)]
    if not matched:
        raise NotFound(f"No hypervisor matching '{pattern}' could be found.")
    views = [
        _view(req, n, services.get(n.host), detail=False, with_servers=with_servers)
        for n in matched
    ]
    return 200, {"hypervisors": views}


@routes.route("/v2.1/os-hypervisors/<pattern>/search", ["GET"], max_version="2.52")
def search_hypervisors(req: ApiRequest, pattern: str) -> tuple[int, Any]:
    """GET /os-hypervisors/{pattern}/search."""
    return _search(req, pattern, with_servers=False)


@routes.route("/v2.1/os-hypervisors/<pattern>/servers", ["GET"], max_version="2.52")
def hypervisor_servers(req: ApiRequest, pattern: str) -> tuple[int, Any]:
    """GET /os-hypervisors/{pattern}/servers."""
    return _search(req, pattern, with_servers=True)
