"""The ledger's tables (SQLAlchemy Core). Migrations in migrations/ create and change them.

The ledger is the source of truth (docs/decisions.md, decision 5): every raw input, every accepted alert,
every dispatch with its state and every attempt is here, so what the bus held in flight can be
re-driven from it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from broadcaster.store.sealed import DispatchData, SealedText


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware in and out on every backend (SQLite's DATETIME forgets the offset)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime reached the ledger")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stored: datetime = value
        return stored.replace(tzinfo=UTC) if stored.tzinfo is None else stored


metadata = sa.MetaData()

tenants = sa.Table(
    "tenants",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created", UTCDateTime(), nullable=False),
)

raw_events = sa.Table(
    "raw_events",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("received", UTCDateTime(), nullable=False),
    sa.Column("content_type", sa.String(200), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False, index=True),
    sa.Column("size", sa.Integer(), nullable=False),
    sa.Column("tenant", sa.String(64), nullable=True),
    sa.Column("submitted_by", sa.String(200), nullable=False),
    sa.Column("source_ref", sa.Text(), nullable=True),
    # accepted (became alerts) | unmatched (no tenant's areas) | quarantined
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("alerts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("body", sa.LargeBinary(), nullable=False),
    # An update or cancel that reached no tenant because it arrived before its original (a 取消
    # names no area): its event key, so that the original, when it comes, finds it (0011_orphans).
    sa.Column("orphan_event", sa.String(512), nullable=True),
    sa.Index("raw_events_by_orphan_event", "orphan_event"),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("tenant", sa.String(64), sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("identifier", sa.String(512), primary_key=True),
    sa.Column("event_key", sa.String(512), nullable=False),
    sa.Column("origin", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("msg_type", sa.String(16), nullable=False),
    sa.Column("sent", UTCDateTime(), nullable=False),
    sa.Column("received", UTCDateTime(), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("headline", sa.Text(), nullable=True),
    sa.Column("raw_event_id", sa.String(64), nullable=True),
    sa.Column("submitted_by", sa.String(200), nullable=True),
    # received → routed (dispatches decided) ; held while waiting for an approver
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("routed", UTCDateTime(), nullable=True),
    sa.Column("data", sa.JSON(), nullable=False),
    sa.Index("alerts_by_event", "tenant", "event_key", "sent"),
    sa.Index("alerts_by_state", "state", "received"),
)

dispatches = sa.Table(
    "dispatches",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("tenant", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("alert_id", sa.String(512), nullable=False),
    sa.Column("event_key", sa.String(512), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("audience", sa.String(200), nullable=False),
    sa.Column("batch", sa.Integer(), nullable=False),
    sa.Column("batch_count", sa.Integer(), nullable=False),
    sa.Column("template", sa.String(200), nullable=False),
    sa.Column("priority", sa.String(16), nullable=False),
    sa.Column("requires_approval", sa.Boolean(), nullable=False),
    # pending | held | sending | accepted | failed | dead | superseded | recorded
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("mode", sa.String(16), nullable=True),
    sa.Column("provider_ref", sa.Text(), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("created", UTCDateTime(), nullable=False),
    sa.Column("updated", UTCDateTime(), nullable=False),
    sa.Column("deadline", UTCDateTime(), nullable=False),
    sa.Column("accepted_at", UTCDateTime(), nullable=True),
    sa.Column("latency_ms", sa.Float(), nullable=True),
    # The Dispatch, explanation included; its recipients sealed (store/sealed.py) until the
    # retention job purges them (0010_privacy, broadcaster/store/retention.py).
    sa.Column("data", DispatchData(), nullable=False),
    sa.Column("recipients_purged", UTCDateTime(), nullable=True),
    # How many recipients the batch had, kept when the list itself is purged.
    sa.Column("recipient_count", sa.Integer(), nullable=True),
    sa.Index("dispatches_by_alert", "tenant", "alert_id"),
    sa.Index("dispatches_by_event", "tenant", "event_key", "channel", "audience"),
    sa.Index("dispatches_by_state", "state", "updated"),
)

# One row per attempt, never updated but to close the attempt: an attempt that was started and
# never finished is an in-doubt send (docs/decisions.md, decision 2).
attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("dispatch_key", sa.String(64), nullable=False, index=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("alert_id", sa.String(512), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("attempt", sa.Integer(), nullable=False),
    # started | accepted | failed | dead | superseded | recorded
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("mode", sa.String(16), nullable=True),
    sa.Column("provider_ref", sa.Text(), nullable=True),
    sa.Column("recipients", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("started", UTCDateTime(), nullable=False),
    sa.Column("finished", UTCDateTime(), nullable=True),
    sa.Column("hops", sa.JSON(), nullable=True),
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("raw_event_id", sa.String(64), nullable=False, index=True),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("tenant", sa.String(64), nullable=True),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("detail", sa.Text(), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("resolved", sa.Boolean(), nullable=False, server_default=sa.false()),
)

# Append-only, each row chained to the one before by a hash, so a removed or altered row shows.
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("tenant", sa.String(64), nullable=True),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.Text(), nullable=True),
    sa.Column("origin", sa.String(200), nullable=True),
    sa.Column("detail", sa.JSON(), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

# Where the audit chain was last verified: the page checks only what came after, and that the
# checkpoint's row still has its hash (broadcaster/store/ledger.py, `verify_audit_since`).
audit_checkpoints = sa.Table(
    "audit_checkpoints",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("upto_id", sa.Integer(), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("rows", sa.Integer(), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
)

# People the tenant reaches one by one: residents who registered, district leaders (区長,
# 町内会長), officers. Channel addresses live apart so that one person may have several.
subscribers = sa.Table(
    "subscribers",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False),
    # resident | leader | deputy | officer
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("name", sa.String(200), nullable=True),
    sa.Column("language", sa.String(16), nullable=False, server_default="ja"),
    sa.Column("topics", sa.JSON(), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("external_ref", sa.String(200), nullable=True),
    sa.Column("created", UTCDateTime(), nullable=False),
    sa.Column("updated", UTCDateTime(), nullable=False),
    # 区長, 町内会長, 副区長, 防災係: how the town calls the person's role (0003_audiences).
    sa.Column("title", sa.String(64), nullable=True),
    # True while the person chose no topic, i.e. takes every topic (subscriber_topics otherwise).
    sa.Column("all_topics", sa.Boolean(), nullable=False, server_default=sa.true()),
    # Set when the person left: their endpoints and personal data are gone, the row stays so that
    # a re-import of an old roster does not sign them up again.
    sa.Column("left_at", UTCDateTime(), nullable=True),
    # The resident's channels in the order they want them tried, comma-separated ("line,sms,voice");
    # None: every channel they have an address on, as before (0013_resident_channels).
    sa.Column("channel_order", sa.String(200), nullable=True),
    # Registered as having no smartphone: reached by voice and SMS, never by app or LINE.
    sa.Column("no_smartphone", sa.Boolean(), nullable=False, server_default=sa.false()),
    # The household the person lives in (the town's own id for it); None: a household of one.
    # Coverage counts households, not people (docs/coverage.md; 0016_households).
    sa.Column("household", sa.String(200), nullable=True),
    # Where the household lives, for the district leader's list of households not reached.
    # Sealed at rest like the contact addresses.
    sa.Column("address", SealedText("subscribers.address"), nullable=True),
    sa.Index("subscribers_by_tenant", "tenant", "kind", "active"),
    sa.Index("subscribers_by_external_ref", "tenant", "external_ref", unique=True),
)

subscriber_endpoints = sa.Table(
    "subscriber_endpoints",
    metadata,
    sa.Column(
        "subscriber_id", sa.Integer(), sa.ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("channel", sa.String(64), primary_key=True),
    # A keyed hash of the address, for lookups (an unfollow event names a LINE user id) without
    # reading the address itself.
    sa.Column("address_hash", sa.String(64), primary_key=True),
    # Sealed at rest (store/sealed.py) when a data key is configured.
    sa.Column("address", SealedText("subscriber_endpoints.address"), nullable=False),
    sa.Index("endpoints_by_channel", "channel", "address_hash"),
    # Coverage finds the person behind an outcome by its hash alone (0016_households).
    sa.Index("endpoints_by_hash", "address_hash"),
)

subscriber_districts = sa.Table(
    "subscriber_districts",
    metadata,
    sa.Column(
        "subscriber_id", sa.Integer(), sa.ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("district", sa.String(64), primary_key=True),
    sa.Index("districts_by_district", "district"),
)

# The topics a resident chose (none: all_topics). A table rather than the JSON column, so that a
# topic audience is an indexed query on SQLite and PostgreSQL alike.
subscriber_topics = sa.Table(
    "subscriber_topics",
    metadata,
    sa.Column(
        "subscriber_id", sa.Integer(), sa.ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("topic", sa.String(32), primary_key=True),
    sa.Index("topics_by_topic", "topic"),
)

# Officer groups (duty, approvers, 防災係...), the audiences officers:<group>.
subscriber_groups = sa.Table(
    "subscriber_groups",
    metadata,
    sa.Column(
        "subscriber_id", sa.Integer(), sa.ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("grp", sa.String(64), primary_key=True),
    sa.Index("groups_by_group", "grp"),
)

# Endpoint counts per (role, district or group or "*", topic or "*", channel), kept in step with
# every change to the people, so that "LINE 1,234 people" is one indexed read, never a count
# over the subscribers (broadcaster/store/audiences.py says how a person contributes).
audience_counts = sa.Table(
    "audience_counts",
    metadata,
    sa.Column("tenant", sa.String(64), sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("role", sa.String(16), primary_key=True),
    sa.Column("scope", sa.String(64), primary_key=True),
    sa.Column("topic", sa.String(32), primary_key=True),
    sa.Column("channel", sa.String(64), primary_key=True),
    sa.Column("n", sa.Integer(), nullable=False),
)

# Dispatches the rules put off: quiet hours, a delay, an escalation to deputies. Recorded with
# state "scheduled" and published when due (broadcaster/pipeline/schedule.py).
scheduled_dispatches = sa.Table(
    "scheduled_dispatches",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("tenant", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("alert_id", sa.String(512), nullable=False),
    sa.Column("due", UTCDateTime(), nullable=False),
    # delay | escalation
    sa.Column("purpose", sa.String(16), nullable=False),
    # escalation: the district whose leaders' acknowledgement makes it unnecessary
    sa.Column("scope", sa.String(64), nullable=True),
    sa.Index("scheduled_by_due", "due"),
    sa.Index("scheduled_by_alert", "tenant", "alert_id"),
)

# What a dedupe window remembers: the last alert that went to (channel, audience) under a mark
# (a hash of what the rule compares, e.g. kind and the warnings in force in the town).
route_marks = sa.Table(
    "route_marks",
    metadata,
    sa.Column("tenant", sa.String(64), sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("mark", sa.String(64), primary_key=True),
    sa.Column("channel", sa.String(64), primary_key=True),
    sa.Column("audience", sa.String(200), primary_key=True),
    sa.Column("alert_id", sa.String(512), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
)

# The rule set each tenant's router runs, and the last edit it refused (hot reload).
rules_state = sa.Table(
    "rules_state",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("files", sa.JSON(), nullable=False),
    sa.Column("rules", sa.Integer(), nullable=False),
    sa.Column("active_since", UTCDateTime(), nullable=False),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("error_at", UTCDateTime(), nullable=True),
)

# Officers and operators of the console and API. Roles are per tenant: an officer of 輪島市 may
# hold a role in 穴水町 too (a neighbour covering a stricken town hall).
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(100), nullable=False, unique=True),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("home_tenant", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("password_hash", sa.Text(), nullable=False),
    # Sealed at rest (store/sealed.py); the phone column is TEXT since 0010_privacy.
    sa.Column("totp_secret", SealedText("users.totp_secret"), nullable=True),
    sa.Column("phone", SealedText("users.phone"), nullable=True),
    sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("locked_until", UTCDateTime(), nullable=True),
    sa.Column("created", UTCDateTime(), nullable=False),
)

# Failed logins counted in the database, so that every web process sees the same counts and a
# burst of parallel guesses cannot all be heard before the first is counted
# (broadcaster/store/login_throttle.py, docs/security.md). Keys are hashes: no address or typed
# name is kept here.
login_throttle = sa.Table(
    "login_throttle",
    metadata,
    # "address" | "pair" (name at address) | "account" (name) | "known" (name at network)
    sa.Column("scope", sa.String(16), primary_key=True),
    sa.Column("key", sa.String(64), primary_key=True),
    # the hash of the name the row counts for (None for "address"), so an unlock finds them all
    sa.Column("account", sa.String(64), nullable=True),
    sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("last_failure", UTCDateTime(), nullable=True),
    sa.Column("blocked_until", UTCDateTime(), nullable=True),
    sa.Column("last_success", UTCDateTime(), nullable=True),
    # a second officer's unlock: until then the account's guard does not apply
    sa.Column("lifted_until", UTCDateTime(), nullable=True),
    sa.Index("login_throttle_by_account", "account"),
    sa.Index("login_throttle_by_last_failure", "last_failure"),
)

user_roles = sa.Table(
    "user_roles",
    metadata,
    sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("tenant", sa.String(64), sa.ForeignKey("tenants.id"), primary_key=True),
    # viewer < operator < approver < admin
    sa.Column("role", sa.String(16), nullable=False),
)

# Server-side sessions: the cookie holds a random token, the table only its hash.
web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created", UTCDateTime(), nullable=False),
    sa.Column("last_seen", UTCDateTime(), nullable=False),
    sa.Column("expires", UTCDateTime(), nullable=False),
    sa.Column("origin", sa.String(200), nullable=True),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created", UTCDateTime(), nullable=False),
    sa.Column("revoked", UTCDateTime(), nullable=True),
)

# Polled feeds (JMA's Atom feeds). An entry is handed on once, ever: JMA asks clients never to
# download the same file twice. Keyed by a hash of the entry id, so that any id fits the key.
feed_entries = sa.Table(
    "feed_entries",
    metadata,
    sa.Column("source", sa.String(32), primary_key=True),
    sa.Column("entry_key", sa.String(64), primary_key=True),
    sa.Column("entry_id", sa.Text(), nullable=False),
    sa.Column("feed", sa.String(64), nullable=False),
    sa.Column("url", sa.Text(), nullable=True),
    # fetched (handed on as raw_event_id) | refused (too large; never downloaded again)
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("raw_event_id", sa.String(64), nullable=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Index("feed_entries_by_at", "at"),
)

# One row per feed document: the validators of its last complete read (conditional GET) and
# when it last succeeded, for the stale-feed alarm.
feed_status = sa.Table(
    "feed_status",
    metadata,
    sa.Column("source", sa.String(32), primary_key=True),
    sa.Column("feed", sa.String(64), primary_key=True),
    sa.Column("etag", sa.Text(), nullable=True),
    sa.Column("last_modified", sa.Text(), nullable=True),
    sa.Column("first_attempt", UTCDateTime(), nullable=False),
    sa.Column("last_attempt", UTCDateTime(), nullable=False),
    sa.Column("last_success", UTCDateTime(), nullable=True),
    # consecutive failed polls since the last success
    sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text(), nullable=True),
)

# The stale-feed alarm in force per source (no row: none): what was last said, so that the
# officers hear once when feeds go stale, of each change, and once when all recover.
feed_alarms = sa.Table(
    "feed_alarms",
    metadata,
    sa.Column("source", sa.String(32), primary_key=True),
    sa.Column("episode", sa.String(32), nullable=False),
    sa.Column("seq", sa.Integer(), nullable=False),
    sa.Column("feeds", sa.JSON(), nullable=False),
    sa.Column("sent", UTCDateTime(), nullable=False),
)

# Named leases: the one scheduler of a deployment holds "scheduler" (broadcaster/scheduler.py).
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("expires", UTCDateTime(), nullable=False),
)

# -- e-circulars to district leaders (broadcaster/circulars, docs/circulars.md) -----------------

# One circular: made from an alert's circular dispatches (origin "emergency", one per alert) or
# written by an officer (origin "routine").
circulars = sa.Table(
    "circulars",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False),
    # emergency | routine
    sa.Column("origin", sa.String(16), nullable=False),
    # Picks the timings and the form: an alert kind (evacuation, shelter...) or "routine".
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("alert_id", sa.String(512), nullable=True),
    sa.Column("event_key", sa.String(512), nullable=True),
    # CAP status (Actual, Exercise...): a drill's circular says so on every page and notice.
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("priority", sa.String(16), nullable=False),
    sa.Column("title", sa.Text(), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    # The renderer's texts per language ({lang: {title, body, html}}), for emergency circulars.
    sa.Column("texts", sa.JSON(), nullable=False),
    # none | safety | headcount | yesno (with `question`)
    sa.Column("form", sa.String(16), nullable=False),
    sa.Column("question", sa.Text(), nullable=True),
    # District ids of a routine circular ([]: every district); emergency ones follow the rules.
    sa.Column("districts", sa.JSON(), nullable=False),
    # scheduled | released | cancelled | superseded
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("due", UTCDateTime(), nullable=True),
    sa.Column("release_at", UTCDateTime(), nullable=True),
    sa.Column("released_at", UTCDateTime(), nullable=True),
    sa.Column("created", UTCDateTime(), nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Index("circulars_by_tenant", "tenant", "created"),
    sa.Index("circulars_by_event", "tenant", "event_key"),
)

# One circular to one leader or deputy, with their personal link's version (a revoked link's
# version is passed), what they did and when, and the reminder and escalation steps.
circular_deliveries = sa.Table(
    "circular_deliveries",
    metadata,
    # hash(circular, recipient): recording the same dispatch twice yields the same rows
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("circular_id", sa.String(40), sa.ForeignKey("circulars.id", ondelete="CASCADE"), nullable=False),
    sa.Column("tenant", sa.String(64), nullable=False),
    # The person's e-circular address (their roster id unless set otherwise).
    sa.Column("recipient", sa.String(200), nullable=False),
    # No foreign key: the record of who was asked outlives the person's registration.
    sa.Column("subscriber_id", sa.Integer(), nullable=True),
    # leader | deputy
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("district", sa.String(64), nullable=True),
    sa.Column("name", sa.String(200), nullable=True),
    sa.Column("title", sa.String(64), nullable=True),
    sa.Column("dispatch_key", sa.String(64), nullable=True),
    sa.Column("link_version", sa.Integer(), nullable=False, server_default="1"),
    sa.Column("created", UTCDateTime(), nullable=False),
    sa.Column("opened_at", UTCDateTime(), nullable=True),
    sa.Column("confirmed_at", UTCDateTime(), nullable=True),
    sa.Column("answered_at", UTCDateTime(), nullable=True),
    # When each step is due (None: not for this person) and when it was taken.
    sa.Column("remind_due", UTCDateTime(), nullable=True),
    sa.Column("deputy_due", UTCDateTime(), nullable=True),
    sa.Column("officers_due", UTCDateTime(), nullable=True),
    sa.Column("reminded_at", UTCDateTime(), nullable=True),
    sa.Column("deputy_at", UTCDateTime(), nullable=True),
    sa.Column("officers_at", UTCDateTime(), nullable=True),
    sa.UniqueConstraint("circular_id", "recipient", name="circular_deliveries_once"),
    sa.Index("circular_deliveries_by_circular", "circular_id", "district"),
)

# Replies: a safety check, a head-count, a yes/no, free text. Each submission of a form carries
# the nonce of the page it was filled on, so a double tap is one answer.
circular_answers = sa.Table(
    "circular_answers",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column(
        "delivery_id", sa.String(32), sa.ForeignKey("circular_deliveries.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("circular_id", sa.String(40), nullable=False),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("form", sa.String(16), nullable=False),
    sa.Column("data", sa.JSON(), nullable=False),
    sa.Column("nonce", sa.String(64), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("delivery_id", "nonce", name="circular_answers_once"),
    sa.Index("circular_answers_by_circular", "circular_id", "at"),
)

# What everyone did with a circular: who, what, when (opened, confirmed, answered, reminded,
# escalated, link revoked, released...). Append-only.
circular_events = sa.Table(
    "circular_events",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("circular_id", sa.String(40), nullable=False),
    sa.Column("delivery_id", sa.String(32), nullable=True),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("detail", sa.JSON(), nullable=False),
    sa.Index("circular_events_by_circular", "circular_id", "at"),
)

# Files of a routine circular (PDF, PNG, JPEG), checked by their bytes and kept in the ledger so
# that every web process serves the same ones; served only through a recipient's link or the console.
circular_attachments = sa.Table(
    "circular_attachments",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("circular_id", sa.String(40), sa.ForeignKey("circulars.id", ondelete="CASCADE"), nullable=False),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("filename", sa.String(200), nullable=False),
    sa.Column("content_type", sa.String(64), nullable=False),
    sa.Column("size", sa.Integer(), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("data", sa.LargeBinary(), nullable=False),
    sa.Column("created", UTCDateTime(), nullable=False),
    sa.Index("circular_attachments_by_circular", "circular_id"),
)

# Each message telling a person of a circular (their link on LINE, app push, e-mail): keyed by
# (delivery, purpose, channel), so a repeat after a crash carries the same idempotency key.
circular_notices = sa.Table(
    "circular_notices",
    metadata,
    sa.Column("key", sa.String(32), primary_key=True),
    sa.Column(
        "delivery_id", sa.String(32), sa.ForeignKey("circular_deliveries.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("circular_id", sa.String(40), nullable=False),
    sa.Column("tenant", sa.String(64), nullable=False),
    # notify | reminder | cancel | reissue-<version>
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    # pending | sent | failed (retried at next_attempt) | dead
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("next_attempt", UTCDateTime(), nullable=True),
    sa.Column("mode", sa.String(16), nullable=True),
    sa.Column("provider_ref", sa.Text(), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("created", UTCDateTime(), nullable=False),
    sa.Column("sent_at", UTCDateTime(), nullable=True),
    sa.Index("circular_notices_by_circular", "circular_id", "state"),
)

# -- the LINE webhook (broadcaster/web/line_hook.py, docs/channels.md "LINE webhook") ------------

# Every webhook event once per tenant, by LINE's webhookEventId: a replayed request or a
# redelivery of a processed event has no second effect. The event itself (it names a person) is
# kept only until it is processed; the id stays for the retention period, then goes.
line_webhook_events = sa.Table(
    "line_webhook_events",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("event_type", sa.String(32), nullable=False),
    sa.Column("received", UTCDateTime(), nullable=False),
    # received (to be processed) | done | failed
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    # When a process last took it up: another one takes it over only after a while.
    sa.Column("claimed", UTCDateTime(), nullable=False),
    sa.Column("payload", sa.Text(), nullable=True),
    sa.Column("outcome", sa.String(64), nullable=True),
    sa.Index("line_webhook_events_by_received", "received"),
    sa.Index("line_webhook_events_pending", "state", "claimed"),
)

# One-time codes an officer gives a district leader (or deputy) to link their LINE account to
# their record. Only a keyed hash of the code is kept (key: the town's LINE channel secret), so a
# copy of the database holds no usable code.
line_link_codes = sa.Table(
    "line_link_codes",
    metadata,
    sa.Column("tenant", sa.String(64), sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column(
        "subscriber_id", sa.Integer(), sa.ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("created", UTCDateTime(), nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("expires", UTCDateTime(), nullable=False),
    sa.Column("used", UTCDateTime(), nullable=True),
    # hash_id of the LINE user who used it: the same event processed again links again, anyone
    # else is refused
    sa.Column("used_by", sa.String(32), nullable=True),
    sa.Index("line_link_codes_by_subscriber", "subscriber_id"),
)

# Code attempts, for the limit against guessing; in the database so that every web process (and
# a restart) counts against the same budget.
line_link_attempts = sa.Table(
    "line_link_attempts",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    # broadcaster.logging.hash_id of the LINE user id, never the id itself
    sa.Column("who", sa.String(32), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("ok", sa.Boolean(), nullable=False),
    sa.Index("line_link_attempts_by_tenant", "tenant", "at"),
)

# One alert per real change (docs/architecture.md, *One alert per real change*): the changes a
# tenant's alerts reported, and which alert reported each (the first one is routed, the others
# are merged into it). broadcaster/store/merges.py reads and writes them.
merge_changes = sa.Table(
    "merge_changes",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    # the identifier of the change's first alert
    sa.Column("change_id", sa.String(512), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("qualifier", sa.String(64), nullable=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    # the first alert's event key: later messages of the change continue it
    sa.Column("event_key", sa.String(512), nullable=False),
    sa.Column("identified", sa.Boolean(), nullable=False),
    sa.Index("merge_changes_by_kind", "tenant", "kind", "status", "at"),
)

merge_members = sa.Table(
    "merge_members",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("identifier", sa.String(512), primary_key=True),
    sa.Column("change_id", sa.String(512), nullable=False),
    # the member's own event key, so that its follow-ups find the change
    sa.Column("event_key", sa.String(512), nullable=False),
    sa.Column("relay", sa.String(64), nullable=True),
    sa.Column("origin", sa.String(64), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Index("merge_members_by_event", "tenant", "event_key"),
    sa.Index("merge_members_by_change", "tenant", "change_id"),
)

# Texts handed to an officer to send by hand (a channel in hand-off mode: 緊急速報メール without a
# carrier link), and when an officer confirmed that they were sent. One row per dispatch.
handoffs = sa.Table(
    "handoffs",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),  # the dispatch's idempotency key
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("alert_id", sa.String(512), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # the alert's CAP status
    sa.Column("target", sa.String(200), nullable=False),
    sa.Column("where_to", sa.String(200), nullable=False),
    sa.Column("area", sa.String(200), nullable=False),
    sa.Column("title", sa.Text(), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("notes", sa.JSON(), nullable=False),
    sa.Column("created", UTCDateTime(), nullable=False),
    sa.Column("confirmed_at", UTCDateTime(), nullable=True),
    sa.Column("confirmed_by", sa.String(200), nullable=True),
    sa.Index("handoffs_by_tenant", "tenant", "confirmed_at", "created"),
)

# J-Alert bridges' health reports (adapters/ingest/jalert/bridge/health.py): the latest per bridge
# key and per receiver; broadcaster/store/receivers.py reads and writes them.
jalert_bridges = sa.Table(
    "jalert_bridges",
    metadata,
    sa.Column("key_id", sa.String(64), primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=True),
    sa.Column("reported_at", UTCDateTime(), nullable=False),  # our clock, when the report came
    sa.Column("bridge_at", UTCDateTime(), nullable=True),  # the bridge's clock, as it said
    sa.Column("started", UTCDateTime(), nullable=True),
    sa.Column("queue", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("oldest_waiting", UTCDateTime(), nullable=True),
    sa.Column("mail_refused", sa.Integer(), nullable=False, server_default="0"),
)

jalert_receivers = sa.Table(
    "jalert_receivers",
    metadata,
    sa.Column("key_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=True),
    sa.Column("last_heard", UTCDateTime(), nullable=True),
    sa.Column("last_via", sa.String(16), nullable=True),
    sa.Column("last_test", UTCDateTime(), nullable=True),
    sa.Column("heard", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("quarantined", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("refused", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("expect_within_h", sa.Float(), nullable=False),
    sa.Column("reported_at", UTCDateTime(), nullable=False),
)

# What each send did for each resident, where the provider says (voice: answered and which key;
# SMS: the delivery receipt), and the channel tried next for those not reached (docs/audiences.md,
# *Channel preference and fallback*). Coverage per district counts the reached ones. Addresses are
# kept only as the keyed hash subscriber_endpoints uses (0013_resident_channels).
recipient_outcomes = sa.Table(
    "recipient_outcomes",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("alert_id", sa.String(512), nullable=False),
    sa.Column("dispatch_key", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("audience", sa.String(200), nullable=False),
    sa.Column("subscriber_id", sa.Integer(), nullable=True),
    sa.Column("address_hash", sa.String(64), nullable=False),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("reached", sa.Boolean(), nullable=False),
    sa.Column("detail", sa.String(300), nullable=True),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("fallback_to", sa.String(64), nullable=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Index("recipient_outcomes_by_dispatch", "tenant", "dispatch_key", "address_hash", unique=True),
    sa.Index("recipient_outcomes_by_alert", "tenant", "alert_id"),
)

# What the providers report after a send (LINE's insight per request id and per aggregation unit;
# for push channels the counts their services accepted, from the receipts), read back by
# `broadcaster stats fetch` and shown per alert. One row per (alert, channel, reference); a later
# read replaces the figures (LINE's are final only some days after the send).
delivery_stats = sa.Table(
    "delivery_stats",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("alert_id", sa.String(512), primary_key=True),
    sa.Column("channel", sa.String(64), primary_key=True),
    # a request id, an aggregation unit, or "receipts"
    sa.Column("ref", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("delivered", sa.Integer(), nullable=True),
    sa.Column("opened", sa.Integer(), nullable=True),
    sa.Column("clicked", sa.Integer(), nullable=True),
    sa.Column("fetched", UTCDateTime(), nullable=False),
)

# Reach that no send result says: a LINE reply or quick-reply tap, an app opened, a leader who
# confirmed a household on the circular, an officer's or leader's mark (docs/coverage.md). One row
# per (alert, household, medium); the household key is the roster's household id, or "~" and the
# person's external id for a household of one. Purged with the alert by the retention job.
reach_marks = sa.Table(
    "reach_marks",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("alert_id", sa.String(512), primary_key=True),
    sa.Column("household", sa.String(201), primary_key=True),
    sa.Column("medium", sa.String(32), primary_key=True),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
)

# A district flagged as under-reached for an alert, once: the circular that took the list of
# households not reached to its leader (docs/coverage.md).
coverage_flags = sa.Table(
    "coverage_flags",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("alert_id", sa.String(512), primary_key=True),
    sa.Column("district", sa.String(64), primary_key=True),
    sa.Column("share", sa.Float(), nullable=False),
    sa.Column("circular_id", sa.String(40), nullable=True),
    sa.Column("at", UTCDateTime(), nullable=False),
)

# Residents' safety answers (安否確認): one per (alert, household), the latest standing; `person`
# is the roster id of who answered, `via` the channel (line, email, app, web). The note is the
# resident's own words, sealed at rest (docs/coverage.md; 0018_safety_answers).
safety_answers = sa.Table(
    "safety_answers",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("alert_id", sa.String(512), primary_key=True),
    sa.Column("household", sa.String(201), primary_key=True),
    # safe | need_help | evacuated
    sa.Column("answer", sa.String(16), nullable=False),
    sa.Column("note", SealedText("safety_answers.note"), nullable=True),
    sa.Column("person", sa.String(200), nullable=False),
    sa.Column("via", sa.String(32), nullable=False),
    sa.Column("first_at", UTCDateTime(), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("changes", sa.Integer(), nullable=False, server_default="0"),
)

# What each surface of each medium showed of an event at the consistency guard's last look
# (docs/consistency.md): one row per (event, surface), replaced at every check.
medium_states = sa.Table(
    "medium_states",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("event_key", sa.String(512), primary_key=True),
    sa.Column("surface", sa.String(64), primary_key=True),
    sa.Column("channel", sa.String(64), nullable=False),
    # medium (read back from the medium itself) | provider (the provider's accepted record)
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("expected_id", sa.String(512), nullable=True),
    sa.Column("carried_id", sa.String(512), nullable=True),
    # None when it agrees; stale | differs | waiting (not yet due)
    sa.Column("problem", sa.String(16), nullable=True),
    sa.Column("facts", sa.JSON(), nullable=False),
    sa.Column("due", UTCDateTime(), nullable=True),
    sa.Column("checked", UTCDateTime(), nullable=False),
)

# One row per alarm the guard raised: open until the surface agrees again.
consistency_alarms = sa.Table(
    "consistency_alarms",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("event_key", sa.String(512), nullable=False),
    sa.Column("surface", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("problem", sa.String(16), nullable=False),
    sa.Column("expected_id", sa.String(512), nullable=True),
    sa.Column("carried_id", sa.String(512), nullable=True),
    sa.Column("facts", sa.JSON(), nullable=False),
    sa.Column("due", UTCDateTime(), nullable=True),
    sa.Column("raised", UTCDateTime(), nullable=False),
    sa.Column("cleared", UTCDateTime(), nullable=True),
    sa.Column("republished", UTCDateTime(), nullable=True),
    sa.Column("republished_by", sa.String(200), nullable=True),
    sa.Index("consistency_alarms_open", "tenant", "cleared"),
    sa.Index("consistency_alarms_by_event", "tenant", "event_key", "surface"),
)

# The town's list of people who need help to evacuate (避難行動要支援者名簿), as far as district
# leaders may see it (docs/support.md; 0019_support_list). Everything personal is sealed at rest.
# `consent`: the person agreed to share their entry with the district's leaders in normal
# times; the others are shown only while an alert of the kinds the town configures is in force.
support_people = sa.Table(
    "support_people",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("district", sa.String(64), nullable=False),
    sa.Column("name", SealedText("support_people.name"), nullable=False),
    sa.Column("address", SealedText("support_people.address"), nullable=True),
    sa.Column("needs", SealedText("support_people.needs"), nullable=True),
    sa.Column("contact", SealedText("support_people.contact"), nullable=True),
    sa.Column("consent", sa.Boolean(), nullable=False),
    sa.Column("updated", UTCDateTime(), nullable=False),
    sa.Index("support_people_by_district", "tenant", "district"),
)

# A leader's mark on a person of the list during an alert: told | evacuated | absent | help
# (伝達済 / 避難済 / 不在 / 支援要請), the latest standing; every mark is also in the audit log.
support_marks = sa.Table(
    "support_marks",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("alert_id", sa.String(512), primary_key=True),
    sa.Column("person", sa.String(200), primary_key=True),
    sa.Column("district", sa.String(64), nullable=False),
    sa.Column("mark", sa.String(16), nullable=False),
    sa.Column("note", SealedText("support_marks.note"), nullable=True),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
)

# A town's weather-warning state (docs/r06.md): per area and hazard, the 警戒レベル range it was
# last told, the level the name it was told stands for, and which alert told it.
# broadcaster/store/warnstates.py reads and writes them.
warning_states = sa.Table(
    "warning_states",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("area", sa.String(16), primary_key=True),
    sa.Column("hazard", sa.String(32), primary_key=True),
    sa.Column("low", sa.Integer(), nullable=False),
    sa.Column("high", sa.Integer(), nullable=False),
    sa.Column("nominal", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("told_by", sa.String(512), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
)
