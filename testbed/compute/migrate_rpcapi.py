"""RPC client of a compute host for moves (topic ``compute.<host>``): cold migration,
resize, and live migration.

Steps that continue the instance's task carry its ``task_id`` (the task-id rule); the
migration travels as its uuid.  Pre-checks and the steps the source waits for are calls;
the rest are casts.
"""

from __future__ import annotations

from typing import Any

from testbed.compute.rpcapi import compute_topic
from testbed.context import RequestContext
from testbed.rpc import RpcClient

__all__ = ["MigrationComputeAPI"]


class MigrationComputeAPI(RpcClient):
    """What the api, the conductor and other compute hosts ask of a host about moves."""

    def _host_cast(self, ctx: RequestContext, host: str, method: str, **kwargs: Any) -> None:
        self._cast(ctx, method, topic=compute_topic(host), **kwargs)

    def _host_call(self, ctx: RequestContext, host: str, method: str, **kwargs: Any) -> Any:
        return self._call(ctx, method, topic=compute_topic(host), **kwargs)

    # -- cold migration and resize ----------------------------------------------------------
    def prep_resize(
        self,
        ctx: RequestContext,
        host: str,
        instance_uuid: str,
        task_id: str,
        migration_uuid: str,
        flavor: dict[str, Any],
    ) -> None:
        """Destination: take the move (records both flavors), then ask the source to
        send the instance."""
        self._host_cast(
            ctx,
            host,
            "prep_resize",
            instance_uuid=instance_uuid,
            task_id=task_id,
            migration_uuid=migration_uuid,
            flavor=flavor,
        )

    def resize_instance(
        self, ctx: RequestContext, host: str, instance_uuid: str, task_id: str, migration_uuid: str
    ) -> None:
        """Source: stop the guest, copy its disks, hand its volumes over
        (``resize_migrating`` -> ``resize_migrated``)."""
        self._host_cast(
            ctx,
            host,
            "resize_instance",
            instance_uuid=instance_uuid,
            task_id=task_id,
            migration_uuid=migration_uuid,
        )

    def finish_resize(
        self, ctx: RequestContext, host: str, instance_uuid: str, task_id: str, migration_uuid: str
    ) -> None:
        """Destination: start the guest with the new flavor (``resize_finish`` ->
        vm_state resized)."""
        self._host_cast(
            ctx,
            host,
            "finish_resize",
            instance_uuid=instance_uuid,
            task_id=task_id,
            migration_uuid=migration_uuid,
        )

    def confirm_resize(
        self,
        ctx: RequestContext,
        host: str,
        instance_uuid: str,
        task_id: str | None,
        migration_uuid: str,
    ) -> None:
        """Source: remove the old guest and drop the source allocation.  ``task_id``
        None: the instance is being deleted (only the source is cleaned up)."""
        self._host_cast(
            ctx,
            host,
            "confirm_resize",
            instance_uuid=instance_uuid,
            task_id=task_id,
            migration_uuid=migration_uuid,
        )

    def revert_resize(
        self, ctx: RequestContext, host: str, instance_uuid: str, task_id: str, migration_uuid: str
    ) -> None:
        """Destination: remove the new guest, then hand back to the source."""
        self._host_cast(
            ctx,
            host,
            "revert_resize",
            instance_uuid=instance_uuid,
            task_id=task_id,
            migration_uuid=migration_uuid,
        )

    def finish_revert_resize(
        self, ctx: RequestContext, host: str, instance_uuid: str, task_id: str, migration_uuid: str
    ) -> None:
        """Source: start the old guest again with the old flavor."""
        self._host_cast(
            ctx,
            host,
            "finish_revert_resize",
            instance_uuid=instance_uuid,
            task_id=task_id,
            migration_uuid=migration_uuid,
        )

    # -- live migration ---------------------------------------------------------------------
    def check_can_live_migrate_destination(
        self,
        ctx: RequestContext,
        host: str,
        instance_uuid: str,
        block_migration: bool | None,
        source: str,
        src_cpu_info: dict[str, Any],
    ) -> dict[str, Any]:
        """Destination pre-check (it asks the source for its half); returns the
        migrate data.  Raises when the migration cannot be done."""
        result: dict[str, Any] = self._host_call(
            ctx,
            host,
            "check_can_live_migrate_destination",
            instance_uuid=instance_uuid,
            block_migration=block_migration,
            source=source,
            src_cpu_info=src_cpu_info,
        )
        return result

    def check_can_live_migrate_source(
        self, ctx: RequestContext, host: str, instance_uuid: str, dest_check_data: dict[str, Any]
    ) -> dict[str, Any]:
        """Source pre-check: shared instances path, volume-backed, block or not."""
        result: dict[str, Any] = self._host_call(
            ctx,
            host,
            "check_can_live_migrate_source",
            instance_uuid=instance_uuid,
            dest_check_data=dest_check_data,
        )
        return result

    def live_migration(
        self,
        ctx: RequestContext,
        host: str,
        instance_uuid: str,
        task_id: str,
        migration_uuid: str,
        dest: str,
        migrate_data: dict[str, Any],
    ) -> None:
        """Source: prepare the destination, move the guest, then finish or roll back."""
        self._host_cast(
            ctx,
            host,
            "live_migration",
            instance_uuid=instance_uuid,
            task_id=task_id,
            migration_uuid=migration_uuid,
            dest=dest,
            migrate_data=migrate_data,
        )

    def pre_live_migration(
        self, ctx: RequestContext, host: str, instance_uuid: str, migrate_data: dict[str, Any]
    ) -> dict[str, Any]:
        """Destination: volume attachments for this host, disks for a block migration."""
        result: dict[str, Any] = self._host_call(
            ctx, host, "pre_live_migration", instance_uuid=instance_uuid, migrate_data=migrate_data
        )
        return result

    def post_live_migration_at_destination(
        self,
        ctx: RequestContext,
        host: str,
        instance_uuid: str,
        task_id: str,
        migration_uuid: str,
        dest_node: str | None,
        migrate_data: dict[str, Any],
    ) -> dict[str, Any]:
        """Destination, after the switchover: ports, volumes and the instance's host and
        node (``dest_node``, the migration's); returns what the source records on the
        migration (``downtime_ms``)."""
        result: dict[str, Any] = self._host_call(
            ctx,
            host,
            "post_live_migration_at_destination",
            instance_uuid=instance_uuid,
            task_id=task_id,
            migration_uuid=migration_uuid,
            dest_node=dest_node,
            migrate_data=migrate_data,
        )
        return result

    def rollback_live_migration_at_destination(
        self, ctx: RequestContext, host: str, instance_uuid: str, migrate_data: dict[str, Any]
    ) -> None:
        """Destination, after a failure: remove the guest, created disks, attachments."""
        self._host_call(
            ctx,
            host,
            "rollback_live_migration_at_destination",
            instance_uuid=instance_uuid,
            migrate_data=migrate_data,
        )

    def live_migration_abort(
        self, ctx: RequestContext, host: str, instance_uuid: str, migration_uuid: str
    ) -> None:
        """Source: abort the running live migration (it rolls back, ``cancelled``)."""
        self._host_cast(
            ctx,
            host,
            "live_migration_abort",
            instance_uuid=instance_uuid,
            migration_uuid=migration_uuid,
        )

    def live_migration_force_complete(
        self, ctx: RequestContext, host: str, instance_uuid: str, migration_uuid: str
    ) -> None:
        """Source: switch the running live migration to post-copy (or pause the guest)."""
        self._host_cast(
            ctx,
            host,
            "live_migration_force_complete",
            instance_uuid=instance_uuid,
            migration_uuid=migration_uuid,
        )
