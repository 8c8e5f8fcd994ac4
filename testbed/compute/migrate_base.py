"""What the compute host's move handlers (testbed/compute/migrate.py, live.py) share: the
parts of the manager they use, and moving volume attachments between hosts.

Volumes follow Nova's attachment flow: a move gives each volume a new attachment for
the destination (created, then updated with the destination's connector, which returns
its ``connection_info``, then completed once connected); the source's attachment is
deleted once the move is final, or the new one is deleted when it is rolled back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from testbed.compute.migrate_records import MigrationRecords
from testbed.compute.records import InstanceRecords, block_device_info
from testbed.context import RequestContext

if TYPE_CHECKING:
    from testbed.compute.locks import KeyedLock
    from testbed.network.rpcapi import NetworkAPI
    from testbed.service import Runtime
    from testbed.virt.driver import ComputeDriver
    from testbed.volume.rpcapi import VolumeAPI

__all__ = ["MoveHandlerBase", "quietly"]

LOG = logging.getLogger(__name__)

Instance = dict[str, Any]


def quietly(what: str, fn: Callable[[], Any]) -> None:
    """Run a clean-up step; log, never raise."""
    try:
        fn()
    except Exception as exc:
        LOG.warning("move clean-up: %s failed: %s", what, exc)


class MoveHandlerBase:
    """The manager's parts the move handlers use (the manager provides them)."""

    runtime: Runtime
    host: str
    driver: ComputeDriver
    records: InstanceRecords
    locks: KeyedLock
    network_api: NetworkAPI
    volume_api: VolumeAPI
    availability_zone: str | None

    @property
    def migrations(self) -> MigrationRecords:
        """Migration rows."""
        return MigrationRecords(self.runtime, self.host)

    def _move_bdi(self, inst: Instance, bdms: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        if bdms is None:
            bdms = self.records.block_device_mappings(inst["uuid"])
        return block_device_info(inst, bdms)

    def _power(self, inst: Instance) -> int:
        from testbed.compute.states import power_state
        from testbed.virt.driver import GuestNotFound

        try:
            return self.driver.get_info(inst).state
        except GuestNotFound:
            return power_state.NOSTATE
        except Exception as exc:  # the hypervisor does not answer: keep what we knew
            LOG.warning("power state of %s on %s unknown: %s", inst["uuid"], self.host, exc)
            return int(inst.get("power_state") or power_state.NOSTATE)

    def _connector(self) -> dict[str, Any]:
        return {"host": self.host, "platform": "x86_64", "os_type": "linux"}

    # -- volumes ------------------------------------------------------------------------------
    def _new_attachments(
        self, ctx: RequestContext, inst: Instance, bdms: list[dict[str, Any]] | None = None
    ) -> dict[str, dict[str, Any]]:
        """A new attachment per volume for this host, connected: ``{bdm id: {attachment_id,
        connection_info, old_attachment_id}}`` (the old ones stay until the move is final).
        ``bdms``: the instance's block device mappings, if the caller has them."""
        if bdms is None:
            bdms = self.records.block_device_mappings(inst["uuid"])
        created: dict[str, dict[str, Any]] = {}
        try:
            for bdm in bdms:
                if bdm["destination_type"] != "volume" or not bdm["volume_id"]:
                    continue
                new = self.volume_api.attachment_create(ctx, bdm["volume_id"], inst["uuid"])["id"]
                created[str(bdm["id"])] = {"attachment_id": new}
                attachment = self.volume_api.attachment_update(ctx, new, self._connector())
                created[str(bdm["id"])].update(
                    connection_info=attachment.get("connection_info"),
                    old_attachment_id=bdm["attachment_id"],
                )
        except Exception:
            self._drop_attachments(ctx, created)
            raise
        return created

    def _drop_attachments(self, ctx: RequestContext, created: dict[str, dict[str, Any]]) -> None:
        for entry in created.values():
            self._delete_attachment(ctx, str(entry["attachment_id"]))

    def _switch_attachments(self, ctx: RequestContext, created: dict[str, dict[str, Any]]) -> None:
        """Make the new attachments the instance's (completed) and delete the old ones."""
        for bdm_id, entry in created.items():
            self.volume_api.attachment_complete(ctx, entry["attachment_id"])
            self.records.update_bdm(
                int(bdm_id),
                attachment_id=entry["attachment_id"],
                connection_info=entry.get("connection_info"),
            )
            old = entry.get("old_attachment_id")
            if old:
                self._delete_attachment(ctx, str(old))

    def _delete_attachment(self, ctx: RequestContext, attachment_id: str) -> None:
        quietly(
            f"delete attachment {attachment_id}",
            lambda: self.volume_api.attachment_delete(ctx, attachment_id),
        )

    def _bdi_with(
        self,
        inst: Instance,
        created: dict[str, dict[str, Any]],
        bdms: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """``block_device_info`` using the new attachments' connection_info (``bdms`` as
        in :meth:`_new_attachments`)."""
        if bdms is None:
            bdms = self.records.block_device_mappings(inst["uuid"])
        with_new = [
            {**b, "connection_info": created[str(b["id"])].get("connection_info")}
            if str(b["id"]) in created
            else b
            for b in bdms
        ]
        return block_device_info(inst, with_new)
