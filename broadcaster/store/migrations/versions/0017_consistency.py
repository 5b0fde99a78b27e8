"""The consistency guard: what each medium shows of each event, and the alarms raised

Revision ID: 0017_consistency
Revises: 0001

Matches medium_states and consistency_alarms in broadcaster/store/tables.py
(broadcaster/store/consistency.py). New tables only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_consistency"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "medium_states",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("event_key", sa.String(length=512), nullable=False),
        sa.Column("surface", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("expected_id", sa.String(length=512), nullable=True),
        sa.Column("carried_id", sa.String(length=512), nullable=True),
        sa.Column("problem", sa.String(length=16), nullable=True),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "event_key", "surface"),
    )
    op.create_table(
        "consistency_alarms",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("event_key", sa.String(length=512), nullable=False),
        sa.Column("surface", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("problem", sa.String(length=16), nullable=False),
        sa.Column("expected_id", sa.String(length=512), nullable=True),
        sa.Column("carried_id", sa.String(length=512), nullable=True),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raised", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared", sa.DateTime(timezone=True), nullable=True),
        sa.Column("republished", sa.DateTime(timezone=True), nullable=True),
        sa.Column("republished_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("consistency_alarms_open", "consistency_alarms", ["tenant", "cleared"])
    op.create_index("consistency_alarms_by_event", "consistency_alarms", ["tenant", "event_key", "surface"])


def downgrade() -> None:
    op.drop_index("consistency_alarms_by_event", table_name="consistency_alarms")
    op.drop_index("consistency_alarms_open", table_name="consistency_alarms")
    op.drop_table("consistency_alarms")
    op.drop_table("medium_states")
