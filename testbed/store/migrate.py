"""Alembic migrations of the store, driven from Python (no alembic.ini needed).

testbed db upgrade --url postgresql+psycopg://...      (the CLI)
upgrade(url); pending_changes(url)                      (from code and tests)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

__all__ = ["alembic_config", "pending_changes", "revision", "upgrade"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> AlembicConfig:
    """An Alembic configuration for the database at ``url``."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, target: str = "head") -> None:
    """Migrate the database at ``url`` to ``target``."""
    command.upgrade(alembic_config(url), target)


def revision(url: str, message: str) -> None:
    """Autogenerate a new migration from the models (for developers)."""
    command.revision(alembic_config(url), message=message, autogenerate=True)


def pending_changes(url: str) -> list[Any]:
    """Differences between the migrated database and the models (empty when in step)."""
    import testbed.store.models  # noqa: F401 - registers every table
    from testbed.store.base import Base

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))
    finally:
        engine.dispose()
