"""safety answers: residents' 無事 / 支援が必要 / 避難済み per household and alert

Revision ID: 0018_safety_answers
Revises: 0016_households

One answer per (alert, household), changeable: the latest stands, `changes` counts the changes.
The note is free text a resident wrote, sealed at rest. Matches broadcaster/store/tables.py.
Only additions.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_safety_answers"
down_revision = "0016_households"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "safety_answers",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("alert_id", sa.String(length=512), nullable=False),
        sa.Column("household", sa.String(length=201), nullable=False),
        sa.Column("answer", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("person", sa.String(length=200), nullable=False),
        sa.Column("via", sa.String(length=32), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("tenant", "alert_id", "household"),
    )


def downgrade() -> None:
    op.drop_table("safety_answers")
