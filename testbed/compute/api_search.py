"""Finding servers for GET /servers and /servers/detail: Nova's filters and paging.

Filters are applied as Nova does: ``name`` and ``ip`` are regular expressions
(``re.search``), ``status`` matches the derived API status, ``changes-since`` also
returns deleted servers, and results come newest first with limit/marker paging.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from testbed.compute.models import Instance
from testbed.compute.states import status_from_state
from testbed.exceptions import BadRequest
from testbed.store.db import Store

__all__ = ["InstanceFilters", "search_instances"]


@dataclass
class InstanceFilters:
    """What to look for.  ``project_id`` None means every project (admin all_tenants)."""

    project_id: str | None = None
    name: str | None = None
    statuses: list[str] | None = None
    host: str | None = None
    node: str | None = None
    changes_since: float | None = None
    changes_before: float | None = None
    reservation_id: str | None = None
    image: str | None = None
    flavor: str | None = None
    ip: str | None = None
    uuid: str | None = None
    user_id: str | None = None
    availability_zone: str | None = None
    include_deleted: bool = False
    locked: bool | None = None
    limit: int | None = None
    marker: str | None = None


def _regex_match(pattern: str, value: str | None) -> bool:
    if value is None:
        return False
    try:
        return re.search(pattern, value) is not None
    except re.error:
        return pattern in value


def _addresses(instance: Instance) -> list[str]:
    return [
        str(ip.get("ip_address"))
        for vif in instance.network_info or []
        for ip in vif.get("fixed_ips", [])
    ]


def _matches(instance: Instance, f: InstanceFilters) -> bool:
    checks: list[tuple[Any, bool]] = [
        (f.name, f.name is not None and _regex_match(f.name, instance.display_name)),
        (
            f.statuses,
            f.statuses is not None
            and status_from_state(instance.vm_state, instance.task_state) in f.statuses,
        ),
        (f.host, instance.host == f.host),
        (f.node, instance.node == f.node),
        (f.changes_since, (instance.updated_at or instance.created_at) >= (f.changes_since or 0)),
        (
            f.changes_before,
            (instance.updated_at or instance.created_at) <= (f.changes_before or 0),
        ),
        (f.reservation_id, instance.reservation_id == f.reservation_id),
        (f.image, instance.image_ref == f.image),
        (f.flavor, str(instance.flavor.get("id")) == f.flavor),
        (f.ip, any(_regex_match(f.ip or "", a) for a in _addresses(instance))),
        (f.uuid, instance.uuid == f.uuid),
        (f.user_id, instance.user_id == f.user_id),
        (f.availability_zone, instance.availability_zone == f.availability_zone),
        (f.locked, instance.locked == f.locked),
    ]
    return all(ok for wanted, ok in checks if wanted is not None)


def search_instances(store: Store, filters: InstanceFilters) -> list[Instance]:
    """The instances matching ``filters``, newest first, one page of them."""
    query = select(Instance)
    if filters.project_id is not None:
        query = query.where(Instance.project_id == filters.project_id)
    if not filters.include_deleted and filters.changes_since is None:
        query = query.where(Instance.deleted.is_(False))
    query = query.order_by(
        Instance.created_at.desc(), Instance.launch_index.desc(), Instance.uuid.desc()
    )
    with store.session() as session:
        rows = [r for r in session.scalars(query) if _matches(r, filters)]
    if filters.marker is not None:
        ids = [r.uuid for r in rows]
        if filters.marker not in ids:
            raise BadRequest(f"marker [{filters.marker}] not found")
        rows = rows[ids.index(filters.marker) + 1 :]
    if filters.limit is not None:
        rows = rows[: filters.limit]
    return rows
