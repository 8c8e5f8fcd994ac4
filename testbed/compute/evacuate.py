"""Evacuation on the compute side: the destination's steps, and the failed host's return.

The api records a migration of type ``evacuation`` (status ``accepted``) and sets the
instance ``rebuilding``; the conductor picks (and claims) a destination and casts
``rebuild_instance`` there with ``evacuate``.  On the destination
(:class:`Evacuation`, used by :mod:`testbed.compute.rebuild`):

- the migration goes ``pre-migrating``; whether the instance's disk is visible here
  (shared instance storage) is detected with the driver's ``instance_on_disk``; an
  explicit ``onSharedStorage`` (below microversion 2.14) that contradicts it fails the
  evacuation, as Nova's ``InvalidSharedStorage``;
- the instance's ports are bound to this host; each volume gets a new attachment with
  this host's connector (the old one is deleted);
- the guest is spawned on the existing disk (shared storage: the data survives) or on a
  new disk from the image;
- on success the instance moves here (host, node, zone), the migration is ``done`` and
  the failed host's allocation is dropped.  (Nova keeps that allocation until the failed
  host's compute service comes back; the test-bed frees it at once, so usage always
  equals what each node holds.)

:func:`destroy_evacuated_instances` runs when a compute service starts (Nova's
``_destroy_evacuated_instances`` in ``init_host``): guests still defined here for
instances evacuated away are destroyed — their disks kept when the instance's new host
shares this host's instances directory — and those migrations become ``completed``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from testbed.compute.models import ComputeNode, Instance, Migration
from testbed.compute.records import instance_payload
from testbed.context import RequestContext
from testbed.exceptions import CloudError
from testbed.scheduler import claims
from testbed.service import Runtime
from testbed.virt.driver import GuestNotFound

if TYPE_CHECKING:
    from testbed.compute.manager import ComputeManager

__all__ = [
    "EVACUATION",
    "Evacuation",
    "InvalidSharedStorage",
    "destroy_evacuated_instances",
    "set_migration",
]

LOG = logging.getLogger(__name__)

EVACUATION = "evacuation"
# Evacuations whose source must clean up when it comes back (Nova's filter).
_SOURCE_CLEANUP_STATUSES = ("accepted", "pre-migrating", "done")


class InvalidSharedStorage(CloudError):
    """onSharedStorage said otherwise than what the destination sees."""

    code = 400
    msg_fmt = "Invalid state of instance files on shared storage"


def set_migration(runtime: Runtime, migration_uuid: str | None, **values: Any) -> None:
    """Update a migration row (status, dest_compute, ...), if there is one."""
    if not migration_uuid:
        return
    with runtime.store.session() as session:
        row = session.scalars(select(Migration).where(Migration.uuid == migration_uuid)).first()
        if row is not None:
            for name, value in values.items():
                setattr(row, name, value)


def shares_instance_storage(runtime: Runtime, host_a: str | None, host_b: str | None) -> bool:
    """Whether two hosts mount the same instances directory (their compute nodes'
    ``shared_storage``)."""
    if not host_a or not host_b:
        return False
    with runtime.store.session() as session:
        names = {
            row.host: row.shared_storage
            for row in session.scalars(
                select(ComputeNode).where(ComputeNode.host.in_((host_a, host_b)))
            )
        }
    shared = names.get(host_a)
    return bool(shared) and shared == names.get(host_b)


class Evacuation:
    """The destination's part of one evacuation (``rebuild`` as the conductor sent it)."""

    def __init__(self, manager: ComputeManager, rebuild: dict[str, Any]) -> None:
        self.manager = manager
        self.runtime = manager.runtime
        self.host = manager.host
        self.rebuild = rebuild
        self.migration_uuid: str | None = rebuild.get("migration_uuid")
        self.source_host: str | None = rebuild.get("source_host")
        self.reused_disks = False

    def shared_storage(self, inst: dict[str, Any]) -> bool:
        """Start: the migration is ``pre-migrating``; True when the instance's disk is
        here already (shared storage), checked against an explicit onSharedStorage."""
        set_migration(self.runtime, self.migration_uuid, status="pre-migrating")
        detected = self.manager.driver.instance_on_disk(inst)
        requested = self.rebuild.get("on_shared_storage")
        if requested is not None and bool(requested) != detected:
            raise InvalidSharedStorage()
        if detected:
            LOG.info("evacuating %s using its existing disk (shared storage)", inst["uuid"])
        else:
            LOG.info("evacuating %s from its image (no shared storage)", inst["uuid"])
        self.reused_disks = detected
        return detected

    def bind_ports(self, ctx: RequestContext, inst: dict[str, Any]) -> list[dict[str, Any]]:
        """Bind the instance's ports to this host; the network_info after it."""
        network = self.manager.network_api
        if not inst.get("network_info"):
            return []
        network.bind_ports_to_host(ctx, inst["uuid"], self.host)
        return network.get_instance_nw_info(ctx, inst["uuid"])

    def attach_volumes(
        self, ctx: RequestContext, inst: dict[str, Any], bdms: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """A new attachment per volume for this host's connector; the old one goes."""
        volume_api = self.manager.volume_api
        connector = {"host": self.host, "platform": "x86_64", "os_type": "linux"}
        for bdm in bdms:
            if bdm["destination_type"] != "volume" or not bdm["volume_id"]:
                continue
            old = bdm["attachment_id"]
            new = volume_api.attachment_create(ctx, bdm["volume_id"], inst["uuid"])["id"]
            attachment = volume_api.attachment_update(ctx, new, connector)
            volume_api.attachment_complete(ctx, new)
            if old:
                try:
                    volume_api.attachment_delete(ctx, old)
                except CloudError as exc:
                    LOG.warning("evacuation: old attachment %s not deleted: %s", old, exc)
            bdm.update(attachment_id=new, connection_info=attachment.get("connection_info"))
            self.manager.records.update_bdm(
                bdm["id"], attachment_id=new, connection_info=bdm["connection_info"]
            )
        return bdms

    def placement(self) -> dict[str, Any]:
        """The instance's new host, node and availability zone."""
        values: dict[str, Any] = {"host": self.host, "node": self.rebuild.get("node")}
        if self.rebuild.get("availability_zone"):
            values["availability_zone"] = self.rebuild["availability_zone"]
        return values

    def finish(self, ctx: RequestContext, uuid: str) -> None:
        """The instance runs here: migration ``done``, the failed host's claim dropped."""
        set_migration(
            self.runtime,
            self.migration_uuid,
            status="done",
            dest_compute=self.host,
            dest_host=self.host,
            dest_node=self.rebuild.get("node"),
        )
        if self.source_host and self.source_host != self.host:
            with self.runtime.store.session() as session:
                claims.release(session, uuid, host=self.source_host, tracer=self.runtime.tracer)

    def abandon(
        self,
        ctx: RequestContext,
        uuid: str,
        *,
        destroy: dict[str, Any] | None = None,
        status: str = "failed",
    ) -> None:
        """The evacuation stops here: undo the guest, give this host's claim back."""
        if destroy is not None:
            try:
                self.manager.driver.destroy(destroy, [], None, destroy_disks=not self.reused_disks)
            except GuestNotFound:
                pass
            except Exception as exc:
                LOG.warning("evacuation clean-up of %s on %s: %s", uuid, self.host, exc)
        set_migration(self.runtime, self.migration_uuid, status=status)
        with self.runtime.store.session() as session:
            claims.release(session, uuid, host=self.host, tracer=self.runtime.tracer)


def destroy_evacuated_instances(manager: ComputeManager) -> list[str]:
    """On start: destroy local guests of instances evacuated away; returns their uuids."""
    runtime, host = manager.runtime, manager.host
    with runtime.store.session() as session:
        migrations = [
            (m.uuid, m.instance_uuid)
            for m in session.scalars(
                select(Migration).where(
                    Migration.source_compute == host,
                    Migration.migration_type == EVACUATION,
                    Migration.status.in_(_SOURCE_CLEANUP_STATUSES),
                )
            )
        ]
        instances = {
            row.uuid: instance_payload(row)
            for row in session.scalars(
                select(Instance).where(Instance.uuid.in_([i for _, i in migrations]))
            )
        }
    if not migrations:
        return []
    try:
        local = set(manager.driver.list_instance_uuids())
    except Exception as exc:
        LOG.warning("cannot list the guests of %s to clean up evacuations: %s", host, exc)
        return []
    destroyed: list[str] = []
    for migration_uuid, uuid in migrations:
        inst = instances.get(uuid)
        if uuid in local and inst is not None:
            LOG.info(
                "Destroying instance %s as it has been evacuated from this host but still "
                "exists in the hypervisor",
                uuid,
            )
            keep_disks = shares_instance_storage(runtime, host, inst["host"])
            try:
                manager.driver.destroy(inst, [], None, destroy_disks=not keep_disks)
                destroyed.append(uuid)
            except Exception as exc:
                LOG.warning("destroying evacuated %s on %s failed: %s", uuid, host, exc)
                continue
        set_migration(runtime, migration_uuid, status="completed")
    return destroyed
