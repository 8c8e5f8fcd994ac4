"""The compute domain's tables: instances and everything the compute services share.

Shared by the api, conductor, scheduler and compute manager (as Nova's cell database is).
Identity, image, network and volume keep their own tables in their own packages.
Times are clock seconds (floats); JSON columns hold plain dicts and lists.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from testbed.store.base import Base, TimestampMixin, new_uuid

__all__ = [
    "Allocation",
    "BlockDeviceMapping",
    "ComputeNode",
    "Flavor",
    "Instance",
    "InstanceAction",
    "InstanceActionEvent",
    "InstanceFault",
    "Migration",
    "Quota",
    "ServerGroup",
    "ServerGroupMember",
    "Service",
    "flavor_totals",
]


class Flavor(TimestampMixin, Base):
    """A size of server.  ``flavorid`` is what the API calls its id."""

    __tablename__ = "flavors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flavorid: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    vcpus: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    root_gb: Mapped[int] = mapped_column(Integer, default=0)
    ephemeral_gb: Mapped[int] = mapped_column(Integer, default=0)
    swap: Mapped[int] = mapped_column(Integer, default=0)
    rxtx_factor: Mapped[float] = mapped_column(Float, default=1.0)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    extra_specs: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


class Instance(TimestampMixin, Base):
    """A server.  The compute manager owns vm_state / task_state / power_state changes.

    ``flavor`` is a snapshot of the flavor the instance runs with (dict of the Flavor's
    columns); during a resize ``old_flavor`` and ``new_flavor`` hold both sides.
    ``task_id`` identifies the running task: a mid-task update must present it.
    """

    __tablename__ = "instances"
    __trace_state__ = ("vm_state", "task_state", "power_state")

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    display_name: Mapped[str] = mapped_column(String(255), default="")
    hostname: Mapped[str] = mapped_column(String(255), default="")
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[str] = mapped_column(String(255))
    host: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    node: Mapped[str | None] = mapped_column(String(255), nullable=True)
    availability_zone: Mapped[str | None] = mapped_column(String(255), nullable=True)
    image_ref: Mapped[str | None] = mapped_column(String(255), nullable=True)
    flavor: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    old_flavor: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    new_flavor: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    vm_state: Mapped[str] = mapped_column(String(255), default="building")
    task_state: Mapped[str | None] = mapped_column(String(255), nullable=True)
    power_state: Mapped[int] = mapped_column(Integer, default=0)
    task_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    launched_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    terminated_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    deleted_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", JSON, default=dict)
    user_data: Mapped[str | None] = mapped_column(Text, nullable=True)
    key_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    reservation_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    launch_index: Mapped[int] = mapped_column(Integer, default=0)
    root_device_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    access_ip_v4: Mapped[str | None] = mapped_column(String(39), nullable=True)
    access_ip_v6: Mapped[str | None] = mapped_column(String(39), nullable=True)
    network_info: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    requested_networks: Mapped[Any] = mapped_column(JSON, nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: the flavor's vCPUs and RAM, as Nova keeps them on the row (quota sums them; summing
    #: them out of the JSON snapshot cost a parse per instance per create).  Always set
    #: from ``flavor`` (:func:`flavor_totals`), never on their own.
    vcpus: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    memory_mb: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


def flavor_totals(flavor: dict[str, Any] | None) -> dict[str, int]:
    """The ``vcpus`` and ``memory_mb`` columns of an instance running ``flavor``."""
    flavor = flavor or {}
    return {"vcpus": int(flavor.get("vcpus") or 0), "memory_mb": int(flavor.get("memory_mb") or 0)}


@event.listens_for(Instance.flavor, "set")
def _flavor_set(target: Instance, value: Any, _old: Any, _initiator: Any) -> None:
    """ORM writes of ``flavor`` carry its totals along."""
    for name, total in flavor_totals(value).items():
        setattr(target, name, total)


class InstanceFault(Base):
    """Why an instance went to ERROR (shown as the server's ``fault``)."""

    __tablename__ = "instance_faults"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_uuid: Mapped[str] = mapped_column(String(36), index=True)
    code: Mapped[int] = mapped_column(Integer, default=500)
    message: Mapped[str] = mapped_column(String(255))
    details: Mapped[str] = mapped_column(Text, default="")
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[float] = mapped_column(Float, default=0.0)


class Service(TimestampMixin, Base):
    """A running service (nova-compute on a host, nova-conductor, nova-scheduler...).

    ``last_seen_up`` is the clock time of its last heartbeat; the service is down when
    that is older than ``service_down_time`` or when ``forced_down`` is set.
    """

    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("host", "binary"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), default=new_uuid, unique=True)
    host: Mapped[str] = mapped_column(String(255))
    binary: Mapped[str] = mapped_column(String(255))
    topic: Mapped[str] = mapped_column(String(255))
    availability_zone: Mapped[str] = mapped_column(String(255), default="nova")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    forced_down: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen_up: Mapped[float | None] = mapped_column(Float, nullable=True)
    report_count: Mapped[int] = mapped_column(Integer, default=0)


class ComputeNode(TimestampMixin, Base):
    """A hypervisor: capacity and what is used of it.  Usage is kept by the scheduler's
    claims (the allocations) and reported by the compute host."""

    __tablename__ = "compute_nodes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), default=new_uuid, unique=True)
    host: Mapped[str] = mapped_column(String(255), index=True)
    hypervisor_hostname: Mapped[str] = mapped_column(String(255), unique=True)
    hypervisor_type: Mapped[str] = mapped_column(String(255), default="QEMU")
    hypervisor_version: Mapped[int] = mapped_column(Integer, default=0)
    host_ip: Mapped[str] = mapped_column(String(39), default="127.0.0.1")
    vcpus: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    local_gb: Mapped[int] = mapped_column(Integer)
    vcpus_used: Mapped[int] = mapped_column(Integer, default=0)
    memory_mb_used: Mapped[int] = mapped_column(Integer, default=0)
    local_gb_used: Mapped[int] = mapped_column(Integer, default=0)
    running_vms: Mapped[int] = mapped_column(Integer, default=0)
    cpu_info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    cpu_allocation_ratio: Mapped[float] = mapped_column(Float, default=16.0)
    ram_allocation_ratio: Mapped[float] = mapped_column(Float, default=1.5)
    disk_allocation_ratio: Mapped[float] = mapped_column(Float, default=1.0)
    shared_storage: Mapped[str | None] = mapped_column(
        String(255), nullable=True, doc="name of the instances filesystem shared with peers"
    )


class Allocation(Base):
    """Resources a consumer (an instance, or a migration holding the source side) uses on a
    compute node.  Placement's allocations, kept in one table."""

    __tablename__ = "allocations"
    __table_args__ = (UniqueConstraint("consumer_uuid", "node_uuid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    consumer_uuid: Mapped[str] = mapped_column(String(36), index=True)
    node_uuid: Mapped[str] = mapped_column(String(36), index=True)
    host: Mapped[str] = mapped_column(String(255))
    vcpus: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    disk_gb: Mapped[int] = mapped_column(Integer)
    project_id: Mapped[str | None] = mapped_column(String(255), nullable=True)


class Migration(TimestampMixin, Base):
    """A move of an instance: resize, migration, live-migration or evacuation."""

    __tablename__ = "migrations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), default=new_uuid, unique=True)
    instance_uuid: Mapped[str] = mapped_column(String(36), index=True)
    migration_type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32), index=True)
    source_compute: Mapped[str | None] = mapped_column(String(255), nullable=True)
    dest_compute: Mapped[str | None] = mapped_column(String(255), nullable=True)
    source_node: Mapped[str | None] = mapped_column(String(255), nullable=True)
    dest_node: Mapped[str | None] = mapped_column(String(255), nullable=True)
    dest_host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    old_flavor_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    new_flavor_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    memory_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    memory_processed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    memory_remaining: Mapped[int | None] = mapped_column(Integer, nullable=True)
    disk_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    disk_processed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    disk_remaining: Mapped[int | None] = mapped_column(Integer, nullable=True)
    user_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    project_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class InstanceAction(Base):
    """One API action on an instance (os-instance-actions)."""

    __tablename__ = "instance_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_uuid: Mapped[str] = mapped_column(String(36), index=True)
    request_id: Mapped[str] = mapped_column(String(255), index=True)
    action: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    user_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    start_time: Mapped[float] = mapped_column(Float)
    finish_time: Mapped[float | None] = mapped_column(Float, nullable=True)
    message: Mapped[str | None] = mapped_column(String(255), nullable=True)
    updated_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    events: Mapped[list[InstanceActionEvent]] = relationship(
        back_populates="action", cascade="all, delete-orphan", order_by="InstanceActionEvent.id"
    )


class InstanceActionEvent(Base):
    """A step of an action (compute_stop_instance, conductor_migrate_server, ...)."""

    __tablename__ = "instance_action_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("instance_actions.id"), index=True)
    event: Mapped[str] = mapped_column(String(255))
    start_time: Mapped[float] = mapped_column(Float)
    finish_time: Mapped[float | None] = mapped_column(Float, nullable=True)
    result: Mapped[str | None] = mapped_column(String(255), nullable=True)
    traceback: Mapped[str | None] = mapped_column(Text, nullable=True)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    details: Mapped[str | None] = mapped_column(Text, nullable=True)
    action: Mapped[InstanceAction] = relationship(back_populates="events")


class BlockDeviceMapping(TimestampMixin, Base):
    """How a volume or image backs a device of an instance."""

    __tablename__ = "block_device_mappings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), default=new_uuid, unique=True)
    instance_uuid: Mapped[str] = mapped_column(String(36), index=True)
    source_type: Mapped[str] = mapped_column(String(32))
    destination_type: Mapped[str] = mapped_column(String(32))
    boot_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    device_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    volume_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    image_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    volume_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    delete_on_termination: Mapped[bool] = mapped_column(Boolean, default=False)
    attachment_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    connection_info: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class ServerGroup(TimestampMixin, Base):
    """os-server-groups: affinity / anti-affinity (and the soft variants)."""

    __tablename__ = "server_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), default=new_uuid, unique=True)
    name: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str] = mapped_column(String(255))
    policy: Mapped[str] = mapped_column(String(32))
    rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ServerGroupMember(Base):
    """An instance in a server group."""

    __tablename__ = "server_group_members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_uuid: Mapped[str] = mapped_column(String(36), index=True)
    instance_uuid: Mapped[str] = mapped_column(String(36), unique=True)


class Quota(Base):
    """A per-project override of a default quota limit (-1 is unlimited)."""

    __tablename__ = "quotas"
    __table_args__ = (UniqueConstraint("project_id", "resource"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(String(255))
    resource: Mapped[str] = mapped_column(String(255))
    hard_limit: Mapped[int] = mapped_column(Integer)
