"""one head again (circulars, LINE webhook, privacy); updates and cancels that came before their original

Revision ID: 0011_orphans
Revises: 0008_circulars, 0009_line_webhook, 0010_privacy

A 取消 or 訂正 names no area, so it reaches a tenant only through the original it follows. When it
arrives first (out of order, or the original was lost and is re-fetched later), normalize keeps
it as `unmatched` and marks it with the event key it follows; the original, when it comes, adopts
it. The index makes that look-up cheap on every original.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_orphans"
down_revision = ("0008_circulars", "0009_line_webhook", "0010_privacy")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("raw_events", sa.Column("orphan_event", sa.String(length=512), nullable=True))
    op.create_index("raw_events_by_orphan_event", "raw_events", ["orphan_event"])


def downgrade() -> None:
    op.drop_index("raw_events_by_orphan_event", table_name="raw_events")
    op.drop_column("raw_events", "orphan_event")
