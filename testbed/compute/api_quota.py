"""Quota: limits (Config defaults + per-project overrides) and usage counted from the store.

Nova counts usage from the instances themselves (instances, cores, ram) rather than from
reservations; so does this module.  ``-1`` is unlimited.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, select
from sqlalchemy.orm import Session

from testbed.compute.models import Instance, Quota, ServerGroup, ServerGroupMember
from testbed.config import Config
from testbed.exceptions import QuotaExceeded
from testbed.store.db import Transaction, core

__all__ = [
    "QUOTA_RESOURCES",
    "allowed_instances",
    "check_server_group_members",
    "check_server_groups",
    "default_limits",
    "delete_overrides",
    "instance_usages",
    "project_limits",
    "set_overrides",
    "usages",
]

QUOTA_RESOURCES = (
    "instances",
    "cores",
    "ram",
    "metadata_items",
    "key_pairs",
    "server_groups",
    "server_group_members",
    "injected_files",
    "injected_file_content_bytes",
    "injected_file_path_bytes",
)
_FIXED_DEFAULTS = {
    "metadata_items": 128,
    "key_pairs": 100,
    "injected_files": 5,
    "injected_file_content_bytes": 10240,
    "injected_file_path_bytes": 255,
}


def default_limits(config: Config) -> dict[str, int]:
    """The default limit of every resource."""
    return {
        "instances": config.quota_instances,
        "cores": config.quota_cores,
        "ram": config.quota_ram,
        "server_groups": config.quota_server_groups,
        "server_group_members": config.quota_server_group_members,
        **_FIXED_DEFAULTS,
    }


# Every create reads both (statements built once, executed on the caller's transaction).
_QUOTAS = cast(Table, Quota.__table__)
_INSTANCES = cast(Table, Instance.__table__)
_OVERRIDES = select(_QUOTAS.c.resource, _QUOTAS.c.hard_limit).where(
    _QUOTAS.c.project_id == bindparam("project_id")
)
_INSTANCE_USAGE = select(
    func.count(),
    func.coalesce(func.sum(_INSTANCES.c.vcpus), 0),
    func.coalesce(func.sum(_INSTANCES.c.memory_mb), 0),
).where(_INSTANCES.c.project_id == bindparam("project_id"), _INSTANCES.c.deleted.is_(False))


def project_limits(tx: Transaction, config: Config, project_id: str) -> dict[str, int]:
    """A project's limits: defaults with its overrides."""
    limits = default_limits(config)
    overrides = core(tx).execute(_OVERRIDES, {"project_id": project_id})
    for resource, hard_limit in overrides:
        if resource in limits:
            limits[resource] = hard_limit
    return limits


def set_overrides(session: Session, project_id: str, values: dict[str, int]) -> None:
    """Store per-project limits (an update of os-quota-sets)."""
    existing = {
        row.resource: row
        for row in session.scalars(select(Quota).where(Quota.project_id == project_id))
    }
    for resource, limit in values.items():
        row = existing.get(resource)
        if row is None:
            session.add(Quota(project_id=project_id, resource=resource, hard_limit=limit))
        else:
            row.hard_limit = limit


def delete_overrides(session: Session, project_id: str) -> None:
    """Back to the defaults (a delete of os-quota-sets)."""
    session.execute(delete(Quota).where(Quota.project_id == project_id))


def usages(session: Session, project_id: str) -> dict[str, int]:
    """What a project uses: instances, cores, ram (from live instances), server groups."""
    groups = session.scalar(
        select(func.count()).select_from(ServerGroup).where(ServerGroup.project_id == project_id)
    )
    return {**instance_usages(session, project_id), "server_groups": int(groups or 0)}


def instance_usages(tx: Transaction, project_id: str) -> dict[str, int]:
    """What a project's live instances use: instances, cores, ram."""
    count, cores, ram = core(tx).execute(_INSTANCE_USAGE, {"project_id": project_id}).one()
    return {"instances": int(count), "cores": int(cores), "ram": int(ram)}


def _headroom(limit: int, used: int) -> float:
    return float("inf") if limit < 0 else max(limit - used, 0)


def allowed_instances(
    tx: Transaction,
    limits: dict[str, int],
    project_id: str,
    flavor: dict[str, Any],
    min_count: int,
    max_count: int,
) -> int:
    """How many of ``max_count`` instances of ``flavor`` fit under the project's
    ``limits`` (:func:`project_limits`); at least ``min_count`` or a 403 in Nova's words
    ("Quota exceeded for cores: Requested 4, but already used 18 of 20 cores")."""
    used = instance_usages(tx, project_id)
    per_instance = {
        "instances": 1,
        "cores": int(flavor.get("vcpus", 0)),
        "ram": int(flavor.get("memory_mb", 0)),
    }
    allowed: float = max_count
    overs: list[str] = []
    for resource, each in per_instance.items():
        room = _headroom(limits[resource], used[resource])
        fits = room // each if each else float("inf")
        if fits < max_count:
            allowed = min(allowed, fits)
            if fits < min_count:
                overs.append(resource)
    if not overs:
        return int(allowed)
    resource = overs[0]
    raise QuotaExceeded(
        f"Quota exceeded for {resource}: Requested {per_instance[resource] * max_count}, "
        f"but already used {used[resource]} of {limits[resource]} {resource}"
    )


def check_server_groups(session: Session, config: Config, project_id: str) -> None:
    """403 when one more server group would pass the project's limit."""
    limit = project_limits(session, config, project_id)["server_groups"]
    if 0 <= limit <= usages(session, project_id)["server_groups"]:
        raise QuotaExceeded("Quota exceeded, too many server groups.")


def check_server_group_members(
    tx: Transaction, limits: dict[str, int], group_uuid: str, adding: int
) -> None:
    """403 when ``adding`` members would pass the per-group limit (``limits``: the group
    project's, from :func:`project_limits`)."""
    limit = limits["server_group_members"]
    members = core(tx).scalar(
        select(func.count())
        .select_from(ServerGroupMember)
        .join(Instance, Instance.uuid == ServerGroupMember.instance_uuid)
        .where(ServerGroupMember.group_uuid == group_uuid, Instance.deleted.is_(False))
    )
    if 0 <= limit < int(members or 0) + adding:
        raise QuotaExceeded("Quota exceeded, too many servers in group")
