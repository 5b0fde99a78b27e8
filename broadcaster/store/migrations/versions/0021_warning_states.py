"""warning states: per town, area and hazard, the weather-warning level it was last told

Revision ID: 0021_warning_states
Revises: 0001

One change of a town's warnings comes in up to three JMA formats until the older ones are retired;
the state lets the later formats of the same change send nothing new (docs/r06.md). Matches
broadcaster/store/tables.py. Only additions.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_warning_states"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "warning_states",
        sa.Column("tenant", sa.String(length=64), primary_key=True),
        sa.Column("area", sa.String(length=16), primary_key=True),
        sa.Column("hazard", sa.String(length=32), primary_key=True),
        sa.Column("low", sa.Integer(), nullable=False),
        sa.Column("high", sa.Integer(), nullable=False),
        sa.Column("nominal", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("told_by", sa.String(length=512), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("warning_states")
