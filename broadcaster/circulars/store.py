"""The circulars in the ledger: recording them, the people they go to, and what those people do.

Each function is one unit of work (store/db.py). Everything that may happen twice — the same
dispatch recorded again after a crash, a double tap on 確認しました, the same form posted twice —
is an insert that ignores what exists or an update that only the first caller wins, so the
ledger keeps one of each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from broadcaster.circulars import ids
from broadcaster.circulars.attachments import Checked
from broadcaster.circulars.forms import Answer
from broadcaster.circulars.records import (
    AttachmentInfo,
    Circular,
    CircularState,
    Delivery,
    NoticeState,
    Target,
)
from broadcaster.store import tables as t
from broadcaster.store.audiences import address_hash, dialect_insert
from broadcaster.store.db import Database

C, D, A, E, F, N = (
    t.circulars,
    t.circular_deliveries,
    t.circular_answers,
    t.circular_events,
    t.circular_attachments,
    t.circular_notices,
)


@dataclass(frozen=True, slots=True)
class NewCircular:
    id: str
    tenant: str
    origin: str
    kind: str
    status: str
    priority: str
    title: str
    body: str
    form: str
    created_by: str
    alert_id: str | None = None
    event_key: str | None = None
    texts: Mapping[str, Mapping[str, Any]] | None = None
    question: str | None = None
    districts: tuple[str, ...] = ()
    due: datetime | None = None
    release_at: datetime | None = None

    def row(self, state: CircularState, at: datetime) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant": self.tenant,
            "origin": self.origin,
            "kind": self.kind,
            "alert_id": self.alert_id,
            "event_key": self.event_key,
            "status": self.status,
            "priority": self.priority,
            "title": self.title,
            "body": self.body,
            "texts": {k: dict(v) for k, v in (self.texts or {}).items()},
            "form": self.form,
            "question": self.question,
            "districts": list(self.districts),
            "state": state,
            "due": self.due,
            "release_at": self.release_at,
            "released_at": at if state == CircularState.RELEASED else None,
            "created": at,
            "created_by": self.created_by,
        }


def event(
    c: sa.Connection,
    tenant: str,
    circular_id: str,
    action: str,
    actor: str,
    at: datetime,
    delivery_id: str | None = None,
    **detail: Any,
) -> None:
    c.execute(
        E.insert().values(
            tenant=tenant,
            circular_id=circular_id,
            delivery_id=delivery_id,
            actor=actor,
            action=action,
            at=at,
            detail=detail,
        )
    )


def insert_ignore(c: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        c.execute(dialect_insert(c, table).on_conflict_do_nothing(), list(rows))


def insert_deliveries(c: sa.Connection, circular_id: str, targets: Sequence[Target], dispatch_key: str | None, at: datetime) -> list[str]:
    """Insert the targets' deliveries and their first notices; the ids, new or not."""
    out: list[str] = []
    rows: list[dict[str, Any]] = []
    notices: list[dict[str, Any]] = []
    tenant = c.execute(sa.select(C.c.tenant).where(C.c.id == circular_id)).scalar_one()
    for target in targets:
        did = ids.delivery(circular_id, target.recipient)
        out.append(did)
        rows.append(
            {
                "id": did,
                "circular_id": circular_id,
                "tenant": tenant,
                "recipient": target.recipient,
                "subscriber_id": target.subscriber_id,
                "role": target.role,
                "district": target.district,
                "name": target.name,
                "title": target.title,
                "dispatch_key": dispatch_key,
                "link_version": 1,
                "created": at,
                "remind_due": target.dues.get("remind"),
                "deputy_due": target.dues.get("deputy"),
                "officers_due": target.dues.get("officers"),
            }
        )
        notices.extend(notice_row(did, circular_id, tenant, "notify", ch, at) for ch in target.channels)
    known = set(c.execute(sa.select(D.c.id).where(D.c.id.in_(out))).scalars()) if out else set()
    insert_ignore(c, D, rows)
    insert_ignore(c, N, notices)
    for row in rows:
        if row["id"] not in known:
            event(c, tenant, circular_id, "delivered", "system:circular", at, row["id"], role=row["role"], district=row["district"])
    return out


def notice_row(delivery_id: str, circular_id: str, tenant: str, purpose: str, channel: str, at: datetime) -> dict[str, Any]:
    return {
        "key": ids.notice(delivery_id, purpose, channel),
        "delivery_id": delivery_id,
        "circular_id": circular_id,
        "tenant": tenant,
        "purpose": purpose,
        "channel": channel,
        "state": NoticeState.PENDING,
        "attempts": 0,
        "created": at,
    }


# -- recording ---------------------------------------------------------------------------------


async def record_emergency(
    db: Database, new: NewCircular, targets: Sequence[Target], dispatch_key: str, at: datetime
) -> list[str]:
    """A circular dispatch of an alert: the circular (once per alert), its deliveries, notices.

    Each dispatch may bring languages the circular did not have yet (a batch of Vietnamese-reading
    leaders); they are added. An Update supersedes what earlier messages of its event still ask.
    """

    def work(c: sa.Connection) -> list[str]:
        row = c.execute(sa.select(C.c.texts, C.c.state).where(C.c.id == new.id)).first()
        if row is None:
            c.execute(C.insert().values(**new.row(CircularState.RELEASED, at)))
            event(c, new.tenant, new.id, "released", "system:circular", at, alert=new.alert_id)
            if new.event_key:
                c.execute(
                    C.update()
                    .where(
                        C.c.tenant == new.tenant,
                        C.c.event_key == new.event_key,
                        C.c.id != new.id,
                        C.c.state == CircularState.RELEASED,
                    )
                    .values(state=CircularState.SUPERSEDED)
                )
        else:
            texts = dict(row.texts or {})
            added = {k: dict(v) for k, v in (new.texts or {}).items() if k not in texts}
            if added:
                c.execute(C.update().where(C.c.id == new.id).values(texts={**texts, **added}))
        return insert_deliveries(c, new.id, targets, dispatch_key, at)

    return await db.write(work)


async def cancel_event(db: Database, tenant: str, alert_ids: Sequence[str], event_key: str, at: datetime) -> list[str]:
    """A Cancel of these alerts: their circulars are cancelled; the ids of those that were open,
    the current one first."""

    def work(c: sa.Connection) -> list[str]:
        wanted = sa.or_(C.c.alert_id.in_(list(alert_ids)), C.c.event_key == event_key)
        found = list(
            c.execute(
                sa.select(C.c.id)
                .where(C.c.tenant == tenant, wanted, C.c.state.in_((CircularState.RELEASED, CircularState.SUPERSEDED)))
                # The current circular first, then the ones it superseded, newest first: the cancel's
                # notice to a leader who had several goes with the one they last saw.
                .order_by(sa.case((C.c.state == CircularState.RELEASED, 0), else_=1), C.c.created.desc(), C.c.id)
            ).scalars()
        )
        if found:
            c.execute(C.update().where(C.c.id.in_(found)).values(state=CircularState.CANCELLED))
            for cid in found:
                event(c, tenant, cid, "cancelled", "system:circular", at)
        return found

    return await db.write(work)


async def add_notices(db: Database, delivery_ids: Sequence[str], purpose: str, channels_of: Mapping[str, Sequence[str]], at: datetime) -> None:
    """Pending notices of `purpose` for these deliveries (each on their person's channels)."""

    def work(c: sa.Connection) -> None:
        rows = c.execute(sa.select(D.c.id, D.c.circular_id, D.c.tenant).where(D.c.id.in_(list(delivery_ids))))
        insert_ignore(
            c,
            N,
            [notice_row(r.id, r.circular_id, r.tenant, purpose, ch, at) for r in rows for ch in channels_of.get(r.id, ())],
        )

    await db.write(work)


async def create_routine(db: Database, new: NewCircular, files: Sequence[Checked], at: datetime) -> None:
    def work(c: sa.Connection) -> None:
        c.execute(C.insert().values(**new.row(CircularState.SCHEDULED, at)))
        for f in files:
            c.execute(
                F.insert().values(
                    id=f.id,
                    circular_id=new.id,
                    tenant=new.tenant,
                    filename=f.filename,
                    content_type=f.content_type,
                    size=f.size,
                    sha256=f.sha256,
                    data=f.data,
                    created=at,
                )
            )
        event(c, new.tenant, new.id, "created", new.created_by, at, release_at=new.release_at.isoformat() if new.release_at else None, files=len(files))

    await db.write(work)


async def release(db: Database, circular_id: str, targets: Sequence[Target], at: datetime) -> list[str] | None:
    """A scheduled circular goes out now: its deliveries and notices; None if it was not scheduled."""

    def work(c: sa.Connection) -> list[str] | None:
        done = c.execute(
            C.update().where(C.c.id == circular_id, C.c.state == CircularState.SCHEDULED).values(state=CircularState.RELEASED, released_at=at)
        )
        if done.rowcount != 1:
            return None
        tenant = c.execute(sa.select(C.c.tenant).where(C.c.id == circular_id)).scalar_one()
        event(c, tenant, circular_id, "released", "system:scheduler", at, people=len(targets))
        return insert_deliveries(c, circular_id, targets, None, at)

    return await db.write(work)


async def set_release(db: Database, tenant: str, circular_id: str, when: datetime, actor: str, at: datetime) -> bool:
    def work(c: sa.Connection) -> bool:
        done = c.execute(
            C.update().where(C.c.id == circular_id, C.c.tenant == tenant, C.c.state == CircularState.SCHEDULED).values(release_at=when)
        )
        if done.rowcount == 1:
            event(c, tenant, circular_id, "release_set", actor, at, release_at=when.isoformat())
        return done.rowcount == 1

    return await db.write(work)


async def withdraw(db: Database, tenant: str, circular_id: str, actor: str, at: datetime) -> bool:
    """An officer calls a routine circular off: not sent if scheduled, closed if out."""

    def work(c: sa.Connection) -> bool:
        done = c.execute(
            C.update()
            .where(C.c.id == circular_id, C.c.tenant == tenant, C.c.origin == "routine", C.c.state.in_((CircularState.SCHEDULED, CircularState.RELEASED)))
            .values(state=CircularState.CANCELLED)
        )
        if done.rowcount == 1:
            event(c, tenant, circular_id, "cancelled", actor, at)
        return done.rowcount == 1

    return await db.write(work)


async def revoke(db: Database, tenant: str, delivery_id: str, actor: str, at: datetime) -> int | None:
    """Every link given so far for this delivery stops working; the new version, or None."""

    def work(c: sa.Connection) -> int | None:
        row = c.execute(sa.select(D.c.circular_id, D.c.link_version).where(D.c.id == delivery_id, D.c.tenant == tenant)).first()
        if row is None:
            return None
        version = int(row.link_version) + 1
        c.execute(D.update().where(D.c.id == delivery_id).values(link_version=version))
        event(c, tenant, row.circular_id, "link_revoked", actor, at, delivery_id, version=version)
        return version

    return await db.write(work)


# -- what a leader does --------------------------------------------------------------------------


async def record_open(db: Database, delivery_id: str, at: datetime) -> bool:
    """The read receipt: the first opening is recorded, later ones change nothing."""

    def work(c: sa.Connection) -> bool:
        done = c.execute(D.update().where(D.c.id == delivery_id, D.c.opened_at.is_(None)).values(opened_at=at))
        if done.rowcount == 1:
            row = c.execute(sa.select(D.c.tenant, D.c.circular_id, D.c.role).where(D.c.id == delivery_id)).one()
            event(c, row.tenant, row.circular_id, "opened", row.role, at, delivery_id)
        return done.rowcount == 1

    return await db.write(work)


async def confirm(db: Database, delivery_id: str, at: datetime, origin: str | None = None) -> bool:
    """確認しました: True the first time; a double tap (or a second device) changes nothing."""

    def work(c: sa.Connection) -> bool:
        done = c.execute(
            D.update()
            .where(D.c.id == delivery_id, D.c.confirmed_at.is_(None))
            .values(confirmed_at=at, opened_at=sa.func.coalesce(D.c.opened_at, at))
        )
        if done.rowcount == 1:
            row = c.execute(sa.select(D.c.tenant, D.c.circular_id, D.c.role).where(D.c.id == delivery_id)).one()
            event(c, row.tenant, row.circular_id, "confirmed", row.role, at, delivery_id, origin=origin)
        return done.rowcount == 1

    return await db.write(work)


async def answer(db: Database, delivery_id: str, reply: Answer, nonce: str, at: datetime, origin: str | None = None) -> bool:
    """A reply; the same page's form posted twice (the same nonce) is one answer."""

    def work(c: sa.Connection) -> bool:
        row = c.execute(sa.select(D.c.tenant, D.c.circular_id, D.c.role).where(D.c.id == delivery_id)).one()
        result = c.execute(
            dialect_insert(c, A)
            .values(
                delivery_id=delivery_id,
                circular_id=row.circular_id,
                tenant=row.tenant,
                form=reply.form,
                data=reply.data,
                nonce=nonce,
                at=at,
            )
            .on_conflict_do_nothing()
        )
        if result.rowcount != 1:
            return False
        c.execute(D.update().where(D.c.id == delivery_id).values(answered_at=at, opened_at=sa.func.coalesce(D.c.opened_at, at)))
        event(c, row.tenant, row.circular_id, "answered", row.role, at, delivery_id, form=reply.form, origin=origin)
        return True

    return await db.write(work)


async def attachment_seen(db: Database, delivery_id: str, attachment_id: str, at: datetime) -> None:
    def work(c: sa.Connection) -> None:
        row = c.execute(sa.select(D.c.tenant, D.c.circular_id, D.c.role).where(D.c.id == delivery_id)).one()
        seen = c.execute(
            sa.select(E.c.id).where(
                E.c.delivery_id == delivery_id, E.c.action == "attachment_opened", E.c.detail["file"].as_string() == attachment_id
            )
        ).first()
        if seen is None:
            event(c, row.tenant, row.circular_id, "attachment_opened", row.role, at, delivery_id, file=attachment_id)

    await db.write(work)


# -- reading -------------------------------------------------------------------------------------


async def circular(db: Database, circular_id: str, tenant: str | None = None) -> Circular | None:
    def work(c: sa.Connection) -> Circular | None:
        q = sa.select(C).where(C.c.id == circular_id)
        if tenant is not None:
            q = q.where(C.c.tenant == tenant)
        row = c.execute(q).first()
        return None if row is None else Circular.of(row)

    return await db.read(work)


async def delivery(db: Database, delivery_id: str) -> Delivery | None:
    def work(c: sa.Connection) -> Delivery | None:
        row = c.execute(sa.select(D).where(D.c.id == delivery_id)).first()
        return None if row is None else Delivery.of(row)

    return await db.read(work)


async def deliveries(db: Database, circular_id: str) -> list[Delivery]:
    q = sa.select(D).where(D.c.circular_id == circular_id).order_by(D.c.district, D.c.role, D.c.created, D.c.id)
    return await db.read(lambda c: [Delivery.of(r) for r in c.execute(q)])


async def circulars_of(db: Database, tenant: str, limit: int = 100) -> list[Circular]:
    q = sa.select(C).where(C.c.tenant == tenant).order_by(C.c.created.desc(), C.c.id).limit(limit)
    return await db.read(lambda c: [Circular.of(r) for r in c.execute(q)])


async def answers(db: Database, circular_id: str) -> list[dict[str, Any]]:
    """Every answer of a circular, oldest first."""
    q = sa.select(A.c.delivery_id, A.c.form, A.c.data, A.c.at).where(A.c.circular_id == circular_id).order_by(A.c.at, A.c.id)
    return await db.read(lambda c: [dict(r._mapping) for r in c.execute(q)])


async def events(db: Database, circular_id: str, limit: int = 500) -> list[dict[str, Any]]:
    q = (
        sa.select(E.c.delivery_id, E.c.actor, E.c.action, E.c.at, E.c.detail)
        .where(E.c.circular_id == circular_id)
        .order_by(E.c.at, E.c.id)
        .limit(limit)
    )
    return await db.read(lambda c: [dict(r._mapping) for r in c.execute(q)])


async def attachments(db: Database, circular_id: str) -> list[AttachmentInfo]:
    q = sa.select(F.c.id, F.c.filename, F.c.content_type, F.c.size).where(F.c.circular_id == circular_id).order_by(F.c.created, F.c.id)
    return await db.read(lambda c: [AttachmentInfo(r.id, r.filename, r.content_type, r.size) for r in c.execute(q)])


async def attachment(db: Database, circular_id: str, attachment_id: str) -> tuple[AttachmentInfo, bytes] | None:
    """One file, only as a file of this circular: a link to one circular never opens another's."""

    def work(c: sa.Connection) -> tuple[AttachmentInfo, bytes] | None:
        r = c.execute(sa.select(F).where(F.c.id == attachment_id, F.c.circular_id == circular_id)).first()
        return None if r is None else (AttachmentInfo(r.id, r.filename, r.content_type, r.size), bytes(r.data))

    return await db.read(work)


async def notice_states(db: Database, circular_id: str) -> list[dict[str, Any]]:
    q = (
        sa.select(N.c.delivery_id, N.c.purpose, N.c.channel, N.c.state, N.c.attempts, N.c.error, N.c.sent_at, N.c.mode)
        .where(N.c.circular_id == circular_id)
        .order_by(N.c.created, N.c.key)
    )
    return await db.read(lambda c: [dict(r._mapping) for r in c.execute(q)])


# -- people --------------------------------------------------------------------------------------


async def resolve(
    db: Database, tenant: str, addresses: Sequence[str], role: str, scope: str | None, channels: Sequence[str]
) -> list[Target]:
    """The people behind e-circular addresses (a dispatch's recipients), in the given order.

    An address nobody holds any more (the person left after the dispatch was decided) is skipped.
    """
    s, e, dd = t.subscribers, t.subscriber_endpoints, t.subscriber_districts
    hashes = {address_hash("circular", a): a for a in addresses}

    def work(c: sa.Connection) -> list[Target]:
        found: dict[str, Any] = {}
        for i in range(0, len(hashes), 500):
            chunk = list(hashes)[i : i + 500]
            for r in c.execute(
                sa.select(e.c.address, s.c.id, s.c.kind, s.c.name, s.c.title)
                .select_from(e.join(s, s.c.id == e.c.subscriber_id))
                .where(s.c.tenant == tenant, s.c.active.is_(True), e.c.channel == "circular", e.c.address_hash.in_(chunk))
            ):
                found[r.address] = r
        sids = [r.id for r in found.values()]
        districts: dict[int, list[str]] = {}
        reach: dict[int, set[str]] = {}
        if sids:
            for sid, d in c.execute(sa.select(dd.c.subscriber_id, dd.c.district).where(dd.c.subscriber_id.in_(sids)).order_by(dd.c.district)):
                districts.setdefault(sid, []).append(d)
            for sid, ch in c.execute(
                sa.select(e.c.subscriber_id, e.c.channel).where(e.c.subscriber_id.in_(sids), e.c.channel.in_(list(channels)))
            ):
                reach.setdefault(sid, set()).add(ch)
        out: list[Target] = []
        for address in addresses:
            person = found.get(address)
            if person is None:
                continue
            theirs = districts.get(person.id, [])
            district = scope if scope is not None else (theirs[0] if theirs else None)
            out.append(
                Target(
                    recipient=address,
                    subscriber_id=person.id,
                    role=role,
                    district=district,
                    name=person.name,
                    title=person.title,
                    channels=tuple(ch for ch in channels if ch in reach.get(person.id, set())),
                )
            )
        return out

    return await db.read(work)


async def addresses_of(db: Database, subscriber_id: int, channel: str) -> list[str]:
    e = t.subscriber_endpoints
    q = sa.select(e.c.address).where(e.c.subscriber_id == subscriber_id, e.c.channel == channel).order_by(e.c.address_hash)
    return await db.read(lambda c: list(c.execute(q).scalars()))


async def phones(db: Database, subscriber_ids: Sequence[int]) -> dict[int, list[str]]:
    """Phone numbers (kept for the duty officer, never a sending channel) of these people."""
    if not subscriber_ids:
        return {}
    e = t.subscriber_endpoints
    q = sa.select(e.c.subscriber_id, e.c.address).where(e.c.subscriber_id.in_(list(subscriber_ids)), e.c.channel == "phone")

    def work(c: sa.Connection) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for sid, address in c.execute(q.order_by(e.c.address)):
            out.setdefault(sid, []).append(address)
        return out

    return await db.read(work)
