"""RPC client of the conductor for moves (topic ``conductor``)."""

from __future__ import annotations

from typing import Any

from testbed.context import RequestContext
from testbed.rpc import RpcClient

__all__ = ["MigrationConductorAPI"]


class MigrationConductorAPI(RpcClient):
    """What the api asks of the conductor about moves.  Casts: the api answers 202
    before the conductor picks a destination."""

    topic = "conductor"

    def migrate_server(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        task_id: str,
        flavor: dict[str, Any],
        host: str | None,
        migration_type: str,
    ) -> None:
        """Cold migration or resize (task_state ``resize_prep``): record the migration,
        schedule (``host`` requested, or any other host), then start the move on the
        destination.  ``flavor`` is the new one (the current one for a migration)."""
        self._cast(
            ctx,
            "migrate_server",
            instance_uuid=instance_uuid,
            task_id=task_id,
            flavor=flavor,
            host=host,
            migration_type=migration_type,
        )

    def live_migrate_instance(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        task_id: str,
        host: str | None,
        block_migration: bool | None,
    ) -> None:
        """Live migration (task_state ``migrating``): record the migration, pick and
        pre-check a destination, then hand over to the source host.  ``block_migration``
        None is "auto"."""
        self._cast(
            ctx,
            "live_migrate_instance",
            instance_uuid=instance_uuid,
            task_id=task_id,
            host=host,
            block_migration=block_migration,
        )
