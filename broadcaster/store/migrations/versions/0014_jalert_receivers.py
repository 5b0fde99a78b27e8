"""J-Alert bridges' health reports: the latest per bridge and per receiver

Revision ID: 0014_jalert_receivers
Revises: 0001

Matches jalert_bridges and jalert_receivers in broadcaster/store/tables.py
(broadcaster/store/receivers.py). New tables only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_jalert_receivers"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jalert_bridges",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bridge_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started", sa.DateTime(timezone=True), nullable=True),
        sa.Column("queue", sa.Integer(), server_default="0", nullable=False),
        sa.Column("oldest_waiting", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mail_refused", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("key_id"),
    )
    op.create_table(
        "jalert_receivers",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=True),
        sa.Column("last_heard", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_via", sa.String(length=16), nullable=True),
        sa.Column("last_test", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heard", sa.Integer(), server_default="0", nullable=False),
        sa.Column("quarantined", sa.Integer(), server_default="0", nullable=False),
        sa.Column("refused", sa.Integer(), server_default="0", nullable=False),
        sa.Column("expect_within_h", sa.Float(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "name"),
    )


def downgrade() -> None:
    op.drop_table("jalert_receivers")
    op.drop_table("jalert_bridges")
