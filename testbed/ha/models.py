"""The HA engine's table: one notification per host failure it handled (Masakari's
notifications, with the per-instance outcome of the recovery)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from testbed.store.base import Base, TimestampMixin, new_uuid

__all__ = ["HANotification"]


class HANotification(TimestampMixin, Base):
    """A failed compute host and its recovery.

    ``status``: ``running`` -> ``finished`` (every instance recovered) or ``failed``
    (some could not be); ``instances``: one dict per instance of the host: ``uuid``,
    ``vm_state`` / ``task_state`` before, ``reset`` (put in error first), ``attempts``
    (method and target host of each evacuation tried), ``status`` pending | recovered |
    failed | skipped, ``host`` (where it ended), ``message``.
    """

    __tablename__ = "ha_notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), default=new_uuid, unique=True)
    type: Mapped[str] = mapped_column(String(32), default="COMPUTE_HOST")
    hostname: Mapped[str] = mapped_column(String(255), index=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    recovery_method: Mapped[str] = mapped_column(String(32))
    instances: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    message: Mapped[str | None] = mapped_column(String(255), nullable=True)
