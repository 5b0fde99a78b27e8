"""one head again: the feed, audience, web, hook and scheduler branches meet

Revision ID: 0007_merge
Revises: 0002_jma_feed, 0003_audiences, 0004_web_auth, 0005_hook_nonces, 0005_scheduler
"""

from __future__ import annotations

revision = "0007_merge"
down_revision = ("0002_jma_feed", "0003_audiences", "0004_web_auth", "0005_hook_nonces", "0005_scheduler")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
