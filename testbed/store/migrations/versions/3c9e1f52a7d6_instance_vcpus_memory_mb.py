"""instances.vcpus and instances.memory_mb

The flavor's vCPUs and RAM on the instance row, as Nova keeps them: quota usage sums the
columns instead of parsing every instance's flavor snapshot.  Existing rows are filled
from their snapshot.

Revision ID: 3c9e1f52a7d6
Revises: aed37b004b4a
Create Date: 2026-11-24 04:25:00
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3c9e1f52a7d6"
down_revision: str | None = "aed37b004b4a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for name in ("vcpus", "memory_mb"):
        op.add_column(
            "instances", sa.Column(name, sa.Integer(), nullable=False, server_default="0")
        )
    instances = sa.table(
        "instances",
        sa.column("uuid", sa.String),
        sa.column("flavor", sa.JSON),
        sa.column("vcpus", sa.Integer),
        sa.column("memory_mb", sa.Integer),
    )
    bind = op.get_bind()
    for uuid, flavor in bind.execute(sa.select(instances.c.uuid, instances.c.flavor)).all():
        if isinstance(flavor, str):
            flavor = json.loads(flavor)
        flavor = flavor or {}
        bind.execute(
            instances.update()
            .where(instances.c.uuid == uuid)
            .values(
                vcpus=int(flavor.get("vcpus") or 0), memory_mb=int(flavor.get("memory_mb") or 0)
            )
        )


def downgrade() -> None:
    for name in ("memory_mb", "vcpus"):
        op.drop_column("instances", name)
