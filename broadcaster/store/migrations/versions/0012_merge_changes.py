"""one alert per real change: the changes a tenant's alerts reported and who reported each

Revision ID: 0012_merge_changes
Revises: 0001

Matches merge_changes and merge_members in broadcaster/store/tables.py (read and written by
broadcaster/store/merges.py). Only new tables.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_merge_changes"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "merge_changes",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("change_id", sa.String(length=512), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("qualifier", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_key", sa.String(length=512), nullable=False),
        sa.Column("identified", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "change_id"),
    )
    op.create_index("merge_changes_by_kind", "merge_changes", ["tenant", "kind", "status", "at"], unique=False)
    op.create_table(
        "merge_members",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("identifier", sa.String(length=512), nullable=False),
        sa.Column("change_id", sa.String(length=512), nullable=False),
        sa.Column("event_key", sa.String(length=512), nullable=False),
        sa.Column("relay", sa.String(length=64), nullable=True),
        sa.Column("origin", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "identifier"),
    )
    op.create_index("merge_members_by_event", "merge_members", ["tenant", "event_key"], unique=False)
    op.create_index("merge_members_by_change", "merge_members", ["tenant", "change_id"], unique=False)


def downgrade() -> None:
    op.drop_index("merge_members_by_change", table_name="merge_members")
    op.drop_index("merge_members_by_event", table_name="merge_members")
    op.drop_table("merge_members")
    op.drop_index("merge_changes_by_kind", table_name="merge_changes")
    op.drop_table("merge_changes")
