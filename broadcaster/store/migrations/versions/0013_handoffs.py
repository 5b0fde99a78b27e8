"""texts handed to an officer to send by hand (緊急速報メール without a carrier link)

Revision ID: 0013_handoffs
Revises: 0001

Matches handoffs in broadcaster/store/tables.py (broadcaster/store/handoffs.py). A new table only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_handoffs"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handoffs",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("alert_id", sa.String(length=512), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("where_to", sa.String(length=200), nullable=False),
        sa.Column("area", sa.String(length=200), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("handoffs_by_tenant", "handoffs", ["tenant", "confirmed_at", "created"], unique=False)


def downgrade() -> None:
    op.drop_index("handoffs_by_tenant", table_name="handoffs")
    op.drop_table("handoffs")
