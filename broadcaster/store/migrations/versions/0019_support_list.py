"""support list: the people who need help to evacuate, as district leaders see them, and marks

Revision ID: 0019_support_list
Revises: 0018_safety_answers

`support_people` holds the town's entries (name, address, needs, contact sealed at rest) with
the person's consent to share in normal times; `support_marks` the leader's latest mark per
person and alert (told, evacuated, absent, help). docs/support.md. Matches
broadcaster/store/tables.py. Only additions.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_support_list"
down_revision = "0018_safety_answers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "support_people",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("needs", sa.Text(), nullable=True),
        sa.Column("contact", sa.Text(), nullable=True),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "id"),
    )
    op.create_index("support_people_by_district", "support_people", ["tenant", "district"])
    op.create_table(
        "support_marks",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("alert_id", sa.String(length=512), nullable=False),
        sa.Column("person", sa.String(length=200), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("mark", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "alert_id", "person"),
    )


def downgrade() -> None:
    op.drop_table("support_marks")
    op.drop_index("support_people_by_district", table_name="support_people")
    op.drop_table("support_people")
