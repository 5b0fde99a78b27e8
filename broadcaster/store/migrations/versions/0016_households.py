"""households: residents' household and address, reach marks and coverage flags

Revision ID: 0016_households
Revises: 0013_resident_channels

Coverage per district counts households (docs/coverage.md): a resident belongs to one household
(None: a household of their own) and has an address, sealed at rest, for the leader's list of
households not reached. `reach_marks` holds reach that no send result says (a LINE reply, an app
opened, a leader's or officer's mark); `coverage_flags` remembers which district was flagged for
which alert, so the leader is told once. Matches broadcaster/store/tables.py. Only additions.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_households"
down_revision = "0013_resident_channels"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("subscribers", sa.Column("household", sa.String(length=200), nullable=True))
    op.add_column("subscribers", sa.Column("address", sa.Text(), nullable=True))
    op.create_index("endpoints_by_hash", "subscriber_endpoints", ["address_hash"])
    op.create_table(
        "reach_marks",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("alert_id", sa.String(length=512), nullable=False),
        sa.Column("household", sa.String(length=201), nullable=False),
        sa.Column("medium", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "alert_id", "household", "medium"),
    )
    op.create_table(
        "coverage_flags",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("alert_id", sa.String(length=512), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("share", sa.Float(), nullable=False),
        sa.Column("circular_id", sa.String(length=40), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "alert_id", "district"),
    )


def downgrade() -> None:
    op.drop_table("coverage_flags")
    op.drop_table("reach_marks")
    op.drop_index("endpoints_by_hash", table_name="subscriber_endpoints")
    op.drop_column("subscribers", "address")
    op.drop_column("subscribers", "household")
