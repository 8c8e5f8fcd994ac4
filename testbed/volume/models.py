"""Tables of the volume service (Cinder's volumes and volume attachments).

Statuses are Cinder's: ``creating -> available -> reserved -> attaching -> in-use``
(and back through ``detaching``), ``deleting``, ``error``.  An attachment's
``attach_status`` is ``reserved``, ``attaching`` or ``attached``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from testbed.store.base import Base, TimestampMixin, new_uuid

__all__ = ["Volume", "VolumeAttachment"]


class Volume(TimestampMixin, Base):
    """A block device of ``size`` GiB.  ``provider_location`` is where the storage
    backend put it (the device path handed to hosts in ``connection_info``)."""

    __tablename__ = "volumes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    description: Mapped[str | None] = mapped_column(String(255), nullable=True)
    project_id: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    user_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32), default="creating")
    availability_zone: Mapped[str] = mapped_column(String(255), default="nova")
    bootable: Mapped[bool] = mapped_column(Boolean, default=False)
    multiattach: Mapped[bool] = mapped_column(Boolean, default=False)
    volume_type: Mapped[str] = mapped_column(String(255), default="__DEFAULT__")
    image_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    image_metadata: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", JSON, default=dict)
    provider_location: Mapped[str | None] = mapped_column(String(1024), nullable=True)


class VolumeAttachment(TimestampMixin, Base):
    """A volume reserved for, or attached to, an instance on a host."""

    __tablename__ = "volume_attachments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    volume_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("volumes.id", ondelete="CASCADE"), index=True
    )
    instance_uuid: Mapped[str] = mapped_column(String(36), index=True)
    attach_status: Mapped[str] = mapped_column(String(32), default="reserved")
    attach_mode: Mapped[str] = mapped_column(String(8), default="rw")
    connector: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    host_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    mountpoint: Mapped[str | None] = mapped_column(String(255), nullable=True)
    attached_at: Mapped[float | None] = mapped_column(Float, nullable=True)
