"""delivery statistics read back from the providers

Revision ID: 0012_delivery_stats
Revises: 0001

Matches delivery_stats at the end of broadcaster/store/tables.py. A new table only, on a branch
of its own from 0001 (docs/developing.md): `broadcaster db upgrade` applies every head.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_delivery_stats"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delivery_stats",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("alert_id", sa.String(length=512), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("delivered", sa.Integer(), nullable=True),
        sa.Column("opened", sa.Integer(), nullable=True),
        sa.Column("clicked", sa.Integer(), nullable=True),
        sa.Column("fetched", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "alert_id", "channel", "ref"),
    )


def downgrade() -> None:
    op.drop_table("delivery_stats")
