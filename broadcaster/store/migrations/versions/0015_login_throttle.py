"""failed logins counted in the database, per address, per name and per name at an address

Revision ID: 0015_login_throttle
Revises: 0001

Matches login_throttle in broadcaster/store/tables.py (broadcaster/store/login_throttle.py).
A new table only; the users table's failed_logins and locked_until columns are no longer used.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_login_throttle"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=True),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_failure", sa.DateTime(timezone=True), nullable=True),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("scope", "key"),
    )
    op.create_index("login_throttle_by_account", "login_throttle", ["account"], unique=False)
    op.create_index("login_throttle_by_last_failure", "login_throttle", ["last_failure"], unique=False)


def downgrade() -> None:
    op.drop_index("login_throttle_by_last_failure", table_name="login_throttle")
    op.drop_index("login_throttle_by_account", table_name="login_throttle")
    op.drop_table("login_throttle")
