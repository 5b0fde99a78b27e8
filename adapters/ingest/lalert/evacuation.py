"""避難情報 (EvacuationOrder): a snapshot of every 発令区分 the municipality has issued or lifted.

One Detail per 発令区分 and 発令/解除, each listing its districts. The alert's level is the highest
level still in force; when everything is lifted it is the highest level lifted, so that rules which
sent the order also send its lifting, and the lifting itself is marked by responseType AllClear and
lalert:issueOrLift = 解除.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from adapters.ingest.lalert import vocabulary as v
from adapters.ingest.lalert.areas import Place, read_place, to_area
from adapters.ingest.lalert.facts import BodyFacts, Context, count, disaster_name
from adapters.ingest.lalert.namespaces import child, child_text, children
from broadcaster.model import LEVEL, Area, Certainty, ResponseType, Severity, Urgency


@dataclass(frozen=True)
class _District:
    place: Place
    households: int | None
    head_count: int | None
    since: str | None


@dataclass(frozen=True)
class _Order:
    sort: v.Sort
    lifted: bool
    households: int | None
    head_count: int | None
    districts: tuple[_District, ...]

    @property
    def rank(self) -> int:
        # 警戒区域 is an entry ban: ranked with level 5 when choosing the headline order.
        if self.sort.label == v.RESTRICTED_ZONE:
            return 5
        return self.sort.level or 0


def _order(detail: etree._Element) -> _Order | None:
    sort_text = child_text(detail, "Sort")
    if sort_text is None:
        return None
    obj = child(detail, "Object")
    districts = []
    listed = child(detail, "Areas")
    for a in children(listed, "Area") if listed is not None else ():
        a_obj = child(a, "Object")
        districts.append(
            _District(
                place=read_place(child(a, "Location")),
                households=count(child_text(a_obj, "Households")),
                head_count=count(child_text(a_obj, "HeadCount")),
                since=child_text(a, "DateTime"),
            )
        )
    return _Order(
        sort=v.classify_sort(sort_text),
        lifted=v.is_lift(child_text(detail, "IssueOrLift")),
        households=count(child_text(obj, "Households")),
        head_count=count(child_text(obj, "HeadCount")),
        districts=tuple(districts),
    )


def _counts(households: int | None, head_count: int | None) -> str:
    parts = [
        f"{households}世帯" if households is not None else "",
        f"{head_count}人" if head_count is not None else "",
    ]
    joined = " ".join(p for p in parts if p)
    return f"（{joined}）" if joined else ""


def read_evacuation(body: etree._Element, ctx: Context) -> BodyFacts:
    orders = [o for o in (_order(d) for d in children(body, "Detail")) if o is not None]
    in_force = [o for o in orders if not o.lifted]
    lifted = [o for o in orders if o.lifted]
    top = max(in_force or lifted, key=lambda o: o.rank, default=None)

    facts = BodyFacts(event=v.CATEGORY_EVENTS["EvacuationOrder"])
    if top is not None:
        facts.event = top.sort.label if in_force else f"{top.sort.label}{v.LIFT}"
        facts.param(v.P_ISSUE_OR_LIFT, v.ISSUE if in_force else v.LIFT)
    levels = [o.sort.level for o in (in_force or lifted) if o.sort.level is not None]
    level = max(levels, default=None)
    if level is not None:
        facts.param(LEVEL, level)
    _grade(facts, top, in_force=bool(in_force), level=level)

    facts.param(v.P_DISASTER, disaster_name(body))
    total = child(body, "TotalNumber")
    facts.param(v.P_HOUSEHOLDS, count(child_text(total, "Households")))
    facts.param(v.P_HEAD_COUNT, count(child_text(total, "HeadCount")))

    areas: list[Area] = []
    index: dict[str, int] = {}
    for n, order in enumerate(orders, start=1):
        names = []
        for d in order.districts:
            area = to_area(d.place, municipality=ctx.municipality)
            if area is None:
                continue
            names.append(area.area_desc)
            if area.area_desc not in index:
                areas.append(area)
                m = index[area.area_desc] = len(areas)
                facts.param(v.p_area(m, "households"), d.households)
                facts.param(v.p_area(m, "headCount"), d.head_count)
                facts.param(v.p_area(m, "since"), d.since)
        facts.param(v.p_order(n, "sort"), order.sort.original)
        facts.param(v.p_order(n, "label"), order.sort.label)
        facts.param(v.p_order(n, "level"), order.sort.level)
        facts.param(v.p_order(n, "issueOrLift"), v.LIFT if order.lifted else v.ISSUE)
        facts.param(v.p_order(n, "areas"), v.AREA_LIST_SEPARATOR.join(names))
        facts.param(v.p_order(n, "households"), order.households)
        facts.param(v.p_order(n, "headCount"), order.head_count)
        level_text = f"【警戒レベル{order.sort.level}】" if order.sort.level else ""
        facts.summary.append(
            f"{level_text}{order.sort.label} {v.LIFT if order.lifted else v.ISSUE}: "
            f"{v.AREA_LIST_SEPARATOR.join(names) or '対象地区の記載なし'}"
            f"{_counts(order.households, order.head_count)}"
        )
    complementary = child_text(body, "ComplementaryInfo")
    if complementary:
        facts.summary.append(complementary)
    facts.areas = tuple(areas) if areas else None
    return facts


def _grade(facts: BodyFacts, top: _Order | None, *, in_force: bool, level: int | None) -> None:
    if top is None:
        return
    if not in_force:
        facts.grade(Urgency.PAST, Severity.MINOR, Certainty.OBSERVED)
        facts.response = (ResponseType.ALL_CLEAR,)
        return
    if top.rank >= 5:
        facts.grade(Urgency.IMMEDIATE, Severity.EXTREME, Certainty.OBSERVED)
        facts.response = (ResponseType.EVACUATE,)
    elif level == 4:
        facts.grade(Urgency.IMMEDIATE, Severity.SEVERE, Certainty.LIKELY)
        facts.response = (ResponseType.EVACUATE,)
    elif level == 3:
        facts.grade(Urgency.EXPECTED, Severity.MODERATE, Certainty.LIKELY)
        facts.response = (ResponseType.PREPARE,)
