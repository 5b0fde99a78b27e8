"""e-circulars: circulars, deliveries to leaders, answers, events, attachments, notices

Revision ID: 0008_circulars
Revises: 0007_merge

Written by hand to match tables.py (the e-circulars section); only new tables, plain types that
SQLite and PostgreSQL both have, so no existing table is rebuilt.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_circulars"
down_revision = "0007_merge"
branch_labels = None
depends_on = None


def _at(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "circulars",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("alert_id", sa.String(length=512), nullable=True),
        sa.Column("event_key", sa.String(length=512), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.Column("form", sa.String(length=16), nullable=False),
        sa.Column("question", sa.Text(), nullable=True),
        sa.Column("districts", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        _at("due"),
        _at("release_at"),
        _at("released_at"),
        _at("created", nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["tenant"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("circulars_by_tenant", "circulars", ["tenant", "created"], unique=False)
    op.create_index("circulars_by_event", "circulars", ["tenant", "event_key"], unique=False)

    op.create_table(
        "circular_deliveries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("circular_id", sa.String(length=40), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("title", sa.String(length=64), nullable=True),
        sa.Column("dispatch_key", sa.String(length=64), nullable=True),
        sa.Column("link_version", sa.Integer(), server_default="1", nullable=False),
        _at("created", nullable=False),
        _at("opened_at"),
        _at("confirmed_at"),
        _at("answered_at"),
        _at("remind_due"),
        _at("deputy_due"),
        _at("officers_due"),
        _at("reminded_at"),
        _at("deputy_at"),
        _at("officers_at"),
        sa.ForeignKeyConstraint(["circular_id"], ["circulars.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("circular_id", "recipient", name="circular_deliveries_once"),
    )
    op.create_index(
        "circular_deliveries_by_circular", "circular_deliveries", ["circular_id", "district"], unique=False
    )

    op.create_table(
        "circular_answers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("delivery_id", sa.String(length=32), nullable=False),
        sa.Column("circular_id", sa.String(length=40), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("form", sa.String(length=16), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        _at("at", nullable=False),
        sa.ForeignKeyConstraint(["delivery_id"], ["circular_deliveries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("delivery_id", "nonce", name="circular_answers_once"),
    )
    op.create_index("circular_answers_by_circular", "circular_answers", ["circular_id", "at"], unique=False)

    op.create_table(
        "circular_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("circular_id", sa.String(length=40), nullable=False),
        sa.Column("delivery_id", sa.String(length=32), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        _at("at", nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("circular_events_by_circular", "circular_events", ["circular_id", "at"], unique=False)

    op.create_table(
        "circular_attachments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("circular_id", sa.String(length=40), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        _at("created", nullable=False),
        sa.ForeignKeyConstraint(["circular_id"], ["circulars.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("circular_attachments_by_circular", "circular_attachments", ["circular_id"], unique=False)

    op.create_table(
        "circular_notices",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("delivery_id", sa.String(length=32), nullable=False),
        sa.Column("circular_id", sa.String(length=40), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        _at("next_attempt"),
        sa.Column("mode", sa.String(length=16), nullable=True),
        sa.Column("provider_ref", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _at("created", nullable=False),
        _at("sent_at"),
        sa.ForeignKeyConstraint(["delivery_id"], ["circular_deliveries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("circular_notices_by_circular", "circular_notices", ["circular_id", "state"], unique=False)


def downgrade() -> None:
    for index, table in (
        ("circular_notices_by_circular", "circular_notices"),
        ("circular_attachments_by_circular", "circular_attachments"),
        ("circular_events_by_circular", "circular_events"),
        ("circular_answers_by_circular", "circular_answers"),
        ("circular_deliveries_by_circular", "circular_deliveries"),
        ("circulars_by_event", "circulars"),
        ("circulars_by_tenant", "circulars"),
    ):
        op.drop_index(index, table_name=table)
    for table in (
        "circular_notices",
        "circular_attachments",
        "circular_events",
        "circular_answers",
        "circular_deliveries",
        "circulars",
    ):
        op.drop_table(table)
