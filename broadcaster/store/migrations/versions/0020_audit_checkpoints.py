"""audit checkpoints: where the audit log's hash chain was last verified whole

Revision ID: 0020_audit_checkpoints
Revises: 0001

The audit page verifies the rows added since the last checkpoint and that the checkpoint's row
still carries the hash it had, instead of re-hashing the whole chain on each view. Matches
broadcaster/store/tables.py. Only additions.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_audit_checkpoints"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("upto_id", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_checkpoints")
