"""feed poller state: entries handed on, per-feed validators and freshness, stale alarms

Revision ID: 0002_jma_feed
Revises: 0001
Create Date: 2026-11-22 06:00:00

Written by hand to match tables.py (feed_entries, feed_status, feed_alarms); plain types that
SQLite and PostgreSQL both have.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_jma_feed"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_entries",
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("entry_key", sa.String(length=64), nullable=False),
        sa.Column("entry_id", sa.Text(), nullable=False),
        sa.Column("feed", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("raw_event_id", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "entry_key"),
    )
    op.create_index("feed_entries_by_at", "feed_entries", ["at"], unique=False)
    op.create_table(
        "feed_status",
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("feed", sa.String(length=64), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("first_attempt", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_success", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("source", "feed"),
    )
    op.create_table(
        "feed_alarms",
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("episode", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("feeds", sa.JSON(), nullable=False),
        sa.Column("sent", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source"),
    )


def downgrade() -> None:
    op.drop_table("feed_alarms")
    op.drop_table("feed_status")
    op.drop_index("feed_entries_by_at", table_name="feed_entries")
    op.drop_table("feed_entries")
