"""Audiences: who, one by one, a tenant reaches on a channel, and how many they are.

Audience names are defined in broadcaster/audience.py. Expanding an audience is one indexed query
per (audience, channel); counting it is one read of ``audience_counts``, which every change to the
people keeps in step in the same transaction. A person contributes, for each endpoint on a
channel, one to every (role, scope, topic) they belong to: scope ``*`` and each of their districts
(officers: groups), topic ``*`` and each topic they take (all of them when they chose none).

Every query names the tenant: nothing here can reach another municipality's people.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from broadcaster.audience import TOPICS, AudienceName, topic_name
from broadcaster.logging import get_logger, hash_id
from broadcaster.model import now
from broadcaster.preference import (
    endpoint_channel,
    first_channel,
    next_channel,
    order_of,
    parse_order,
    sends_on,
)
from broadcaster.store import tables as t
from broadcaster.store.db import Database

log = get_logger(__name__)

_ADDRESS_KEY = b"broadcaster-address-hash"
CountKey = tuple[str, str, str, str]  # role, scope, topic, channel


def address_hash(channel: str, address: str) -> str:
    return hashlib.blake2b(f"{channel}\x1f{address}".encode(), key=_ADDRESS_KEY, digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class Recipient:
    subscriber_id: int
    address: str
    language: str


@dataclass(frozen=True, slots=True)
class Person:
    """One subscriber as the CSV and the console see them; `topics` empty means every topic."""

    external_id: str
    kind: str = "resident"
    name: str | None = None
    title: str | None = None
    districts: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    language: str = "ja"
    topics: tuple[str, ...] = ()
    endpoints: tuple[tuple[str, str], ...] = ()  # (channel, address), sorted
    active: bool = True
    # The channels in the order the person wants them tried (broadcaster/preference.py); () none.
    channel_order: tuple[str, ...] = ()
    no_smartphone: bool = False
    # The town's id of the person's household (None: a household of their own) and its address,
    # sealed at rest; coverage counts households (broadcaster/coverage.py).
    household: str | None = None
    address: str | None = None

    @property
    def household_key(self) -> str:
        """The household this person counts in: its id, or "~" and their own id when they live alone."""
        return self.household or f"~{self.external_id}"

    def normalized(self) -> Person:
        topics = tuple(sorted({topic_name(x) for x in self.topics}))
        return replace(
            self,
            name=self.name or None,
            title=self.title or None,
            household=self.household or None,
            address=self.address or None,
            districts=tuple(sorted(set(self.districts))),
            groups=tuple(sorted(set(self.groups))),
            topics=() if set(topics) == set(TOPICS) else topics,
            endpoints=tuple(sorted(set(self.endpoints))),
        )

    def contribution(self) -> Counter[CountKey]:
        """What this person adds to audience_counts (nothing once they left)."""
        out: Counter[CountKey] = Counter()
        if not self.active:
            return out
        per_channel = Counter(ch for ch, _ in self.endpoints)
        scopes = ("*", *(self.groups if self.kind == "officer" else self.districts))
        topics = ("*",) if self.kind == "officer" else ("*", *(self.topics or TOPICS))
        for channel, k in per_channel.items():
            for scope in scopes:
                for topic in topics:
                    out[(self.kind, scope, topic, channel)] += k
        return out


@functools.lru_cache(maxsize=4096)
def _parsed(audience: str) -> AudienceName:
    # A town has a few dozen audience names; parse each once, not once per decision.
    return AudienceName.parse(audience)


@dataclass(frozen=True)
class CountSnapshot:
    """A tenant's audience_counts read at once, for many lookups without the database."""

    tenant: str
    n: Mapping[CountKey, int]
    taken: float = 0.0  # time.monotonic() when read

    def count(self, audience: str | AudienceName, channel: str) -> int:
        name = audience if isinstance(audience, AudienceName) else _parsed(audience)
        scope, topic = name.scope or "*", name.topic or "*"
        return sum(self.n.get((role, scope, topic, channel), 0) for role in name.roles)


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    left: int = 0
    # external ids of people who left earlier and whom a roster lists again: not signed up again
    skipped_left: list[str] = field(default_factory=list)


def _filter(tenant: str, name: AudienceName) -> sa.ColumnElement[bool]:
    s = t.subscribers
    conds: list[sa.ColumnElement[bool]] = [
        s.c.tenant == tenant,
        s.c.active.is_(True),
        s.c.kind.in_(name.roles),
    ]
    if name.scope is not None:
        if name.base == "officers":
            g = t.subscriber_groups
            conds.append(s.c.id.in_(sa.select(g.c.subscriber_id).where(g.c.grp == name.scope)))
        else:
            d = t.subscriber_districts
            conds.append(s.c.id.in_(sa.select(d.c.subscriber_id).where(d.c.district == name.scope)))
    if name.topic is not None:
        tp = t.subscriber_topics
        conds.append(
            sa.or_(
                s.c.all_topics.is_(True),
                s.c.id.in_(sa.select(tp.c.subscriber_id).where(tp.c.topic == name.topic)),
            )
        )
    return sa.and_(*conds)


def dialect_insert(c: sa.Connection, table: sa.Table) -> Any:
    """INSERT with the dialect's ON CONFLICT clauses (SQLite and PostgreSQL spell them alike)."""
    if c.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def apply_counts(c: sa.Connection, tenant: str, delta: Counter[CountKey]) -> None:
    """Add `delta` to the tenant's counts (negative for people who left or changed)."""
    rows = [
        {"tenant": tenant, "role": r, "scope": s, "topic": tp, "channel": ch, "n": k}
        for (r, s, tp, ch), k in sorted(delta.items())
        if k
    ]
    if not rows:
        return
    counts = t.audience_counts
    stmt = dialect_insert(c, counts)
    stmt = stmt.on_conflict_do_update(
        index_elements=["tenant", "role", "scope", "topic", "channel"],
        set_={"n": counts.c.n + stmt.excluded.n},
    )
    c.execute(stmt, rows)
    c.execute(counts.delete().where(counts.c.tenant == tenant, counts.c.n <= 0))


def _load_people(
    c: sa.Connection, tenant: str, ids: Sequence[int] | None = None, *, preferences: bool = True
) -> dict[int, Person]:
    """The tenant's people (or those of `ids`) by subscriber id, in four reads.

    `preferences=False` leaves out the channel preference, which counting does not need, so that
    the audiences migration (0003), which recounts with this code, runs before 0013 added it (and
    before 0015 added the household and address, left out likewise).
    """
    s = t.subscribers
    extra = (s.c.channel_order, s.c.no_smartphone, s.c.household, s.c.address) if preferences else ()
    query = sa.select(
        s.c.id, s.c.external_ref, s.c.kind, s.c.name, s.c.title, s.c.language, s.c.active, *extra
    ).where(s.c.tenant == tenant)
    if ids is not None:
        query = query.where(s.c.id.in_(ids))
    rows = c.execute(query.order_by(s.c.id)).all()
    parts: dict[int, dict[str, list[Any]]] = {
        r.id: {"districts": [], "groups": [], "topics": [], "endpoints": []} for r in rows
    }
    owned = sa.select(s.c.id).where(s.c.tenant == tenant)
    if ids is not None:
        owned = owned.where(s.c.id.in_(ids))
    for table, column, slot in (
        (t.subscriber_districts, "district", "districts"),
        (t.subscriber_groups, "grp", "groups"),
        (t.subscriber_topics, "topic", "topics"),
    ):
        for sid, value in c.execute(
            sa.select(table.c.subscriber_id, table.c[column]).where(table.c.subscriber_id.in_(owned))
        ):
            parts[sid][slot].append(value)
    e = t.subscriber_endpoints
    for sid, channel, address in c.execute(
        sa.select(e.c.subscriber_id, e.c.channel, e.c.address).where(e.c.subscriber_id.in_(owned))
    ):
        parts[sid]["endpoints"].append((channel, address))
    return {
        r.id: Person(
            external_id=r.external_ref or f"auto-{r.id}",
            kind=r.kind,
            name=r.name,
            title=r.title,
            districts=tuple(parts[r.id]["districts"]),
            groups=tuple(parts[r.id]["groups"]),
            language=r.language,
            topics=tuple(parts[r.id]["topics"]),
            endpoints=tuple(parts[r.id]["endpoints"]),
            active=bool(r.active),
            channel_order=parse_order(r.channel_order) if preferences else (),
            no_smartphone=bool(r.no_smartphone) if preferences else False,
            household=r.household if preferences else None,
            address=r.address if preferences else None,
        ).normalized()
        for r in rows
    }


def recount(c: sa.Connection, tenant: str) -> None:
    """Rebuild the tenant's counts from the people themselves (repair, and the migration)."""
    total: Counter[CountKey] = Counter()
    for person in _load_people(c, tenant, preferences=False).values():
        total.update(person.contribution())
    c.execute(t.audience_counts.delete().where(t.audience_counts.c.tenant == tenant))
    apply_counts(c, tenant, total)


def recount_all(c: sa.Connection) -> None:
    for tenant in c.execute(sa.select(t.subscribers.c.tenant).distinct()).scalars():
        recount(c, tenant)


def _children(sid: int, p: Person) -> dict[sa.Table, list[dict[str, Any]]]:
    return {
        t.subscriber_districts: [{"subscriber_id": sid, "district": d} for d in p.districts],
        t.subscriber_groups: [{"subscriber_id": sid, "grp": g} for g in p.groups],
        t.subscriber_topics: [{"subscriber_id": sid, "topic": x} for x in p.topics],
        t.subscriber_endpoints: [
            {"subscriber_id": sid, "channel": ch, "address": a, "address_hash": address_hash(ch, a)}
            for ch, a in p.endpoints
        ],
    }


def _insert_children(c: sa.Connection, rows: Mapping[sa.Table, list[dict[str, Any]]]) -> None:
    for table, values in rows.items():
        if values:
            c.execute(table.insert(), values)


def _delete_children(c: sa.Connection, ids: Sequence[int]) -> None:
    for table in (t.subscriber_districts, t.subscriber_groups, t.subscriber_topics, t.subscriber_endpoints):
        for i in range(0, len(ids), 500):
            c.execute(table.delete().where(table.c.subscriber_id.in_(ids[i : i + 500])))


def _orders(c: sa.Connection, tenant: str, ids: set[int]) -> dict[int, tuple[str, ...] | None]:
    """Each person's channel order among the kinds of address they have (None: no preference)."""
    if not ids:
        return {}
    s, e = t.subscribers, t.subscriber_endpoints
    have: dict[int, set[str]] = {}
    for sid, kind in c.execute(sa.select(e.c.subscriber_id, e.c.channel).where(e.c.subscriber_id.in_(list(ids)))):
        have.setdefault(sid, set()).add(kind)
    out: dict[int, tuple[str, ...] | None] = {}
    for r in c.execute(
        sa.select(s.c.id, s.c.channel_order, s.c.no_smartphone).where(s.c.tenant == tenant, s.c.id.in_(list(ids)))
    ):
        out[r.id] = order_of(parse_order(r.channel_order), bool(r.no_smartphone), have.get(r.id, set()))
    return out


def _subscriber_values(p: Person, at: datetime) -> dict[str, Any]:
    return {
        "kind": p.kind,
        "name": p.name,
        "title": p.title,
        "language": p.language,
        "topics": list(p.topics),
        "all_topics": not p.topics,
        "active": p.active,
        "updated": at,
        "channel_order": ",".join(p.channel_order) or None,
        "no_smartphone": p.no_smartphone,
        "household": p.household,
        "address": p.address,
    }


def _left(p: Person) -> Person:
    """What stays of a person who left: their external id and role, nothing personal."""
    return Person(external_id=p.external_id, kind=p.kind, active=False)


class Audiences:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- reading --------------------------------------------------------------------------------

    async def recipients(
        self, tenant: str, audience: str, channel: str, personal: Collection[str] | None = None
    ) -> list[Recipient]:
        """Addresses on `channel`, in subscriber order so that batches come out the same.

        With `personal` (the tenant's channels that reach people one by one), a person with a
        channel preference is given only on their first such channel (broadcaster/preference.py).
        """
        s, e = t.subscribers, t.subscriber_endpoints
        query = (
            sa.select(s.c.id, e.c.address, s.c.language)
            .select_from(s.join(e, e.c.subscriber_id == s.c.id))
            .where(_filter(tenant, AudienceName.parse(audience)), e.c.channel == endpoint_channel(channel))
            .order_by(s.c.id, e.c.address_hash)
        )

        def work(c: sa.Connection) -> list[Recipient]:
            rows = c.execute(query).all()
            if personal is None:
                return [Recipient(r.id, r.address, r.language) for r in rows]
            orders = _orders(c, tenant, {r.id for r in rows})
            return [
                Recipient(r.id, r.address, r.language) for r in rows if sends_on(orders.get(r.id), channel, personal)
            ]

        return await self.db.read(work)

    async def preferred_channels(self, tenant: str, audience: str, personal: Collection[str]) -> set[str]:
        """The first channels of the audience's people who have a preference: routing adds a
        dispatch on each that the rules did not name (a resident without a smartphone: voice)."""
        s = t.subscribers
        query = sa.select(s.c.id).where(
            _filter(tenant, AudienceName.parse(audience)),
            sa.or_(s.c.channel_order.is_not(None), s.c.no_smartphone.is_(True)),
        )

        def work(c: sa.Connection) -> set[str]:
            ids = {r.id for r in c.execute(query)}
            orders = _orders(c, tenant, ids) if ids else {}
            return {ch for o in orders.values() if o is not None and (ch := first_channel(o, personal)) is not None}

        return await self.db.read(work)

    async def roster_ids(self, tenant: str, channel: str, addresses: Sequence[str]) -> list[str]:
        """The roster ids (external ids) of the people with these addresses on `channel`."""
        e, s = t.subscriber_endpoints, t.subscribers
        kind = endpoint_channel(channel)
        hashes = [address_hash(kind, a) for a in addresses]
        query = (
            sa.select(s.c.external_ref)
            .select_from(e.join(s, s.c.id == e.c.subscriber_id))
            .where(s.c.tenant == tenant, e.c.channel == kind, e.c.address_hash.in_(hashes))
            .order_by(s.c.external_ref)
        )
        return await self.db.read(lambda c: [str(r[0]) for r in c.execute(query) if r[0]])

    async def fallback(
        self, tenant: str, channel: str, addresses: Sequence[str], personal: Collection[str]
    ) -> dict[str, list[tuple[int, str, str, str]]]:
        """For addresses `channel` did not reach: {next channel: [(subscriber, address there, language,
        the address's hash on `channel`)]}, for the people who have a preference and a next channel."""
        e = t.subscriber_endpoints
        kind = endpoint_channel(channel)
        hashes = {address_hash(kind, a): a for a in addresses}

        def work(c: sa.Connection) -> dict[str, list[tuple[int, str, str, str]]]:
            owners = {
                r.address_hash: r.subscriber_id
                for r in c.execute(
                    sa.select(e.c.subscriber_id, e.c.address_hash)
                    .select_from(e.join(t.subscribers, t.subscribers.c.id == e.c.subscriber_id))
                    .where(t.subscribers.c.tenant == tenant, t.subscribers.c.active.is_(True))
                    .where(e.c.channel == kind, e.c.address_hash.in_(list(hashes)))
                )
            }
            orders = _orders(c, tenant, set(owners.values()))
            languages = {
                r.id: r.language
                for r in c.execute(sa.select(t.subscribers.c.id, t.subscribers.c.language).where(t.subscribers.c.id.in_(list(orders))))
            }
            out: dict[str, list[tuple[int, str, str, str]]] = {}
            for h, sid in sorted(owners.items(), key=lambda kv: kv[1]):
                order = orders.get(sid)
                nxt = next_channel(order, channel, personal) if order is not None else None
                if nxt is None:
                    continue
                there = c.execute(
                    sa.select(e.c.address).where(e.c.subscriber_id == sid, e.c.channel == endpoint_channel(nxt))
                ).first()
                if there is not None:
                    out.setdefault(nxt, []).append((sid, there.address, languages.get(sid, "ja"), h))
            return out

        return await self.db.read(work)

    async def count(self, tenant: str, audience: str, channel: str) -> int:
        """Endpoints of the audience on the channel: one indexed read of audience_counts."""
        name = AudienceName.parse(audience)
        a = t.audience_counts
        query = sa.select(sa.func.coalesce(sa.func.sum(a.c.n), 0)).where(
            a.c.tenant == tenant,
            a.c.role.in_(name.roles),
            a.c.scope == (name.scope or "*"),
            a.c.topic == (name.topic or "*"),
            a.c.channel == channel,
        )
        return await self.db.read(lambda c: int(c.execute(query).scalar() or 0))

    async def counts(self, tenant: str) -> CountSnapshot:
        a = t.audience_counts
        query = sa.select(a.c.role, a.c.scope, a.c.topic, a.c.channel, a.c.n).where(a.c.tenant == tenant)
        rows = await self.db.read(lambda c: c.execute(query).all())
        return CountSnapshot(tenant, {(r.role, r.scope, r.topic, r.channel): int(r.n) for r in rows}, time.monotonic())

    async def people(self, tenant: str) -> list[Person]:
        """Everyone of the tenant, in the order they were registered (the CSV export)."""
        return list((await self.db.read(lambda c: _load_people(c, tenant))).values())

    async def person(self, tenant: str, external_id: str) -> Person | None:
        s = t.subscribers

        def work(c: sa.Connection) -> Person | None:
            sid = c.execute(
                sa.select(s.c.id).where(s.c.tenant == tenant, s.c.external_ref == external_id)
            ).scalar()
            return None if sid is None else _load_people(c, tenant, [sid]).get(sid)

        return await self.db.read(work)

    # -- changing ---------------------------------------------------------------------------------

    async def add(
        self,
        tenant: str,
        *,
        kind: str = "resident",
        name: str | None = None,
        language: str = "ja",
        districts: Sequence[str] = (),
        topics: Sequence[str] = (),
        endpoints: Mapping[str, str] | None = None,
        external_ref: str | None = None,
        title: str | None = None,
        groups: Sequence[str] = (),
        channel_order: Sequence[str] = (),
        no_smartphone: bool = False,
    ) -> int:
        """Register one person (an app or LINE sign-up); returns the subscriber id."""
        at = now()
        person = Person(
            external_id=external_ref or "",
            kind=kind,
            name=name,
            title=title,
            districts=tuple(districts),
            groups=tuple(groups),
            language=language,
            topics=tuple(topics),
            endpoints=tuple((endpoints or {}).items()),
            channel_order=tuple(channel_order),
            no_smartphone=no_smartphone,
        ).normalized()

        def work(c: sa.Connection) -> int:
            result = c.execute(
                t.subscribers.insert().values(
                    tenant=tenant, external_ref=external_ref, created=at, **_subscriber_values(person, at)
                )
            )
            sid = int(result.inserted_primary_key[0])  # type: ignore[index]
            if external_ref is None:
                # Everyone has an external id, so that an export can be imported again unchanged.
                c.execute(t.subscribers.update().where(t.subscribers.c.id == sid).values(external_ref=f"auto-{sid}"))
            _insert_children(c, _children(sid, person))
            apply_counts(c, tenant, person.contribution())
            return sid

        sid = await self.db.write(work)
        log.info("subscriber_added", tenant=tenant, kind=kind, subscriber=hash_id(f"{tenant}/{sid}"))
        return sid

    async def import_people(self, tenant: str, people: Sequence[Person]) -> ImportReport:
        """Create or update people by external id, in one transaction; see docs/audiences.md.

        Importing the same file twice changes nothing the second time. Someone who left stays
        gone even if a roster lists them again: they must sign up again themselves.
        """
        incoming = [p.normalized() for p in people]
        at = now()

        def work(c: sa.Connection) -> ImportReport:
            report = ImportReport()
            s = t.subscribers
            known = {
                r.external_ref: (r.id, r.left_at is not None)
                for r in c.execute(
                    sa.select(s.c.id, s.c.external_ref, s.c.left_at).where(s.c.tenant == tenant)
                )
            }
            wanted = [known[p.external_id][0] for p in incoming if p.external_id in known]
            # Past a few hundred ids one read of the whole tenant beats a huge IN list (SQLite
            # limits the number of parameters of a statement).
            current = _load_people(c, tenant, wanted if len(wanted) <= 500 else None) if wanted else {}
            delta: Counter[CountKey] = Counter()
            creates: list[Person] = []
            rewrites: list[tuple[int, Person]] = []
            for p in incoming:
                if p.external_id not in known:
                    creates.append(p if p.active else _left(p))
                    continue
                sid, has_left = known[p.external_id]
                before = current[sid]
                if has_left:
                    if p.active:
                        report.skipped_left.append(p.external_id)
                    else:
                        report.unchanged += 1
                    continue
                after = p if p.active else _left(p)
                if after == before:
                    report.unchanged += 1
                    continue
                delta.subtract(before.contribution())
                delta.update(after.contribution())
                rewrites.append((sid, after))
                if p.active:
                    report.updated += 1
                else:
                    report.left += 1
            if creates:
                result = c.execute(
                    s.insert().returning(s.c.id, sort_by_parameter_order=True),
                    [
                        {
                            "tenant": tenant,
                            "external_ref": p.external_id,
                            "created": at,
                            "left_at": None if p.active else at,
                            **_subscriber_values(p, at),
                        }
                        for p in creates
                    ],
                )
                rows: dict[sa.Table, list[dict[str, Any]]] = {}
                for sid, p in zip(result.scalars(), creates, strict=True):
                    for table, values in _children(sid, p).items():
                        rows.setdefault(table, []).extend(values)
                    delta.update(p.contribution())
                    if p.active:
                        report.created += 1
                    else:
                        report.left += 1
                _insert_children(c, rows)
            if rewrites:
                _delete_children(c, [sid for sid, _ in rewrites])
                rows = {}
                for sid, p in rewrites:
                    fields = _subscriber_values(p, at)
                    if not p.active:
                        fields["left_at"] = at
                    c.execute(s.update().where(s.c.id == sid).values(**fields))
                    for table, vals in _children(sid, p).items():
                        rows.setdefault(table, []).extend(vals)
                _insert_children(c, rows)
            apply_counts(c, tenant, delta)
            return report

        report = await self.db.write(work)
        log.info(
            "audience_imported",
            tenant=tenant,
            created=report.created,
            updated=report.updated,
            unchanged=report.unchanged,
            left=report.left,
            skipped_left=len(report.skipped_left),
        )
        return report

    async def leave(self, tenant: str, external_id: str) -> bool:
        """The person opts out: endpoints, districts, topics, name are deleted (APPI), at once."""
        s = t.subscribers
        at = now()

        def work(c: sa.Connection) -> bool:
            sid = c.execute(
                sa.select(s.c.id).where(
                    s.c.tenant == tenant, s.c.external_ref == external_id, s.c.left_at.is_(None)
                )
            ).scalar()
            if sid is None:
                return False
            before = _load_people(c, tenant, [sid])[sid]
            _delete_children(c, [sid])
            values = _subscriber_values(_left(before), at)
            c.execute(s.update().where(s.c.id == sid).values(left_at=at, **values))
            delta: Counter[CountKey] = Counter()
            delta.subtract(before.contribution())
            apply_counts(c, tenant, delta)
            return True

        done = await self.db.write(work)
        log.info("subscriber_left", tenant=tenant, person=hash_id(f"{tenant}/{external_id}"), found=done)
        return done

    async def remove_endpoint(self, tenant: str, channel: str, address: str) -> int:
        """One address stops (a LINE unfollow, a bounced e-mail); the person stays registered."""
        s, e = t.subscribers, t.subscriber_endpoints
        h = address_hash(channel, address)

        def work(c: sa.Connection) -> int:
            ids = list(
                c.execute(
                    sa.select(e.c.subscriber_id)
                    .select_from(e.join(s, s.c.id == e.c.subscriber_id))
                    .where(s.c.tenant == tenant, e.c.channel == channel, e.c.address_hash == h)
                ).scalars()
            )
            if not ids:
                return 0
            people = _load_people(c, tenant, ids)
            delta: Counter[CountKey] = Counter()
            for sid in ids:
                before = people[sid]
                after = replace(before, endpoints=tuple(x for x in before.endpoints if x != (channel, address)))
                delta.subtract(before.contribution())
                delta.update(after.contribution())
            c.execute(e.delete().where(e.c.subscriber_id.in_(ids), e.c.channel == channel, e.c.address_hash == h))
            apply_counts(c, tenant, delta)
            return len(ids)

        n = await self.db.write(work)
        log.info("endpoint_removed", tenant=tenant, channel=channel, address=hash_id(address), subscribers=n)
        return n

    async def recount(self, tenant: str) -> None:
        await self.db.write(lambda c: recount(c, tenant))

    # -- a person who speaks back through a channel (the LINE webhook) -------------------------------

    async def by_endpoint(self, tenant: str, channel: str, address: str) -> list[Person]:
        """The tenant's registered people with this address (normally one), by its keyed hash."""
        s, e = t.subscribers, t.subscriber_endpoints
        h = address_hash(channel, address)

        def work(c: sa.Connection) -> list[Person]:
            ids = list(
                c.execute(
                    sa.select(e.c.subscriber_id)
                    .select_from(e.join(s, s.c.id == e.c.subscriber_id))
                    .where(s.c.tenant == tenant, s.c.left_at.is_(None), e.c.channel == channel, e.c.address_hash == h)
                    .order_by(e.c.subscriber_id)
                ).scalars()
            )
            return list(_load_people(c, tenant, ids).values()) if ids else []

        return await self.db.read(work)

    async def update_person(
        self,
        tenant: str,
        external_id: str,
        *,
        districts: Sequence[str] | None = None,
        language: str | None = None,
        topics: Sequence[str] | None = None,
        add_endpoint: tuple[str, str] | None = None,
    ) -> Person | None:
        """Change some of one registered person's choices (None: unchanged), counts in step;
        None when there is no such person (or they left)."""
        s = t.subscribers
        at = now()

        def work(c: sa.Connection) -> Person | None:
            sid = c.execute(
                sa.select(s.c.id).where(s.c.tenant == tenant, s.c.external_ref == external_id, s.c.left_at.is_(None))
            ).scalar()
            if sid is None:
                return None
            before = _load_people(c, tenant, [sid])[sid]
            changes: dict[str, Any] = {}
            if districts is not None:
                changes["districts"] = tuple(districts)
            if language is not None:
                changes["language"] = language
            if topics is not None:
                changes["topics"] = tuple(topics)
            if add_endpoint is not None:
                changes["endpoints"] = (*before.endpoints, add_endpoint)
            after = replace(before, **changes).normalized()
            if after == before:
                return before
            _delete_children(c, [sid])
            _insert_children(c, _children(sid, after))
            c.execute(s.update().where(s.c.id == sid).values(**_subscriber_values(after, at)))
            delta: Counter[CountKey] = Counter()
            delta.subtract(before.contribution())
            delta.update(after.contribution())
            apply_counts(c, tenant, delta)
            return after

        person = await self.db.write(work)
        log.info("subscriber_updated", tenant=tenant, person=hash_id(f"{tenant}/{external_id}"), found=person is not None)
        return person


class CountCache:
    """Per-tenant count snapshots, re-read after `ttl_s`: routing asks often, people change rarely."""

    def __init__(self, audiences: Audiences, ttl_s: float = 5.0) -> None:
        self.audiences = audiences
        self.ttl_s = ttl_s
        self._snapshots: dict[str, CountSnapshot] = {}

    async def snapshot(self, tenant: str) -> CountSnapshot:
        snap = self._snapshots.get(tenant)
        if snap is None or time.monotonic() - snap.taken > self.ttl_s:
            snap = await self.audiences.counts(tenant)
            self._snapshots[tenant] = snap
        return snap

    def invalidate(self, tenants: Iterable[str] | None = None) -> None:
        if tenants is None:
            self._snapshots.clear()
        for tenant in tenants or ():
            self._snapshots.pop(tenant, None)
