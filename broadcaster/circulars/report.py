"""What the officers see of a circular: per district read / confirmed / replied, the answers summed,
who needs a phone call, a CSV, and how much of each district's households are accounted for.

Only each person's latest answer counts (a leader who corrects 18 to 19 safe households is not
counted twice); every answer stays in the ledger.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from broadcaster.circulars import store as cs
from broadcaster.circulars.forms import HEADCOUNT_FIELDS, SAFETY_FIELDS, describe
from broadcaster.circulars.records import Circular, CircularState, Delivery
from broadcaster.model import JST
from broadcaster.settings import Settings
from broadcaster.store.db import Database


@dataclass
class DistrictRow:
    district: str | None
    name: str
    people: int = 0  # leaders (deputies are counted apart)
    deputies: int = 0
    opened: int = 0
    confirmed: int = 0
    answered: int = 0
    # Sums of the latest safety / head-count answers; yes/no counts.
    sums: dict[str, int] = field(default_factory=dict)
    yes: int = 0
    no: int = 0
    households: int | None = None

    @property
    def households_confirmed(self) -> int:
        """Households whose state a leader reported (safe or needing help)."""
        return self.sums.get("safe", 0) + self.sums.get("need_help", 0)

    @property
    def coverage(self) -> float | None:
        if not self.households:
            return None
        return min(1.0, self.households_confirmed / self.households)


@dataclass
class Summary:
    circular: Circular
    districts: list[DistrictRow]
    deliveries: list[Delivery]
    latest: dict[str, dict[str, Any]]  # delivery id → latest answer {form, data, at}
    notes: list[tuple[Delivery, str, datetime]]
    escalated: list[tuple[Delivery, list[str]]]  # officers told, still unconfirmed: with phones

    @property
    def total(self) -> DistrictRow:
        row = DistrictRow(None, "合計")
        for d in self.districts:
            row.people += d.people
            row.deputies += d.deputies
            row.opened += d.opened
            row.confirmed += d.confirmed
            row.answered += d.answered
            row.yes += d.yes
            row.no += d.no
            for k, v in d.sums.items():
                row.sums[k] = row.sums.get(k, 0) + v
            if d.households is not None:
                row.households = (row.households or 0) + d.households
        return row


def latest_answers(answers: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per delivery, the latest answer of the circular's form, merged with the latest note."""
    out: dict[str, dict[str, Any]] = {}
    for a in answers:  # oldest first
        current = out.setdefault(a["delivery_id"], {"form": None, "data": {}, "at": a["at"]})
        data = dict(a["data"])
        note = data.pop("note", None)
        if a["form"] != "text":
            kept = current["data"].get("note")
            current["form"] = a["form"]
            current["data"] = data if kept is None else {**data, "note": kept}
        if note:
            current["data"]["note"] = note
        current["at"] = a["at"]
    return out


async def summary(db: Database, settings: Settings, circular: Circular) -> Summary:
    deliveries = await cs.deliveries(db, circular.id)
    answers = await cs.answers(db, circular.id)
    latest = latest_answers(answers)
    tenant = settings.tenants.get(circular.tenant)
    names = {d.id: d.name for d in tenant.districts} if tenant else {}
    households = {d.id: d.households for d in tenant.districts} if tenant else {}
    rows: dict[str | None, DistrictRow] = {}
    if circular.origin == "routine":
        for d_id in circular.districts or list(names):
            rows[d_id] = DistrictRow(d_id, names.get(d_id, d_id), households=households.get(d_id))
    for d in deliveries:
        row = rows.setdefault(d.district, DistrictRow(d.district, names.get(d.district or "", d.district or "地区未設定"), households=households.get(d.district or "")))
        if d.role == "deputy":
            row.deputies += 1
        else:
            row.people += 1
        row.opened += d.opened_at is not None
        row.confirmed += d.confirmed_at is not None
        row.answered += d.answered_at is not None
        answer = latest.get(d.id)
        if answer is None or answer["form"] is None:
            continue
        data = answer["data"]
        for name, _ in (*SAFETY_FIELDS, *HEADCOUNT_FIELDS):
            if isinstance(data.get(name), int):
                row.sums[name] = row.sums.get(name, 0) + int(data[name])
        if data.get("choice") == "yes":
            row.yes += 1
        elif data.get("choice") == "no":
            row.no += 1
    by_id = {d.id: d for d in deliveries}
    notes = [(by_id[a["delivery_id"]], str(a["data"]["note"]), a["at"]) for a in answers if a["data"].get("note") and a["delivery_id"] in by_id]
    late = [d for d in deliveries if d.officers_at is not None and d.confirmed_at is None]
    phones = await cs.phones(db, [d.subscriber_id for d in late if d.subscriber_id is not None])
    escalated = [(d, phones.get(d.subscriber_id or -1, [])) for d in late]
    ordered = sorted(rows.values(), key=lambda r: (r.district is None, r.district or ""))
    return Summary(circular, ordered, deliveries, latest, notes, escalated)


# -- CSV -------------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "地区", "役割", "氏名", "送信", "開封", "確認", "回答", "回答内容",
    *(label for _, label in SAFETY_FIELDS), *(label for _, label in HEADCOUNT_FIELDS), "はい/いいえ", "連絡事項",
    "督促", "副区長へ", "職員へ",
)


def _cell(value: Any) -> str:
    """A cell Excel shows as text: a leader's note starting with = must never become a formula."""
    if value is None:
        return ""
    text = f"{value.astimezone(JST):%Y-%m-%d %H:%M}" if isinstance(value, datetime) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(s: Summary, settings: Settings) -> str:
    """UTF-8 with a BOM, as Excel in Japan opens it (docs/audiences.md does the same)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    names = {r.district: r.name for r in s.districts}
    for d in s.deliveries:
        a = s.latest.get(d.id, {"form": None, "data": {}})
        data = a["data"]
        w.writerow(
            [
                _cell(names.get(d.district, d.district)),
                _cell("区長" if d.role == "leader" else "副区長"),
                _cell(d.who),
                _cell(d.created),
                _cell(d.opened_at),
                _cell(d.confirmed_at),
                _cell(d.answered_at),
                _cell(describe(a["form"] or "text", data) if data else ""),
                *(_cell(data.get(n)) for n, _ in SAFETY_FIELDS),
                *(_cell(data.get(n)) for n, _ in HEADCOUNT_FIELDS),
                _cell({"yes": "はい", "no": "いいえ"}.get(str(data.get("choice")), "")),
                _cell(data.get("note")),
                _cell(d.reminded_at),
                _cell(d.deputy_at),
                _cell(d.officers_at),
            ]
        )
    return "\ufeff" + out.getvalue()


# -- coverage (the console home) -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Coverage:
    district: str
    name: str
    households: int | None
    confirmed: int  # households reported safe or needing help
    safe: int
    need_help: int
    unreachable: int
    leaders: int
    leaders_confirmed: int

    @property
    def share(self) -> float | None:
        return None if not self.households else min(1.0, self.confirmed / self.households)


async def latest_safety_circular(db: Database, tenant: str) -> Circular | None:
    """The latest real safety check; a drill's only when there is no real one.

    A drill sent after a real event must not take the real replies off the console's summary.
    """
    drill = None
    for c in await cs.circulars_of(db, tenant, limit=50):
        if c.form == "safety" and c.state in (CircularState.RELEASED, CircularState.SUPERSEDED):
            if c.status == "Actual":
                return c
            drill = drill or c
    return drill


async def coverage(db: Database, settings: Settings, tenant: str, circular_id: str | None = None) -> tuple[Circular | None, list[Coverage]]:
    """Per district, the share of households confirmed by the latest safety check (or the one
    named): for the console home. Households come from settings (districts[].households)."""
    c = await cs.circular(db, circular_id, tenant) if circular_id else await latest_safety_circular(db, tenant)
    cfg = settings.tenants.get(tenant)
    if cfg is None:
        return None, []
    rows = {r.district: r for r in (await summary(db, settings, c)).districts} if c is not None else {}
    out = []
    for d in cfg.districts:
        r = rows.get(d.id) or DistrictRow(d.id, d.name, households=d.households)
        out.append(
            Coverage(
                district=d.id,
                name=d.name,
                households=d.households,
                confirmed=r.households_confirmed,
                safe=r.sums.get("safe", 0),
                need_help=r.sums.get("need_help", 0),
                unreachable=r.sums.get("unreachable", 0),
                leaders=r.people,
                leaders_confirmed=r.confirmed,
            )
        )
    return c, out
