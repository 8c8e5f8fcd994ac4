"""The declarative base all services' models derive from.

Each service package keeps its tables in its own ``models.py``; importing
:mod:`testbed.store.models` imports them all so the metadata is complete.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from sqlalchemy import Float
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Base", "TimestampMixin", "new_uuid"]


def new_uuid() -> str:
    """A fresh UUID in its canonical string form."""
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    """Declarative base.  ``__trace_state__`` names columns whose changes the trace records
    as ``state`` events (the instance state timeline)."""

    __trace_state__: ClassVar[tuple[str, ...]] = ()


class TimestampMixin:
    """created_at / updated_at in clock seconds (the store sets them from the clock)."""

    created_at: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[float | None] = mapped_column(Float, nullable=True, default=None)
