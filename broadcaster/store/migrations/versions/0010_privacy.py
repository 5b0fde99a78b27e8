"""personal data at rest: retention marks on dispatches; officers' phone as TEXT

Revision ID: 0010_privacy
Revises: 0007_merge

Contact endpoints, TOTP secrets, officers' phone numbers and dispatch recipient lists are sealed
by their column types (broadcaster/store/sealed.py), which needs no schema change but one: a
sealed phone number is longer than VARCHAR(40). PostgreSQL changes the type in place; SQLite
does not enforce VARCHAR lengths, so nothing there is rebuilt. The two new columns of
`dispatches` are plain ADD COLUMN on both. Existing values are sealed afterwards by
`broadcaster privacy rekey`, which has the key (a migration has none).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_privacy"
down_revision = "0007_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("dispatches", sa.Column("recipients_purged", sa.DateTime(timezone=True), nullable=True))
    op.add_column("dispatches", sa.Column("recipient_count", sa.Integer(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("users", "phone", type_=sa.Text(), existing_type=sa.String(length=40), existing_nullable=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("users", "phone", type_=sa.String(length=40), existing_type=sa.Text(), existing_nullable=True)
    op.drop_column("dispatches", "recipient_count")
    op.drop_column("dispatches", "recipients_purged")
