"""residents' channels: their preference order, 'no smartphone', and what each send did for each of them

Revision ID: 0013_resident_channels
Revises: 0003_audiences

A resident's channels are tried in the order they chose (docs/audiences.md, *Channel preference and
fallback*); one registered as having no smartphone is reached by voice and SMS. `recipient_outcomes`
holds, per dispatch and resident address, what the provider said (a call answered and the key
pressed, an SMS delivered or not) and which channel was tried next; coverage counts read it.
Matches broadcaster/store/tables.py. Only additions.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_resident_channels"
down_revision = "0003_audiences"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("subscribers", sa.Column("channel_order", sa.String(length=200), nullable=True))
    op.add_column(
        "subscribers", sa.Column("no_smartphone", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_table(
        "recipient_outcomes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("alert_id", sa.String(length=512), nullable=False),
        sa.Column("dispatch_key", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("audience", sa.String(length=200), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("reached", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("fallback_to", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "recipient_outcomes_by_dispatch", "recipient_outcomes", ["tenant", "dispatch_key", "address_hash"], unique=True
    )
    op.create_index("recipient_outcomes_by_alert", "recipient_outcomes", ["tenant", "alert_id"])


def downgrade() -> None:
    op.drop_index("recipient_outcomes_by_alert", table_name="recipient_outcomes")
    op.drop_index("recipient_outcomes_by_dispatch", table_name="recipient_outcomes")
    op.drop_table("recipient_outcomes")
    op.drop_column("subscribers", "no_smartphone")
    op.drop_column("subscribers", "channel_order")
