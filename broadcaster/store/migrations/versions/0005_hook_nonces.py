"""nonces of signed ingest hook requests (J-Alert bridge, L-Alert push), for replay refusal

Revision ID: 0005_hook_nonces
Revises: 0001

Matches broadcaster/store/nonces.py.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_hook_nonces"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hook_nonces",
        sa.Column("hook", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("hook", "nonce"),
    )
    op.create_index("hook_nonces_by_at", "hook_nonces", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("hook_nonces_by_at", table_name="hook_nonces")
    op.drop_table("hook_nonces")
