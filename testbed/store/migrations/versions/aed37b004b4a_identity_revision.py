"""identity revision

The one-row table whose random value changes with every identity write; token validation
reuses its results while the value stays the same (testbed/identity/revision.py).  The row
is created here, with a random value of its own.

Revision ID: aed37b004b4a
Revises: 8d945474dcea
Create Date: 2026-11-24 04:07:37.527964
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "aed37b004b4a"
down_revision: str | None = "8d945474dcea"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "identity_revision",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("revision", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(table, [{"id": 1, "revision": uuid.uuid4().hex}])


def downgrade() -> None:
    op.drop_table("identity_revision")
