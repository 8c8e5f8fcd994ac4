"""/os-migrations and /servers/{id}/migrations (admin): the Migration table, which the
move operations (resize, migrate, live migration, evacuate) fill."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from testbed.api.common import (
    at_least,
    base_url,
    iso_micro,
    next_links,
    page_params,
    parse_time,
    require_admin,
)
from testbed.api.routing import RouteTable
from testbed.compute.api import InstanceOperations
from testbed.compute.models import Migration
from testbed.exceptions import BadRequest, NotFound
from testbed.web.app import ApiRequest

__all__ = ["routes"]

routes = RouteTable()

_FINISHED = {"confirmed", "reverted", "error", "failed", "completed", "cancelled", "done"}


def _common(req: ApiRequest, m: Migration) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": m.id,
        "created_at": iso_micro(m.created_at),
        "updated_at": iso_micro(m.updated_at),
        "dest_compute": m.dest_compute,
        "dest_host": m.dest_host,
        "dest_node": m.dest_node,
        "source_compute": m.source_compute,
        "source_node": m.source_node,
        "status": m.status,
    }
    if at_least(req, "2.59"):
        view["uuid"] = m.uuid
    if at_least(req, "2.80"):
        view["user_id"] = m.user_id
        view["project_id"] = m.project_id
    return view


def _migration_view(req: ApiRequest, m: Migration) -> dict[str, Any]:
    view = _common(req, m)
    view.update(
        {
            "instance_uuid": m.instance_uuid,
            "old_instance_type_id": m.old_flavor_id,
            "new_instance_type_id": m.new_flavor_id,
        }
    )
    if at_least(req, "2.23"):
        view["migration_type"] = m.migration_type
        if m.migration_type == "live-migration" and m.status not in _FINISHED:
            href = f"{base_url(req)}/v2.1/servers/{m.instance_uuid}/migrations/{m.id}"
            view["links"] = [
                {"rel": "self", "href": href},
                {"rel": "bookmark", "href": href.replace("/v2.1", "", 1)},
            ]
    return view


def _server_migration_view(req: ApiRequest, m: Migration) -> dict[str, Any]:
    view = _common(req, m)
    view.update(
        {
            "server_uuid": m.instance_uuid,
            "memory_total_bytes": m.memory_total,
            "memory_processed_bytes": m.memory_processed,
            "memory_remaining_bytes": m.memory_remaining,
            "disk_total_bytes": m.disk_total,
            "disk_processed_bytes": m.disk_processed,
            "disk_remaining_bytes": m.disk_remaining,
        }
    )
    return view


@routes.route("/v2.1/os-migrations", ["GET"])
def list_migrations(req: ApiRequest) -> tuple[int, Any]:
    """GET /os-migrations?host=&status=&migration_type=&instance_uuid=&source_compute=."""
    require_admin(req, "os_compute_api:os-migrations:index")
    q = req.query
    query = select(Migration).order_by(Migration.created_at.desc(), Migration.id.desc())
    if q.get("host"):
        query = query.where(
            or_(Migration.source_compute == q["host"], Migration.dest_compute == q["host"])
        )
    simple = {
        "status": Migration.status,
        "migration_type": Migration.migration_type,
        "instance_uuid": Migration.instance_uuid,
        "source_compute": Migration.source_compute,
    }
    if at_least(req, "2.80"):
        simple.update({"user_id": Migration.user_id, "project_id": Migration.project_id})
    for name, column in simple.items():
        if q.get(name):
            query = query.where(column == q[name])
    limit, marker = (None, None)
    if at_least(req, "2.59"):
        limit, marker = page_params(req)
        if "changes-since" in q:
            since = parse_time("changes-since", q["changes-since"])
            query = query.where(or_(Migration.updated_at >= since, Migration.created_at >= since))
    if at_least(req, "2.66") and "changes-before" in q:
        before = parse_time("changes-before", q["changes-before"])
        query = query.where(Migration.created_at <= before)
    with req.runtime.store.session() as session:
        rows = list(session.scalars(query))
    if marker is not None:
        ids = [m.uuid for m in rows]
        if marker not in ids:
            raise BadRequest(f"Marker {marker} could not be found.")
        rows = rows[ids.index(marker) + 1 :]
    if limit is not None:
        rows = rows[:limit]
    body: dict[str, Any] = {"migrations": [_migration_view(req, m) for m in rows]}
    more = next_links(req, "os-migrations", rows, limit, rows[-1].uuid if rows else None)
    if more:
        body["migrations_links"] = more
    return 200, body


def _in_progress(req: ApiRequest, server_id: str) -> list[Migration]:
    require_admin(req, "os_compute_api:servers:migrations:index")
    InstanceOperations(req.runtime).get(req.ctx, server_id)
    with req.runtime.store.session() as session:
        rows = session.scalars(
            select(Migration)
            .where(
                Migration.instance_uuid == server_id,
                Migration.migration_type == "live-migration",
            )
            .order_by(Migration.id)
        ).all()
    return [m for m in rows if m.status not in _FINISHED]


@routes.route("/v2.1/servers/<server_id>/migrations", ["GET"], min_version="2.23")
def list_server_migrations(req: ApiRequest, server_id: str) -> tuple[int, Any]:
    """GET /servers/{id}/migrations: its live migrations in progress."""
    rows = _in_progress(req, server_id)
    return 200, {"migrations": [_server_migration_view(req, m) for m in rows]}


@routes.route("/v2.1/servers/<server_id>/migrations/<migration_id>", ["GET"], min_version="2.23")
def show_server_migration(req: ApiRequest, server_id: str, migration_id: str) -> tuple[int, Any]:
    """GET /servers/{id}/migrations/{migration_id}."""
    for migration in _in_progress(req, server_id):
        if str(migration.id) == migration_id:
            return 200, {"migration": _server_migration_view(req, migration)}
    raise NotFound(f"Migration {migration_id} not found for instance {server_id}")


@routes.route("/v2.1/servers/<server_id>/migrations/<migration_id>", ["DELETE"], min_version="2.24")
def abort_server_migration(req: ApiRequest, server_id: str, migration_id: str) -> tuple[int, Any]:
    """Abort a live migration (testbed/compute/migrate_api.py)."""
    from testbed.compute.migrate_api import MigrationOperations

    require_admin(req, "os_compute_api:servers:migrations:delete")
    MigrationOperations(req.runtime).abort(req.ctx, server_id, migration_id)
    return 202, None


@routes.route(
    "/v2.1/servers/<server_id>/migrations/<migration_id>/action", ["POST"], min_version="2.22"
)
def server_migration_action(req: ApiRequest, server_id: str, migration_id: str) -> tuple[int, Any]:
    """force_complete of a running live migration (testbed/compute/migrate_api.py)."""
    from testbed.compute.migrate_api import MigrationOperations

    require_admin(req, "os_compute_api:servers:migrations:force_complete")
    body = req.json()
    if not isinstance(body, dict) or list(body) != ["force_complete"]:
        raise BadRequest('Invalid input: the body must be {"force_complete": null}.')
    MigrationOperations(req.runtime).force_complete(req.ctx, server_id, migration_id)
    return 202, None
