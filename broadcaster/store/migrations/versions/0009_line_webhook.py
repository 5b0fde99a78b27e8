"""the LINE webhook: seen events, leaders' one-time link codes and their attempts

Revision ID: 0009_line_webhook
Revises: 0007_merge

Matches the line_* tables at the end of broadcaster/store/tables.py. Only new tables: nothing
existing is altered, so no table is rebuilt on SQLite.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_line_webhook"
down_revision = "0007_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "line_webhook_events",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("received", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("claimed", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "event_id"),
    )
    op.create_index("line_webhook_events_by_received", "line_webhook_events", ["received"], unique=False)
    op.create_index("line_webhook_events_pending", "line_webhook_events", ["state", "claimed"], unique=False)
    op.create_table(
        "line_link_codes",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_by", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["tenant"], ["tenants.id"]),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant", "code_hash"),
    )
    op.create_index("line_link_codes_by_subscriber", "line_link_codes", ["subscriber_id"], unique=False)
    op.create_table(
        "line_link_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("who", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("line_link_attempts_by_tenant", "line_link_attempts", ["tenant", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("line_link_attempts_by_tenant", table_name="line_link_attempts")
    op.drop_table("line_link_attempts")
    op.drop_index("line_link_codes_by_subscriber", table_name="line_link_codes")
    op.drop_table("line_link_codes")
    op.drop_index("line_webhook_events_pending", table_name="line_webhook_events")
    op.drop_index("line_webhook_events_by_received", table_name="line_webhook_events")
    op.drop_table("line_webhook_events")
