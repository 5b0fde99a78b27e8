"""audiences: topics, officer groups, titles, leaving; counts; scheduled dispatches; dedupe marks;
rule-set state

Revision ID: 0003_audiences
Revises: 0001
Create Date: 2026-11-22 07:00:00

Written by hand to match tables.py; plain types that SQLite and PostgreSQL both have. Existing
subscribers keep their topics (copied from the JSON column) and their counts are computed once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_audiences"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, never a batch (copy-and-rename) on SQLite: dropping the old subscribers
    # table would cascade to every subscriber's endpoints and districts.
    op.add_column("subscribers", sa.Column("title", sa.String(length=64), nullable=True))
    op.add_column("subscribers", sa.Column("all_topics", sa.Boolean(), server_default=sa.true(), nullable=False))
    op.add_column("subscribers", sa.Column("left_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("subscribers_by_external_ref", "subscribers", ["tenant", "external_ref"], unique=True)

    op.create_table(
        "subscriber_topics",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("subscriber_id", "topic"),
    )
    op.create_index("topics_by_topic", "subscriber_topics", ["topic"], unique=False)

    op.create_table(
        "subscriber_groups",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("grp", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("subscriber_id", "grp"),
    )
    op.create_index("groups_by_group", "subscriber_groups", ["grp"], unique=False)

    op.create_table(
        "audience_counts",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["tenant"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant", "role", "scope", "topic", "channel"),
    )

    op.create_table(
        "scheduled_dispatches",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("alert_id", sa.String(length=512), nullable=False),
        sa.Column("due", sa.DateTime(timezone=True), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["tenant"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("scheduled_by_due", "scheduled_dispatches", ["due"], unique=False)
    op.create_index("scheduled_by_alert", "scheduled_dispatches", ["tenant", "alert_id"], unique=False)

    op.create_table(
        "route_marks",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("mark", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("audience", sa.String(length=200), nullable=False),
        sa.Column("alert_id", sa.String(length=512), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant", "mark", "channel", "audience"),
    )

    op.create_table(
        "rules_state",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("rules", sa.Integer(), nullable=False),
        sa.Column("active_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tenant"),
    )

    _backfill()


def _backfill() -> None:
    """Topics chosen before this revision move to their table; counts are computed once."""
    # The counting rule lives with the store; counts are derived data that
    # `broadcaster audiences recount` can always rebuild, so using today's code here is safe.
    from broadcaster.audience import TOPICS, topic_name
    from broadcaster.store.audiences import recount_all

    conn = op.get_bind()
    subscribers = sa.table(
        "subscribers", sa.column("id", sa.Integer()), sa.column("topics", sa.JSON()),
        sa.column("all_topics", sa.Boolean()),
    )
    topics_table = sa.table("subscriber_topics", sa.column("subscriber_id", sa.Integer()), sa.column("topic", sa.String()))
    for row in conn.execute(sa.select(subscribers.c.id, subscribers.c.topics)).all():
        chosen: list[str] = []
        for value in row.topics or []:
            try:
                chosen.append(topic_name(str(value)))
            except ValueError:
                continue  # a topic no longer offered is dropped rather than blocking the upgrade
        chosen = sorted(set(chosen))
        if chosen and set(chosen) != set(TOPICS):
            conn.execute(topics_table.insert(), [{"subscriber_id": row.id, "topic": t} for t in chosen])
            conn.execute(subscribers.update().where(subscribers.c.id == row.id).values(all_topics=False))
    recount_all(conn)


def downgrade() -> None:
    op.drop_table("rules_state")
    op.drop_table("route_marks")
    op.drop_index("scheduled_by_alert", table_name="scheduled_dispatches")
    op.drop_index("scheduled_by_due", table_name="scheduled_dispatches")
    op.drop_table("scheduled_dispatches")
    op.drop_table("audience_counts")
    op.drop_index("groups_by_group", table_name="subscriber_groups")
    op.drop_table("subscriber_groups")
    op.drop_index("topics_by_topic", table_name="subscriber_topics")
    op.drop_table("subscriber_topics")
    op.drop_index("subscribers_by_external_ref", table_name="subscribers")
    for column in ("left_at", "all_topics", "title"):
        if op.get_bind().dialect.name == "sqlite":
            # SQLite (3.35+) drops a column in place; a batch copy would cascade (see upgrade).
            op.execute(f"ALTER TABLE subscribers DROP COLUMN {column}")
        else:
            op.drop_column("subscribers", column)
