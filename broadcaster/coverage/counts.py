"""Coverage of one alert: per district, how many households were reached, by which medium.

A household counts as reached when any of its members was reached on any medium (docs/coverage.md):
an outcome a provider reported as reached (`recipient_outcomes`: a call answered, an SMS delivered,
an e-mail accepted), or a mark (`reach_marks`: a LINE reply or quick-reply tap, an app opened, the
leader's confirmation on the circular, an officer's or leader's mark, a safety answer).

Everything is read in a handful of queries and counted here, so that the count of a town of ten
thousand households stays current within moments of each receipt (bench/bench_coverage.py).
Every query names the tenant: nothing here reads another municipality's people.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from broadcaster.audience import PUBLIC_ROLES, AudienceName
from broadcaster.coverage.config import CoverageSettings
from broadcaster.model import now
from broadcaster.store import tables as t
from broadcaster.store.db import Database

NO_DISTRICT = ""


@dataclass
class Household:
    key: str
    # (external id, name) of each member counted
    members: list[tuple[str, str | None]] = field(default_factory=list)
    subscriber_ids: list[int] = field(default_factory=list)
    districts: set[str] = field(default_factory=set)
    media: set[str] = field(default_factory=set)
    address: str | None = None
    safety: str | None = None

    @property
    def reached(self) -> bool:
        return bool(self.media)

    @property
    def label(self) -> str:
        """What the leader reads: the members' names (their ids when the roster has no name)."""
        return "、".join(name or ext for ext, name in self.members)


@dataclass
class DistrictCoverage:
    district: str
    name: str
    households: int = 0
    reached: int = 0
    # Households reached per medium; one reached on two media counts under both.
    by_medium: Counter[str] = field(default_factory=Counter)
    # Safety answers of its households (safe, need_help, evacuated).
    safety: Counter[str] = field(default_factory=Counter)
    flagged: bool = False
    unreached: list[Household] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.reached / self.households if self.households else 1.0

    @property
    def not_reached(self) -> int:
        return self.households - self.reached


@dataclass
class Coverage:
    tenant: str
    alert_id: str
    status: str
    kind: str
    headline: str | None
    received: datetime
    at: datetime
    flag_share: float
    flag_after: timedelta
    districts: list[DistrictCoverage]
    households: int = 0
    reached: int = 0
    by_medium: Counter[str] = field(default_factory=Counter)
    safety: Counter[str] = field(default_factory=Counter)

    @property
    def share(self) -> float:
        return self.reached / self.households if self.households else 1.0

    @property
    def flagged(self) -> list[DistrictCoverage]:
        return [d for d in self.districts if d.flagged]


def _targets(audiences: Sequence[str]) -> set[str] | None:
    """The districts an alert's dispatches were meant for; None: the whole town."""
    out: set[str] = set()
    for text in audiences:
        try:
            name = AudienceName.parse(text)
        except ValueError:
            continue
        if name.base == "officers":
            continue
        if name.scope is None:
            return None
        out.add(name.scope)
    return out or None


def _medium(channel: str) -> str:
    # A tenant may run a second account of a channel ("line:kawashima"): it is the same medium.
    return channel.split(":", 1)[0]


def _read(
    c: sa.Connection,
    tenant: str,
    alert_id: str,
    districts: Mapping[str, str],
    settings: CoverageSettings,
    at: datetime,
    *,
    addresses: bool,
) -> Coverage | None:
    a, d, s = t.alerts, t.dispatches, t.subscribers
    alert = c.execute(
        sa.select(a.c.status, a.c.kind, a.c.headline, a.c.received).where(
            a.c.tenant == tenant, a.c.identifier == alert_id
        )
    ).first()
    if alert is None:
        return None
    audiences = list(
        c.execute(
            sa.select(d.c.audience).where(d.c.tenant == tenant, d.c.alert_id == alert_id).distinct()
        ).scalars()
    )
    targets = _targets(audiences)

    people = c.execute(
        sa.select(s.c.id, s.c.external_ref, s.c.name, s.c.household).where(
            s.c.tenant == tenant, s.c.active.is_(True), s.c.kind.in_(PUBLIC_ROLES)
        )
    ).all()
    homes: dict[int, list[str]] = {}
    sd = t.subscriber_districts
    owned = sa.select(s.c.id).where(s.c.tenant == tenant, s.c.active.is_(True), s.c.kind.in_(PUBLIC_ROLES))
    for sid, district in c.execute(
        sa.select(sd.c.subscriber_id, sd.c.district).where(sd.c.subscriber_id.in_(owned))
    ):
        homes.setdefault(sid, []).append(district)

    households: dict[str, Household] = {}
    of_subscriber: dict[int, Household] = {}
    for p in people:
        ext = p.external_ref or f"auto-{p.id}"
        key = p.household or f"~{ext}"
        h = households.get(key)
        if h is None:
            h = households[key] = Household(key)
        h.members.append((ext, p.name))
        h.subscriber_ids.append(p.id)
        h.districts.update(homes.get(p.id) or [NO_DISTRICT])
        of_subscriber[p.id] = h

    r, e = t.recipient_outcomes, t.subscriber_endpoints
    # The outcome names the address by its keyed hash; the hash includes the channel, so the
    # hash alone finds the person.
    reached = (
        sa.select(e.c.subscriber_id, r.c.channel)
        .select_from(r.join(e, e.c.address_hash == r.c.address_hash))
        .where(r.c.tenant == tenant, r.c.alert_id == alert_id, r.c.reached.is_(True))
    )
    for sid, channel in c.execute(reached):
        h = of_subscriber.get(sid)
        if h is not None:
            h.media.add(_medium(channel))
    m = t.reach_marks
    for key, medium in c.execute(
        sa.select(m.c.household, m.c.medium).where(m.c.tenant == tenant, m.c.alert_id == alert_id)
    ):
        h = households.get(key)
        if h is not None:
            h.media.add(medium)

    sa_ = t.safety_answers
    for key, answer in c.execute(
        sa.select(sa_.c.household, sa_.c.answer).where(sa_.c.tenant == tenant, sa_.c.alert_id == alert_id)
    ):
        h = households.get(key)
        if h is not None:
            h.safety = answer

    ids = list(districts) if targets is None else sorted(targets)
    rows = {did: DistrictCoverage(did, districts.get(did, did)) for did in ids}
    counted: list[Household] = []
    for h in households.values():
        mine = [x for x in sorted(h.districts) if x in rows]
        if not mine and targets is None and NO_DISTRICT in h.districts:
            rows.setdefault(NO_DISTRICT, DistrictCoverage(NO_DISTRICT, ""))
            mine = [NO_DISTRICT]
        if not mine:
            continue
        counted.append(h)
        for did in mine:
            row = rows[did]
            row.households += 1
            if h.safety:
                row.safety[h.safety] += 1
            if h.reached:
                row.reached += 1
                row.by_medium.update(h.media)
            else:
                row.unreached.append(h)

    received: datetime = alert.received
    flag_after = timedelta(minutes=settings.flag_after_min)
    late = at - received >= flag_after
    for row in rows.values():
        row.flagged = late and row.households > 0 and row.share < settings.flag_share
        row.unreached.sort(key=lambda h: h.key)
    if addresses:
        _addresses(c, [h for row in rows.values() for h in row.unreached])
    total = Coverage(
        tenant=tenant,
        alert_id=alert_id,
        status=str(alert.status),
        kind=str(alert.kind),
        headline=alert.headline,
        received=received,
        at=at,
        flag_share=settings.flag_share,
        flag_after=flag_after,
        districts=[rows[k] for k in sorted(rows, key=lambda k: (k == NO_DISTRICT, k))],
    )
    total.households = len(counted)
    total.reached = sum(1 for h in counted if h.reached)
    for h in counted:
        total.by_medium.update(h.media)
        if h.safety:
            total.safety[h.safety] += 1
    return total


def _addresses(c: sa.Connection, households: Sequence[Household]) -> None:
    """Fill in the addresses (sealed at rest) of the households not reached, and only those."""
    s = t.subscribers
    by_id = {sid: h for h in households for sid in h.subscriber_ids}
    ids = list(by_id)
    for i in range(0, len(ids), 500):
        for sid, address in c.execute(sa.select(s.c.id, s.c.address).where(s.c.id.in_(ids[i : i + 500]))):
            h = by_id[sid]
            if address and not h.address:
                h.address = address


async def compute(
    db: Database,
    tenant: str,
    alert_id: str,
    districts: Mapping[str, str],
    settings: CoverageSettings,
    *,
    at: datetime | None = None,
    addresses: bool = False,
) -> Coverage | None:
    """The coverage of `alert_id` over the tenant's `districts` (id → name); None: no such alert.

    `addresses` also opens the sealed addresses of the households not reached (for a leader's
    list or the headquarters' export); the counts alone never read them.
    """
    when = at or now()
    return await db.read(lambda c: _read(c, tenant, alert_id, districts, settings, when, addresses=addresses))
