"""RPC client of the conductor (topic ``conductor``): the orchestrator of multi-host work."""

from __future__ import annotations

from typing import Any

from testbed.context import RequestContext
from testbed.rpc import RpcClient


class ConductorAPI(RpcClient):
    """What the api asks of the conductor."""

    topic = "conductor"

    def build_instances(
        self, ctx: RequestContext, instance_uuids: list[str], request_spec: dict[str, Any]
    ) -> None:
        """Schedule and build instances already recorded in the store (vm_state building,
        task_state scheduling).  Cast: the api answers 202 before this runs.

        ``request_spec``: ``{flavor: {...}, image: {...} | None, availability_zone,
        project_id, user_id, num_instances, scheduler_hints, requested_networks,
        block_device_mappings: [...], is_bfv, server_group: {uuid, policy} | None,
        force_hosts, force_nodes}``.
        """
        self._cast(ctx, "build_instances", instance_uuids=instance_uuids, request_spec=request_spec)

    def rebuild_instance(
        self, ctx: RequestContext, instance_uuid: str, task_id: str, rebuild: dict[str, Any]
    ) -> None:
        """Rebuild (same host) or evacuate (``rebuild["evacuate"]``: a destination is
        chosen and claimed, ``host``/``force`` as the API got them) an instance whose
        task_state the api set to ``rebuilding``.  ``rebuild``: ``{evacuate, host, force,
        image_ref, on_shared_storage, migration_uuid, target_state, orig_vm_state}``."""
        self._cast(
            ctx, "rebuild_instance", instance_uuid=instance_uuid, task_id=task_id, rebuild=rebuild
        )

    def reschedule_instance(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        request_spec: dict[str, Any],
        alternates: list[dict[str, Any]],
    ) -> None:
        """A compute host failed to spawn the instance (and dropped its claim): claim
        on the first alternate that still has room and build there, with the rest as
        alternates; with none left the instance goes to error (MaxRetriesExceeded)."""
        self._cast(
            ctx,
            "reschedule_instance",
            instance_uuid=instance_uuid,
            request_spec=request_spec,
            alternates=alternates,
        )
