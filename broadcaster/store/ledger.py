"""The ledger: what the pipeline stages record and ask, on SQLite or PostgreSQL.

Each method is one unit of work (store/db.py): its statements share one transaction and, on
SQLite, one trip to the database thread. Inserts of things that may arrive twice (a redelivered
message, the same telegram on two feeds) are idempotent by key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from broadcaster.model import KIND, Alert, Dispatch, MsgType, RawEvent, Receipt, ReceiptStatus, now
from broadcaster.model.change import RELAY, Change
from broadcaster.model.states import FINAL_STATES, AlertState, DispatchState, dispatch_state_of
from broadcaster.model.warnstate import Claim as WarningClaim
from broadcaster.store import merges, routing, warnstates
from broadcaster.store import tables as t
from broadcaster.store.db import Database

GENESIS_HASH = "0" * 64
# Alert states whose message has not gone out and may never: they supersede nothing.
_NOT_SUPERSEDING = (AlertState.HELD.value, AlertState.WITHDRAWN.value, AlertState.REJECTED.value)

@dataclass(frozen=True, slots=True)
class DispatchRow:
    """A dispatch's progress as the channel worker reads it before a send."""

    key: str
    state: str
    attempts: int
    alert_id: str
    channel: str
    audience: str
    batch: int

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


def _alert_row(
    alert: Alert, raw: RawEvent | None, state: str, submitted_by: str | None = None
) -> dict[str, Any]:
    assert alert.tenant is not None
    info = alert.info[0] if alert.info else None
    kinds = info.event_codes(KIND) if info else ()
    return {
        "tenant": alert.tenant,
        "identifier": alert.identifier,
        "event_key": alert.event_key,
        "origin": alert.origin,
        "status": alert.status.value,
        "msg_type": alert.msg_type.value,
        "sent": alert.sent,
        "received": alert.received or now(),
        "kind": kinds[0] if kinds else "other",
        "severity": info.severity.value if info else "Unknown",
        "headline": info.headline if info else None,
        "raw_event_id": raw.id if raw else None,
        "submitted_by": raw.submitted_by if raw else submitted_by,
        "state": state,
        "routed": None,
        "data": json.loads(alert.model_dump_json(by_alias=True)),
    }


def _exists(c: sa.Connection, alert: Alert) -> bool:
    a = t.alerts
    found = c.execute(
        sa.select(a.c.identifier).where(a.c.tenant == alert.tenant, a.c.identifier == alert.identifier)
    ).first()
    return found is not None


def _raw_row(raw: RawEvent, status: str, n_alerts: int) -> dict[str, Any]:
    return {
        "id": raw.id,
        "source": raw.source,
        "received": raw.received,
        "content_type": raw.content_type,
        "digest": raw.digest,
        "size": len(raw.body),
        "tenant": raw.tenant,
        "submitted_by": raw.submitted_by,
        "source_ref": raw.source_ref,
        "status": status,
        "alerts": n_alerts,
        "body": raw.body,
    }


def _dispatch_row(d: Dispatch, state: str, at: datetime) -> dict[str, Any]:
    return {
        "key": d.key,
        "tenant": d.tenant,
        "alert_id": d.alert_id,
        "event_key": d.event_key,
        "channel": d.channel,
        "audience": d.audience,
        "batch": d.batch,
        "batch_count": d.batch_count,
        "template": d.template,
        "priority": d.priority.value,
        "requires_approval": d.requires_approval,
        "state": state,
        "attempts": 0,
        "created": d.created,
        "updated": at,
        "deadline": d.deadline,
        "data": json.loads(d.model_dump_json()),
    }


class Ledger:
    def __init__(self, db: Database) -> None:
        self.db = db
        if db.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            self._insert_ignore: Any = lambda table: pg_insert(table).on_conflict_do_nothing()
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            self._insert_ignore = lambda table: sqlite_insert(table).on_conflict_do_nothing()

    @classmethod
    def connect(cls, url: str, *, synchronous: str = "NORMAL") -> Ledger:
        return cls(Database.connect(url, synchronous=synchronous))

    async def close(self) -> None:
        await self.db.close()

    @property
    def dialect(self) -> str:
        return self.db.dialect

    # -- tenants ------------------------------------------------------------------------------

    async def ensure_tenants(self, tenants: Iterable[tuple[str, str]]) -> None:
        rows = [{"id": tid, "name": name, "created": now()} for tid, name in tenants]

        def work(c: sa.Connection) -> None:
            if rows:
                c.execute(self._insert_ignore(t.tenants), rows)
            for row in rows:
                c.execute(t.tenants.update().where(t.tenants.c.id == row["id"]).values(name=row["name"]))

        await self.db.write(work)

    # -- ingest -------------------------------------------------------------------------------

    async def record_received(self, raw: RawEvent) -> None:
        """The raw event as it entered, before the bus: if the bus loses it, re-drive finds it here."""
        await self.db.write(lambda c: c.execute(self._insert_ignore(t.raw_events), [_raw_row(raw, "received", 0)]))

    async def record_received_once(self, raw: RawEvent) -> bool:
        """Like `record_received`, but False when a raw event of this id was already recorded.

        One statement that inserts or does nothing, so that two requests racing with the same
        deterministic id (a double click on 取消, two tabs) cannot both win, on SQLite or PostgreSQL.
        """
        statement = self._insert_ignore(t.raw_events)
        return await self.db.write(lambda c: bool(c.execute(statement, _raw_row(raw, "received", 0)).rowcount))

    async def unprocessed_raw(self, older_than: timedelta, limit: int = 200) -> list[RawEvent]:
        """Raw events recorded at ingest that normalize never decided on."""
        cutoff = now() - older_than

        def work(c: sa.Connection) -> list[RawEvent]:
            rows = c.execute(
                sa.select(t.raw_events)
                .where(t.raw_events.c.status == "received", t.raw_events.c.received < cutoff)
                .order_by(t.raw_events.c.received)
                .limit(limit)
            )
            return [
                RawEvent(
                    id=r.id,
                    source=r.source,
                    received=r.received,
                    content_type=r.content_type,
                    body=r.body,
                    tenant=r.tenant,
                    submitted_by=r.submitted_by,
                    source_ref=r.source_ref,
                )
                for r in rows
            ]

        return await self.db.read(work)

    async def record_quarantine(self, raw: RawEvent, reason: str, detail: str) -> None:
        def work(c: sa.Connection) -> None:
            c.execute(self._insert_ignore(t.raw_events), [_raw_row(raw, "quarantined", 0)])
            c.execute(t.raw_events.update().where(t.raw_events.c.id == raw.id).values(status="quarantined"))
            c.execute(
                t.quarantine.insert().values(
                    raw_event_id=raw.id,
                    source=raw.source,
                    tenant=raw.tenant,
                    reason=reason[:64],
                    detail=detail[:4000],
                    at=now(),
                )
            )

        await self.db.write(work)

    async def record_ingest(
        self,
        raw: RawEvent,
        alerts: Sequence[Alert],
        changes: Sequence[Change | None] | None = None,
        warnings: Sequence[tuple[WarningClaim, ...] | None] | None = None,
        unchanged: dict[int, str] | None = None,
    ) -> list[str]:
        """Store the raw event and its per-tenant alerts; for each alert, its state afterwards.

        "received" means not routed yet (new, or left so by a crash): it must go on to routing.
        "merged" means another source reported the same change first (`changes[i]`, claimed in
        this transaction; broadcaster/store/merges.py), or that the alert's warning telegram
        changes nothing the town was told (`warnings[i]`, settled in this transaction against the
        town's warning state; broadcaster/store/warnstates.py, docs/r06.md; the reason goes to
        `unchanged[i]`): the alert is kept but goes nowhere.
        """
        status = "accepted" if alerts else "unmatched"
        claims = list(changes) if changes is not None else [None] * len(alerts)
        states_claimed = list(warnings) if warnings is not None else [None] * len(alerts)

        def work(c: sa.Connection) -> list[str]:
            c.execute(self._insert_ignore(t.raw_events), [_raw_row(raw, status, len(alerts))])
            # Recorded as "received" at ingest; now it is decided.
            c.execute(
                t.raw_events.update()
                .where(t.raw_events.c.id == raw.id)
                .values(status=status, alerts=len(alerts))
            )
            states: list[str] = []
            for index, (alert, change, said) in enumerate(zip(alerts, claims, states_claimed, strict=True)):
                initial = "received"
                fresh = not _exists(c, alert)
                if change is not None and fresh:
                    info = alert.primary
                    claim = merges.claim(c, change, relay=info.param(RELAY), origin=alert.origin)
                    initial = "merged" if claim.merged else "received"
                if said and fresh and initial == "received" and alert.tenant is not None:
                    settled = warnstates.settle(c, alert.tenant, said, alert.identifier, alert.sent)
                    if not settled.news:
                        initial = "merged"
                        if unchanged is not None:
                            unchanged[index] = settled.reason
                c.execute(self._insert_ignore(t.alerts), [_alert_row(alert, raw, initial)])
                state = c.execute(
                    sa.select(t.alerts.c.state).where(
                        t.alerts.c.tenant == alert.tenant, t.alerts.c.identifier == alert.identifier
                    )
                ).scalar()
                states.append(str(state))
            return states

        return await self.db.write(work)

    async def mark_orphan(self, raw_id: str, event_key: str) -> None:
        """An update or cancel that reached no tenant: the original may still come (out of order)."""
        await self.db.write(
            lambda c: c.execute(
                t.raw_events.update().where(t.raw_events.c.id == raw_id).values(orphan_event=event_key[:512])
            )
        )

    async def orphans_of(self, event_keys: Iterable[str]) -> list[RawEvent]:
        """Unmatched updates and cancels of these events, oldest first (see mark_orphan)."""
        keys = sorted({k[:512] for k in event_keys})
        if not keys:
            return []

        def work(c: sa.Connection) -> list[RawEvent]:
            r = t.raw_events
            rows = c.execute(
                sa.select(r)
                .where(r.c.orphan_event.in_(keys), r.c.status == "unmatched")
                .order_by(r.c.received)
                .limit(50)
            )
            return [
                RawEvent(
                    id=x.id, source=x.source, received=x.received, content_type=x.content_type, body=x.body,
                    tenant=x.tenant, submitted_by=x.submitted_by, source_ref=x.source_ref,
                )
                for x in rows
            ]

        return await self.db.read(work)

    async def record_alert(
        self, alert: Alert, *, state: str = "received", submitted_by: str | None = None
    ) -> bool:
        row = _alert_row(alert, None, state, submitted_by)
        return await self.db.write(lambda c: c.execute(self._insert_ignore(t.alerts), [row]).rowcount == 1)

    async def tenants_of_event(self, event_key: str, identifiers: Sequence[str]) -> set[str]:
        """Tenants that have had an alert of this event (or one of these), for arealess follow-ups.

        A JMA 取消 names no areas; it must still reach every tenant that got what it cancels.
        """

        def work(c: sa.Connection) -> set[str]:
            rows = c.execute(
                sa.select(t.alerts.c.tenant)
                .where(
                    sa.or_(
                        t.alerts.c.event_key == event_key,
                        t.alerts.c.identifier.in_(identifiers) if identifiers else sa.false(),
                    )
                )
                .distinct()
            )
            return {r.tenant for r in rows}

        return await self.db.read(work)

    async def continue_merged(self, alerts: Sequence[Alert]) -> list[Alert]:
        """Follow-ups of a merged report continue the event of the change's first report.

        A receiver's mail was merged into its contact output's alert; the mail's later stage or
        cancel must reach where the contact's alert went, so its event key becomes that one's.
        """
        follow = [a for a in alerts if a.tenant is not None and a.msg_type is not MsgType.ALERT]
        if not follow:
            return list(alerts)

        def work(c: sa.Connection) -> dict[tuple[str, str], str]:
            out: dict[tuple[str, str], str] = {}
            for tenant in {a.tenant for a in follow if a.tenant is not None}:
                keys = [a.event_key for a in follow if a.tenant == tenant]
                for key, first in merges.continued_events(c, tenant, keys).items():
                    out[(tenant, key)] = first
            return out

        moved = await self.db.read(work)
        return [
            a.model_copy(update={"event_key": moved[(a.tenant, a.event_key)]})
            if a.tenant is not None and (a.tenant, a.event_key) in moved
            else a
            for a in alerts
        ]

    async def merged_into(self, tenant: str, identifier: str) -> str | None:
        return await self.db.read(lambda c: merges.merged_into(c, tenant, identifier))

    # -- routing ------------------------------------------------------------------------------

    async def replace_alert_data(self, alert: Alert) -> None:
        """Keep this version of a recorded alert's document (the route stage adds what the
        rules ask of it, such as a safety check); its row's other columns stay."""
        a = t.alerts
        query = (
            a.update()
            .where(a.c.tenant == alert.tenant, a.c.identifier == alert.identifier)
            .values(data=json.loads(alert.model_dump_json(by_alias=True)))
        )

        def work(c: sa.Connection) -> None:
            c.execute(query)

        await self.db.write(work)

    async def alert(self, tenant: str, identifier: str) -> Alert | None:
        def work(c: sa.Connection) -> Alert | None:
            data = c.execute(
                sa.select(t.alerts.c.data).where(
                    t.alerts.c.tenant == tenant, t.alerts.c.identifier == identifier
                )
            ).scalar()
            return Alert.model_validate(data) if data is not None else None

        return await self.db.read(work)

    async def alert_state(self, tenant: str, identifier: str) -> str | None:
        def work(c: sa.Connection) -> str | None:
            return c.execute(
                sa.select(t.alerts.c.state).where(
                    t.alerts.c.tenant == tenant, t.alerts.c.identifier == identifier
                )
            ).scalar()

        return await self.db.read(work)

    async def earlier_alerts(self, alert: Alert) -> list[str]:
        """Identifiers of the alerts this one follows: those it references and older ones of its event."""
        assert alert.tenant is not None
        refs = set(alert.referenced_identifiers())

        def work(c: sa.Connection) -> list[str]:
            rows = c.execute(
                sa.select(t.alerts.c.identifier)
                .where(
                    t.alerts.c.tenant == alert.tenant,
                    t.alerts.c.identifier != alert.identifier,
                    sa.or_(
                        t.alerts.c.identifier.in_(refs) if refs else sa.false(),
                        sa.and_(t.alerts.c.event_key == alert.event_key, t.alerts.c.sent <= alert.sent),
                    ),
                )
                .order_by(t.alerts.c.sent, t.alerts.c.received)
            )
            return [r.identifier for r in rows]

        return await self.db.read(work)

    async def warning_tellers(self, tenant: str, keys: Sequence[tuple[str, str]]) -> list[str]:
        """Identifiers of the alerts that told the town the warnings in force for these (area,
        hazard), whichever format they came in (docs/r06.md)."""
        return await self.db.read(lambda c: warnstates.tellers(c, tenant, keys))

    async def forget_warnings(self, tenant: str, told_by: Sequence[str]) -> int:
        """Drop the warning state these (cancelled) alerts told the town (docs/r06.md)."""
        return await self.db.write(lambda c: warnstates.forget(c, tenant, told_by))

    async def dispatches_of(self, tenant: str, alert_ids: Sequence[str]) -> list[Dispatch]:
        if not alert_ids:
            return []

        def work(c: sa.Connection) -> list[Dispatch]:
            rows = c.execute(
                sa.select(t.dispatches.c.data)
                .where(t.dispatches.c.tenant == tenant, t.dispatches.c.alert_id.in_(alert_ids))
                .order_by(t.dispatches.c.created)
            )
            return [Dispatch.model_validate(r.data) for r in rows]

        return await self.db.read(work)

    async def record_dispatches(
        self, alert: Alert, dispatches: Sequence[Dispatch], *, held: bool = False
    ) -> list[Dispatch]:
        """Store decided dispatches and mark the alert routed; return those still to publish.

        Routing the same alert twice (a redelivery, a repeated telegram) decides the same keys;
        the ones already final are not returned, so nothing is sent twice on their account.
        """
        return await self.record_routing(alert, dispatches, held=held)

    async def record_routing(
        self,
        alert: Alert,
        dispatches: Sequence[Dispatch],
        *,
        held: bool = False,
        scheduled: Sequence[routing.Scheduled] = (),
        marks: Sequence[tuple[str, str, str]] = (),
        marks_at: datetime | None = None,
    ) -> list[Dispatch]:
        """`record_dispatches` with the route stage's other outcomes, in one transaction: the
        put-off dispatches and the dedupe marks. Once the alert is routed a redelivery is the
        only second chance, so a mark written apart could be lost while its dispatches went
        out, and the next alert with the same news would go out again."""
        assert alert.tenant is not None
        tenant = alert.tenant
        at = now()
        rows = [_dispatch_row(d, DispatchState.HELD if held else DispatchState.PENDING, at) for d in dispatches]

        def work(c: sa.Connection) -> set[str]:
            routing.write_scheduled(c, scheduled, at)
            if rows:
                c.execute(self._insert_ignore(t.dispatches), rows)
            open_keys: set[str] = set()
            if dispatches:
                states = c.execute(
                    sa.select(t.dispatches.c.key, t.dispatches.c.state).where(
                        t.dispatches.c.key.in_([d.key for d in dispatches])
                    )
                )
                open_keys = {r.key for r in states if r.state not in FINAL_STATES and r.state != DispatchState.HELD}
            this = (t.alerts.c.tenant == tenant, t.alerts.c.identifier == alert.identifier)
            # An alert routed again after it was done (a redelivery, a re-drive racing the
            # first pass) stays done unless the new decision left work to do: nothing would ever
            # mark it done again (found by the PostgreSQL restart trial).
            again = [t.alerts.c.state != AlertState.DONE] if not open_keys else []
            # A held alert its author withdrew, or an approver rejected, stays stopped.
            again.append(t.alerts.c.state.not_in([AlertState.WITHDRAWN, AlertState.REJECTED]))
            c.execute(
                t.alerts.update()
                .where(*this, *again)
                .values(
                    state=AlertState.HELD if held else AlertState.ROUTED, routed=sa.func.coalesce(t.alerts.c.routed, at)
                )
            )
            routing.write_marks(c, tenant, alert.identifier, marks, marks_at or at)
            return open_keys

        open_keys = await self.db.write(work)
        return [d for d in dispatches if d.key in open_keys]

    async def release_held(self, tenant: str, alert_id: str) -> list[Dispatch]:
        """An approver let a held alert go: its dispatches become pending and are returned."""

        def work(c: sa.Connection) -> list[Dispatch]:
            c.execute(
                t.dispatches.update()
                .where(
                    t.dispatches.c.tenant == tenant,
                    t.dispatches.c.alert_id == alert_id,
                    t.dispatches.c.state == DispatchState.HELD,
                )
                .values(state=DispatchState.PENDING, updated=now())
            )
            c.execute(
                t.alerts.update()
                .where(t.alerts.c.tenant == tenant, t.alerts.c.identifier == alert_id)
                .values(state=AlertState.ROUTED)
            )
            rows = c.execute(
                sa.select(t.dispatches.c.data).where(
                    t.dispatches.c.tenant == tenant,
                    t.dispatches.c.alert_id == alert_id,
                    t.dispatches.c.state == DispatchState.PENDING,
                )
            )
            return [Dispatch.model_validate(r.data) for r in rows]

        return await self.db.write(work)

    # -- channel workers ----------------------------------------------------------------------

    async def dispatch_state(self, key: str) -> DispatchRow | None:
        def work(c: sa.Connection) -> DispatchRow | None:
            row = c.execute(
                sa.select(
                    t.dispatches.c.key,
                    t.dispatches.c.state,
                    t.dispatches.c.attempts,
                    t.dispatches.c.alert_id,
                    t.dispatches.c.channel,
                    t.dispatches.c.audience,
                    t.dispatches.c.batch,
                ).where(t.dispatches.c.key == key)
            ).first()
            return DispatchRow(*row) if row else None

        return await self.db.read(work)

    @staticmethod
    def _superseding(
        c: sa.Connection, dispatch: Dispatch, sent: datetime, received: datetime | None
    ) -> str | None:
        # Newer by the time the source gave; within the same second (CAP's precision), by when
        # we received it.
        later = t.alerts.c.sent > sent
        if received is not None:
            later = sa.or_(later, sa.and_(t.alerts.c.sent == sent, t.alerts.c.received > received))
        newer = sa.and_(
            t.alerts.c.tenant == dispatch.tenant,
            t.alerts.c.event_key == dispatch.event_key,
            t.alerts.c.identifier != dispatch.alert_id,
            later,
            # A message waiting for its second officer has not happened yet, and a withdrawn or
            # rejected one never will: neither may silence what is already on its way (approval.md).
            t.alerts.c.state.not_in(_NOT_SUPERSEDING),
        )
        cancel = c.execute(
            sa.select(t.alerts.c.identifier)
            .where(newer, t.alerts.c.msg_type == MsgType.CANCEL.value)
            .limit(1)
        ).scalar()
        if cancel is not None:
            return str(cancel)
        row = c.execute(
            sa.select(t.alerts.c.identifier)
            .select_from(
                t.alerts.join(
                    t.dispatches,
                    sa.and_(
                        t.dispatches.c.tenant == t.alerts.c.tenant,
                        t.dispatches.c.alert_id == t.alerts.c.identifier,
                    ),
                )
            )
            .where(
                newer,
                t.dispatches.c.channel == dispatch.channel,
                t.dispatches.c.audience == dispatch.audience,
            )
            .limit(1)
        ).scalar()
        return str(row) if row is not None else None

    @staticmethod
    def _attempted(
        c: sa.Connection, tenant: str, alert_ids: Sequence[str], channel: str, audience: str, batch: int
    ) -> bool:
        if not alert_ids:
            return False
        n = c.execute(
            sa.select(sa.func.count())
            .select_from(t.dispatches)
            .where(
                t.dispatches.c.tenant == tenant,
                t.dispatches.c.alert_id.in_(alert_ids),
                t.dispatches.c.channel == channel,
                t.dispatches.c.audience == audience,
                t.dispatches.c.batch == batch,
                sa.or_(t.dispatches.c.state == DispatchState.ACCEPTED, t.dispatches.c.attempts > 0),
            )
        ).scalar()
        return bool(n)

    async def superseding_alert(
        self, dispatch: Dispatch, sent: datetime, received: datetime | None = None
    ) -> str | None:
        """The newer alert of the same event that makes this dispatch moot, if any.

        A newer Cancel supersedes on every channel. A newer Alert or Update supersedes only where
        it has a dispatch itself (same channel and audience), so that nobody is left with neither.
        """
        return await self.db.read(lambda c: self._superseding(c, dispatch, sent, received))

    async def was_attempted(
        self, tenant: str, alert_ids: Sequence[str], channel: str, audience: str, batch: int
    ) -> bool:
        """Did any of these alerts reach (or possibly reach) this channel, audience and batch?

        "Possibly": an attempt that started and never finished is in doubt, and a cancel must go
        wherever the original may have gone.
        """
        return await self.db.read(lambda c: self._attempted(c, tenant, alert_ids, channel, audience, batch))

    async def pre_send(
        self, order_dispatch: Dispatch, alert: Alert, earlier: Sequence[str] | None
    ) -> tuple[DispatchRow | None, str | None, bool]:
        """What a channel worker must know before a send, in one trip.

        (state of the dispatch, the alert that supersedes it if any, and, for a cancel with its
        earlier alerts given, whether what it cancels was (possibly) sent on this slot).
        """
        d = order_dispatch

        def work(c: sa.Connection) -> tuple[DispatchRow | None, str | None, bool]:
            row = c.execute(
                sa.select(
                    t.dispatches.c.key,
                    t.dispatches.c.state,
                    t.dispatches.c.attempts,
                    t.dispatches.c.alert_id,
                    t.dispatches.c.channel,
                    t.dispatches.c.audience,
                    t.dispatches.c.batch,
                ).where(t.dispatches.c.key == d.key)
            ).first()
            state = DispatchRow(*row) if row else None
            if state is not None and (state.final or state.state == DispatchState.HELD):
                return state, None, False
            newer = self._superseding(c, d, alert.sent, alert.received)
            attempted = (
                self._attempted(c, d.tenant, earlier, d.channel, d.audience, d.batch)
                if earlier is not None
                else False
            )
            return state, newer, attempted

        return await self.db.read(work)

    async def begin_attempt(self, dispatch: Dispatch, started: datetime) -> int:
        """Write the intent before the send; returns the attempt number (counting crashed ones)."""

        def work(c: sa.Connection) -> int:
            c.execute(
                t.dispatches.update()
                .where(t.dispatches.c.key == dispatch.key)
                .values(attempts=t.dispatches.c.attempts + 1, state=DispatchState.SENDING, updated=started)
            )
            n = c.execute(
                sa.select(t.dispatches.c.attempts).where(t.dispatches.c.key == dispatch.key)
            ).scalar()
            attempt = int(n or 1)
            c.execute(
                t.attempts.insert().values(
                    dispatch_key=dispatch.key,
                    tenant=dispatch.tenant,
                    alert_id=dispatch.alert_id,
                    channel=dispatch.channel,
                    attempt=attempt,
                    status="started",
                    recipients=len(dispatch.recipients),
                    started=started,
                )
            )
            return attempt

        return await self.db.write(work)

    async def finish_attempt(self, receipt: Receipt) -> None:
        finished = receipt.hops.sent or now()
        state = dispatch_state_of(receipt.status)
        hops = json.loads(receipt.hops.model_dump_json())

        def work(c: sa.Connection) -> None:
            closed = c.execute(
                t.attempts.update()
                .where(
                    t.attempts.c.dispatch_key == receipt.dispatch_key,
                    t.attempts.c.attempt == receipt.attempt,
                    t.attempts.c.status == "started",
                )
                .values(
                    status=state,
                    mode=receipt.mode,
                    provider_ref=receipt.provider_ref,
                    error=receipt.error,
                    finished=finished,
                    hops=hops,
                )
            )
            if closed.rowcount == 0:
                # Decided without an attempt (superseded, recorded): still one row per decision.
                c.execute(
                    t.attempts.insert().values(
                        dispatch_key=receipt.dispatch_key,
                        tenant=receipt.tenant,
                        alert_id=receipt.alert_id,
                        channel=receipt.channel,
                        attempt=receipt.attempt,
                        status=state,
                        mode=receipt.mode,
                        provider_ref=receipt.provider_ref,
                        recipients=receipt.recipients,
                        error=receipt.error,
                        started=receipt.hops.send_started or finished,
                        finished=finished,
                        hops=hops,
                    )
                )
            values: dict[str, Any] = {
                "state": state,
                "updated": finished,
                "mode": receipt.mode,
                "last_error": receipt.error,
            }
            if receipt.status is ReceiptStatus.ACCEPTED:
                values.update(
                    provider_ref=receipt.provider_ref, accepted_at=finished, latency_ms=receipt.latency_ms
                )
            c.execute(
                t.dispatches.update()
                .where(t.dispatches.c.key == receipt.dispatch_key)
                # A late failure report must not undo a success recorded by another attempt.
                .where(t.dispatches.c.state != DispatchState.ACCEPTED)
                .values(**values)
            )

        await self.db.write(work)

    async def complete_if_final(self, tenant: str, alert_id: str) -> bool:
        """Mark the alert done once every dispatch of it is final; True when it just became so."""

        def work(c: sa.Connection) -> bool:
            open_count = c.execute(
                sa.select(sa.func.count())
                .select_from(t.dispatches)
                .where(
                    t.dispatches.c.tenant == tenant,
                    t.dispatches.c.alert_id == alert_id,
                    t.dispatches.c.state.not_in(FINAL_STATES),
                )
            ).scalar()
            if open_count:
                return False
            result = c.execute(
                t.alerts.update()
                .where(
                    t.alerts.c.tenant == tenant,
                    t.alerts.c.identifier == alert_id,
                    t.alerts.c.state == AlertState.ROUTED,
                )
                .values(state=AlertState.DONE)
            )
            return result.rowcount == 1

        return await self.db.write(work)

    async def reopen_dispatches(
        self,
        tenant: str,
        alert_id: str,
        *,
        channel: str | None = None,
        key: str | None = None,
        states: Sequence[str] = (DispatchState.DEAD, DispatchState.FAILED),
    ) -> list[Dispatch]:
        """Dispatches of an alert in `states` (dead or failed by default) made pending again, for an
        officer's republish."""

        def work(c: sa.Connection) -> list[Dispatch]:
            where = [
                t.dispatches.c.tenant == tenant,
                t.dispatches.c.alert_id == alert_id,
                t.dispatches.c.state.in_(list(states)),
            ]
            if channel is not None:
                where.append(t.dispatches.c.channel == channel)
            if key is not None:
                where.append(t.dispatches.c.key == key)
            rows = list(c.execute(sa.select(t.dispatches.c.key, t.dispatches.c.data).where(*where)))
            if rows:
                c.execute(
                    t.dispatches.update()
                    .where(t.dispatches.c.key.in_([r.key for r in rows]))
                    .values(state=DispatchState.PENDING, updated=now(), last_error=None)
                )
            return [Dispatch.model_validate(r.data) for r in rows]

        return await self.db.write(work)

    # -- re-drive -----------------------------------------------------------------------------

    async def stale_dispatches(self, older_than: timedelta, limit: int = 500) -> list[Dispatch]:
        """Dispatches not final and untouched for a while: the bus may have lost them."""
        cutoff = now() - older_than

        def work(c: sa.Connection) -> list[Dispatch]:
            rows = c.execute(
                sa.select(t.dispatches.c.data)
                .where(
                    t.dispatches.c.state.in_([DispatchState.PENDING, DispatchState.SENDING, DispatchState.FAILED]),
                    t.dispatches.c.updated < cutoff,
                )
                .order_by(t.dispatches.c.updated)
                .limit(limit)
            )
            return [Dispatch.model_validate(r.data) for r in rows]

        return await self.db.read(work)

    async def touch_dispatches(self, keys: Sequence[str]) -> None:
        at = now()
        await self.db.write(
            lambda c: c.execute(t.dispatches.update().where(t.dispatches.c.key.in_(keys)).values(updated=at))
        )

    async def unrouted_alerts(self, older_than: timedelta, limit: int = 200) -> list[Alert]:
        cutoff = now() - older_than

        def work(c: sa.Connection) -> list[Alert]:
            rows = c.execute(
                sa.select(t.alerts.c.data)
                .where(t.alerts.c.state == AlertState.RECEIVED, t.alerts.c.received < cutoff)
                .order_by(t.alerts.c.received)
                .limit(limit)
            )
            return [Alert.model_validate(r.data) for r in rows]

        return await self.db.read(work)

    # -- audit --------------------------------------------------------------------------------

    async def audit(
        self,
        *,
        actor: str,
        action: str,
        tenant: str | None = None,
        target: str | None = None,
        origin: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        row: dict[str, Any] = {
            "actor": actor,
            "action": action,
            "tenant": tenant,
            "target": target,
            "origin": origin,
            "detail": detail or {},
        }
        dialect = self.dialect

        def work(c: sa.Connection) -> None:
            if dialect == "postgresql":
                # Serialise writers so that two rows never chain to the same predecessor.
                c.execute(sa.text("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE"))
            prev = c.execute(
                sa.select(t.audit_log.c.hash).order_by(t.audit_log.c.id.desc()).limit(1)
            ).scalar()
            prev = prev or GENESIS_HASH
            full = {**row, "at": now(), "prev_hash": prev}
            full["hash"] = audit_hash(prev, full)
            c.execute(t.audit_log.insert().values(**full))

        await self.db.write(work)

    async def audit_of(self, action: str, after_id: int = 0) -> list[tuple[int, str | None, str | None, dict[str, Any]]]:
        """(id, tenant, target, detail) of the audit lines of one action after `after_id`."""

        def work(c: sa.Connection) -> list[tuple[int, str | None, str | None, dict[str, Any]]]:
            a = t.audit_log
            rows = c.execute(
                sa.select(a.c.id, a.c.tenant, a.c.target, a.c.detail)
                .where(a.c.action == action, a.c.id > after_id)
                .order_by(a.c.id)
            )
            return [(r.id, r.tenant, r.target, dict(r.detail)) for r in rows]

        return await self.db.read(work)

    async def verify_audit(self) -> tuple[int, list[int]]:
        """(rows checked, ids whose hash does not match the chain), over the whole chain. A chain
        found whole is stored as a checkpoint for `verify_audit_since`."""

        def work(c: sa.Connection) -> tuple[int, list[int], tuple[int, str] | None]:
            bad: list[int] = []
            prev = GENESIS_HASH
            n = 0
            last: tuple[int, str] | None = None
            for r in c.execute(sa.select(t.audit_log).order_by(t.audit_log.c.id)).mappings():
                n += 1
                row = dict(r)
                if row["prev_hash"] != prev or audit_hash(prev, row) != row["hash"]:
                    bad.append(int(row["id"]))
                prev = row["hash"]
                last = (int(row["id"]), str(row["hash"]))
            return n, bad, last

        n, bad, last = await self.db.read(work)
        if not bad and last is not None:
            await self._checkpoint(*last, n)
        return n, bad

    async def verify_audit_since(self) -> tuple[int, list[int]]:
        """`verify_audit` from the last checkpoint: the rows added since are checked against the
        chain, and the checkpoint's own row must still carry the hash it had (rewriting the chain
        before it would change that hash). What it costs grows with the new rows, not the log:
        the console's audit page runs it on every view. Without a checkpoint, the whole chain.
        An edit of an older row that leaves the hashes as they were is found by `verify_audit`
        (`broadcaster audit verify`), which checks every row."""

        def work(c: sa.Connection) -> tuple[int, list[int], tuple[int, str] | None] | None:
            cp = t.audit_checkpoints
            mark = c.execute(sa.select(cp).order_by(cp.c.id.desc()).limit(1)).first()
            if mark is None:
                return None
            bad: list[int] = []
            held = c.execute(sa.select(t.audit_log.c.hash).where(t.audit_log.c.id == mark.upto_id)).scalar()
            if held != mark.hash:
                bad.append(int(mark.upto_id))
            prev = str(mark.hash)
            n = int(mark.rows)
            last: tuple[int, str] | None = None
            newer = sa.select(t.audit_log).where(t.audit_log.c.id > mark.upto_id).order_by(t.audit_log.c.id)
            for r in c.execute(newer).mappings():
                n += 1
                row = dict(r)
                if row["prev_hash"] != prev or audit_hash(prev, row) != row["hash"]:
                    bad.append(int(row["id"]))
                prev = row["hash"]
                last = (int(row["id"]), str(row["hash"]))
            return n, bad, last

        found = await self.db.read(work)
        if found is None:
            return await self.verify_audit()
        n, bad, last = found
        if not bad and last is not None:
            await self._checkpoint(*last, n)
        return n, bad

    async def _checkpoint(self, upto_id: int, hash_: str, rows: int) -> None:
        at = now()
        await self.db.write(
            lambda c: c.execute(t.audit_checkpoints.insert().values(upto_id=upto_id, hash=hash_, rows=rows, at=at))
        )


def audit_hash(prev: str, row: dict[str, Any]) -> str:
    at: datetime = row["at"]
    material = json.dumps(
        [
            prev,
            at.astimezone(UTC).isoformat(timespec="microseconds"),
            row["actor"],
            row.get("tenant"),
            row["action"],
            row.get("target"),
            row.get("origin"),
            row.get("detail") or {},
        ],
        ensure_ascii=False,
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()
