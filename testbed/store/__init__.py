"""The SQL store: SQLAlchemy 2 models on SQLite by default, any SQLAlchemy URL accepted."""

from testbed.store.base import Base, TimestampMixin, new_uuid
from testbed.store.db import Store

__all__ = ["Base", "Store", "TimestampMixin", "new_uuid"]
