"""Alembic environment: the models' metadata, the URL from the configuration."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import testbed.store.models  # noqa: F401 - registers every table
from testbed.store.base import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")


def run() -> None:
    """Run migrations online against the configured database."""
    engine = create_engine(str(url))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
