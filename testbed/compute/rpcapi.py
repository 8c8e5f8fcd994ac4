"""RPC client of a compute host (topic ``compute.<host>``).

Every method that continues a task started by the api carries the instance's ``task_id``:
the manager refuses a mid-task update whose id is not the instance's current one (only
force delete pre-empts a running task).
"""

from __future__ import annotations

from typing import Any

from testbed.context import RequestContext
from testbed.rpc import RpcClient


def compute_topic(host: str) -> str:
    """The topic a compute host serves."""
    return f"compute.{host}"


class ComputeAPI(RpcClient):
    """What the api and the conductor ask of a compute host."""

    def _host_cast(self, ctx: RequestContext, host: str, method: str, **kwargs: Any) -> None:
        self._cast(ctx, method, topic=compute_topic(host), **kwargs)

    def build_and_run_instance(
        self,
        ctx: RequestContext,
        host: str,
        instance_uuid: str,
        request_spec: dict[str, Any],
        node: str,
        alternates: list[dict[str, Any]],
    ) -> None:
        """Build the instance on ``host`` (image, volumes, network, then the driver's
        spawn).  On a spawn failure the host gives the instance back to the conductor to
        reschedule on the next alternate."""
        self._host_cast(
            ctx,
            host,
            "build_and_run_instance",
            instance_uuid=instance_uuid,
            request_spec=request_spec,
            node=node,
            alternates=alternates,
        )

    def stop_instance(
        self,
        ctx: RequestContext,
        host: str,
        instance_uuid: str,
        task_id: str,
        clean_shutdown: bool = True,
    ) -> None:
        """Power off (task_state powering-off -> vm_state stopped)."""
        self._host_cast(
            ctx,
            host,
            "stop_instance",
            instance_uuid=instance_uuid,
            task_id=task_id,
            clean_shutdown=clean_shutdown,
        )

    def start_instance(
        self, ctx: RequestContext, host: str, instance_uuid: str, task_id: str
    ) -> None:
        """Power on (powering-on -> active)."""
        self._host_cast(ctx, host, "start_instance", instance_uuid=instance_uuid, task_id=task_id)

    def reboot_instance(
        self, ctx: RequestContext, host: str, instance_uuid: str, task_id: str, reboot_type: str
    ) -> None:
        """Reboot, ``SOFT`` or ``HARD``."""
        self._host_cast(
            ctx,
            host,
            "reboot_instance",
            instance_uuid=instance_uuid,
            task_id=task_id,
            reboot_type=reboot_type,
        )

    def pause_instance(
        self, ctx: RequestContext, host: str, instance_uuid: str, task_id: str
    ) -> None:
        """Pause (pausing -> paused)."""
        self._host_cast(ctx, host, "pause_instance", instance_uuid=instance_uuid, task_id=task_id)

    def unpause_instance(
        self, ctx: RequestContext, host: str, instance_uuid: str, task_id: str
    ) -> None:
        """Unpause (unpausing -> active)."""
        self._host_cast(ctx, host, "unpause_instance", instance_uuid=instance_uuid, task_id=task_id)

    def suspend_instance(
        self, ctx: RequestContext, host: str, instance_uuid: str, task_id: str
    ) -> None:
        """Suspend (suspending -> suspended; managed save)."""
        self._host_cast(ctx, host, "suspend_instance", instance_uuid=instance_uuid, task_id=task_id)

    def resume_instance(
        self, ctx: RequestContext, host: str, instance_uuid: str, task_id: str
    ) -> None:
        """Resume (resuming -> active)."""
        self._host_cast(ctx, host, "resume_instance", instance_uuid=instance_uuid, task_id=task_id)

    def terminate_instance(
        self, ctx: RequestContext, host: str, instance_uuid: str, task_id: str | None
    ) -> None:
        """Delete: destroy the guest, free ports, volumes and allocations, mark the row
        deleted.  ``task_id`` None is a force delete, which pre-empts any running task."""
        self._host_cast(
            ctx, host, "terminate_instance", instance_uuid=instance_uuid, task_id=task_id
        )

    def rebuild_instance(
        self,
        ctx: RequestContext,
        host: str,
        instance_uuid: str,
        task_id: str,
        rebuild: dict[str, Any],
    ) -> None:
        """Rebuild (rebuilding -> rebuild_block_device_mapping -> rebuild_spawning).

        ``rebuild``: ``{image_ref, evacuate: bool, on_shared_storage: bool | None,
        migration_uuid, node, node_uuid, availability_zone, source_host, target_state:
        "stopped" | None, orig_vm_state}``; with ``evacuate`` the instance of a failed
        host is recreated on ``host`` (see testbed/compute/rebuild.py)."""
        self._host_cast(
            ctx,
            host,
            "rebuild_instance",
            instance_uuid=instance_uuid,
            task_id=task_id,
            rebuild=rebuild,
        )

    def attach_volume(
        self,
        ctx: RequestContext,
        host: str,
        instance_uuid: str,
        volume_id: str,
        bdm_uuid: str,
        attachment_id: str,
    ) -> None:
        """Attach a volume the api has reserved.

        The api has already created the volume's attachment (``attaching``) and the
        BlockDeviceMapping row ``bdm_uuid`` (device_name, attachment_id).  The host
        gives its connector (``VolumeAPI.attachment_update``), connects the disk through
        the driver, stores ``connection_info`` on the BDM and completes the attachment
        (``in-use``).  On failure it deletes the attachment and the BDM row.
        """
        self._host_cast(
            ctx,
            host,
            "attach_volume",
            instance_uuid=instance_uuid,
            volume_id=volume_id,
            bdm_uuid=bdm_uuid,
            attachment_id=attachment_id,
        )

    def detach_volume(
        self,
        ctx: RequestContext,
        host: str,
        instance_uuid: str,
        volume_id: str,
        attachment_id: str | None,
    ) -> None:
        """Detach a volume: the driver disconnects the disk, the attachment is deleted
        (the volume is ``available`` again) and the BlockDeviceMapping row removed."""
        self._host_cast(
            ctx,
            host,
            "detach_volume",
            instance_uuid=instance_uuid,
            volume_id=volume_id,
            attachment_id=attachment_id,
        )
