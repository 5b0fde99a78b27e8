"""Properties of the rules engine: precedence, the default, and that a town sees only itself."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from broadcaster.model import KIND, Alert, Area, Info, Kind, NamedValue, Status
from broadcaster.rules.engine import Context, RuleSet
from broadcaster.rules.facts import CITY, Facts
from broadcaster.rules.schema import Match, Rule

KINDS = [Kind.EARTHQUAKE, Kind.TSUNAMI, Kind.NOTICE, Kind.EVACUATION]
STATUSES = [Status.ACTUAL, Status.EXERCISE, Status.TEST]
CHANNELS = ["website", "line", "email"]
AUDIENCES = ["public", "officers", "leaders"]


def _alert(kind: Kind, status: Status, params: tuple[NamedValue, ...] = ()) -> Alert:
    return Alert(
        identifier="a1",
        sender="s",
        sent=datetime(2025, 1, 1, tzinfo=UTC),
        status=status,
        msg_type="Alert",
        event_key="k",
        origin="jma",
        tenant="t",
        info=(
            Info(
                category=("Geo",),
                event="e",
                urgency="Expected",
                severity="Severe",
                certainty="Likely",
                event_code=(NamedValue(value_name=KIND, value=kind.value),),
                parameter=params,
                area=(Area(area_desc="x"),),
            ),
        ),
    )


@st.composite
def rules(draw: st.DrawFn) -> list[Rule]:
    n = draw(st.integers(0, 8))
    out = []
    for i in range(n):
        kinds = draw(st.one_of(st.none(), st.lists(st.sampled_from(KINDS), min_size=1, max_size=2, unique=True)))
        statuses = draw(st.one_of(st.none(), st.lists(st.sampled_from(STATUSES), min_size=1, max_size=2, unique=True)))
        if kinds is None and statuses is None:
            kinds = [draw(st.sampled_from(KINDS))]  # a catch-all would make the rest unreachable
        out.append(
            Rule(
                name=f"r{i}",
                match=Match(kind=kinds, status=statuses),
                channels=draw(st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=3, unique=True)),
                audiences=[draw(st.sampled_from(AUDIENCES))],
                continue_=draw(st.booleans()),
            )
        )
    out.append(Rule(name="default", default=True, channels=["website"], audiences=["public"]))
    return out


def _reference(rules: list[Rule], kind: Kind, status: Status) -> list[tuple[str, str, str]]:
    """Precedence spelt out the slow way: top to bottom, first decision per slot, stop unless continue."""
    out: list[tuple[str, str, str]] = []
    taken: set[tuple[str, str]] = set()
    stopped = False
    for r in rules:
        if r.default:
            continue
        if (r.match.kind is None or kind in r.match.kind) and (r.match.status is None or status in r.match.status):
            for ch in r.channels:
                if (ch, r.audiences[0]) not in taken:
                    taken.add((ch, r.audiences[0]))
                    out.append((r.name, ch, r.audiences[0]))
            if not r.continue_:
                stopped = True
                break
    if not stopped:
        default = next(r for r in rules if r.default)
        for ch in default.channels:
            if (ch, "public") not in taken:
                out.append((default.name, ch, "public"))
    return out


@settings(max_examples=300, deadline=None)
@given(rules(), st.sampled_from(KINDS), st.sampled_from(STATUSES))
def test_first_match_wins_continue_adds_and_the_default_closes(
    rule_list: list[Rule], kind: Kind, status: Status
) -> None:
    decisions = RuleSet("t", rule_list).decide(_alert(kind, status))
    assert [(d.explanation.rule, d.channel, d.audience) for d in decisions] == _reference(rule_list, kind, status)


@settings(max_examples=100, deadline=None)
@given(rules(), st.sampled_from(KINDS), st.sampled_from(STATUSES))
def test_the_order_of_unrelated_rules_does_not_matter(rule_list: list[Rule], kind: Kind, status: Status) -> None:
    """Moving a rule that cannot match this alert anywhere changes nothing for it."""
    alert = _alert(kind, status)
    before = [(d.explanation.rule, d.channel, d.audience) for d in RuleSet("t", rule_list).decide(alert)]
    misses = [r for r in rule_list if not r.default and r.match.kind is not None and kind not in r.match.kind]
    others = [r for r in rule_list if r not in misses]
    after = RuleSet("t", misses + others).decide(alert)
    assert [(d.explanation.rule, d.channel, d.audience) for d in after] == before


TOWNS = {"anamizu": "1746100", "wajima": "1720400", "noto": "1746300"}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(sorted(TOWNS)), st.integers(1, 5), st.sampled_from(["発表", "継続", "解除"])),
        min_size=1,
        max_size=6,
    )
)
def test_a_town_sees_only_its_own_warnings(entries: list[tuple[str, int, str]]) -> None:
    """One telegram lists several towns; each tenant's level is its own, never a neighbour's."""
    params = tuple(
        NamedValue(value_name="warning", value=f"{TOWNS[t]}|{t}|03|大雨警報|{status}|{level}")
        for t, level, status in entries
    )
    alert = _alert(Kind.WEATHER_WARNING, Status.ACTUAL, params)
    for town, code in TOWNS.items():
        facts = Facts(alert, Context(tenant=town, territory=frozenset({(CITY, code)})))
        mine = [level for t, level, status in entries if t == town and status != "解除"]
        assert facts.level[0] == (max(mine) if mine else None)
        assert bool(facts.warnings) == bool(mine)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(KINDS), st.sampled_from(STATUSES), rules(), rules())
def test_a_tenant_is_decided_by_its_own_rules_only(kind: Kind, status: Status, mine: list[Rule], theirs: list[Rule]) -> None:
    alert = _alert(kind, status)
    own = RuleSet("t", mine)
    alone = own.decide(alert)
    RuleSet("other", theirs).decide(alert)  # another tenant's set, used in between
    again = own.decide(alert)
    assert [(d.explanation.rule, d.slot) for d in again] == [(d.explanation.rule, d.slot) for d in alone]
    assert {d.explanation.rule for d in alone} <= {r.name for r in mine}
