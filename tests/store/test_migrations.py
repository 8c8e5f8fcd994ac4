"""The Alembic path on real SQL servers: migrate an empty database to head, and find the
schema in step with the models."""

from __future__ import annotations

import pytest

from testbed.store.migrate import MIGRATIONS, pending_changes, upgrade

from .conftest import SERVERS, scratch_database

MIGRATION_FILES = sorted((MIGRATIONS / "versions").glob("*.py"))


@pytest.mark.skipif(not MIGRATION_FILES, reason="no migration generated yet")
@pytest.mark.parametrize("kind", sorted(SERVERS))
def test_upgrade_to_head_leaves_no_pending_changes(kind: str):
    with scratch_database(kind) as url:
        upgrade(url)
        assert pending_changes(url) == []
        upgrade(url)  # at head already: nothing to do, nothing fails
