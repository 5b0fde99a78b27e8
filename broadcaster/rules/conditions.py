"""A rule's `match` compiled into small tests, each returning why it holds (or None).

Compiling once at load keeps routing fast (every alert is tested against many rules) and keeps
the explanation honest: the text that says why a rule matched comes from the test that decided.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from broadcaster.model import SEVERITY_RANK, URGENCY_RANK, Certainty
from broadcaster.rules.facts import Facts
from broadcaster.rules.scales import intensity_rank
from broadcaster.rules.schema import Compare, Match, Window

Test = Callable[[Facts], str | None]

CERTAINTY_RANK = {
    Certainty.UNKNOWN: 0,
    Certainty.UNLIKELY: 1,
    Certainty.POSSIBLE: 2,
    Certainty.LIKELY: 3,
    Certainty.OBSERVED: 4,
}


def _one_of(name: str, wanted: list[str], get: Callable[[Facts], str]) -> Test:
    allowed = frozenset(wanted)

    def test(f: Facts) -> str | None:
        value = get(f)
        return f"{name} {value}" if value in allowed else None

    return test


def in_window(w: Window, at: datetime) -> bool:
    """`at` (JST) within the window; a window across midnight belongs to the day it starts."""
    clock = at.timetz().replace(tzinfo=None)
    days = w.day_numbers()
    if w.start < w.end:
        inside = w.start <= clock < w.end
        day = at.weekday()
    else:
        inside = clock >= w.start or clock < w.end
        day = at.weekday() if clock >= w.start else (at.weekday() - 1) % 7
    return inside and (days is None or day in days)


def window_text(w: Window) -> str:
    days = f" on {','.join(w.days)}" if w.days else ""
    return f"{w.start:%H:%M}-{w.end:%H:%M} JST{days}"


def _compare(name: str, c: Compare) -> Test:
    def passes(value: str) -> bool:
        if c.equals is not None and value != c.equals:
            return False
        if c.in_ is not None and value not in c.in_:
            return False
        if c.contains is not None and c.contains not in value:
            return False
        for bound, sign in ((c.at_least, 1), (c.at_most, -1)):
            if bound is None:
                continue
            ordered = _order(value, bound)
            if ordered is None or ordered * sign < 0:
                return False
        return True

    def test(f: Facts) -> str | None:
        values = f.params.get(name, [])
        if c.present is not None:
            if bool(values) != c.present:
                return None
            if not values or all(
                x is None for x in (c.equals, c.in_, c.contains, c.at_least, c.at_most)
            ):
                return f"parameter {name} {'present' if c.present else 'absent'}"
        for value in values:
            if passes(value):
                return f"parameter {name}={value}"
        return None

    return test


def _order(value: str, bound: str | float) -> int | None:
    """-1, 0 or 1 comparing value with bound; None when they are not comparable."""
    if isinstance(bound, float | int):
        try:
            v = float(value)
        except ValueError:
            return None
        return (v > bound) - (v < bound)
    a, b = intensity_rank(value), intensity_rank(bound)
    if a is None or b is None:
        return None
    return (a > b) - (a < b)


def compile_match(m: Match) -> list[Test]:
    tests: list[Test] = []
    if m.kind is not None:
        kinds = frozenset(k.value for k in m.kind)

        def kind(f: Facts) -> str | None:
            hit = next((k for k in f.kinds if k in kinds), None)
            return f"kind {hit}" if hit else None

        tests.append(kind)
    if m.status is not None:
        tests.append(_one_of("status", [s.value for s in m.status], lambda f: f.status.value))
    if m.msg_type is not None:
        tests.append(_one_of("msgType", [s.value for s in m.msg_type], lambda f: f.msg_type.value))
    if m.origin is not None:
        tests.append(_one_of("origin", m.origin, lambda f: f.origin))
    if m.event is not None:
        tests.append(_one_of("event", m.event, lambda f: f.info.event))
    if m.severity is not None:
        tests.append(_one_of("severity", [s.value for s in m.severity], lambda f: f.severity.value))
    if m.urgency is not None:
        tests.append(_one_of("urgency", [s.value for s in m.urgency], lambda f: f.urgency.value))
    if m.certainty is not None:
        tests.append(_one_of("certainty", [s.value for s in m.certainty], lambda f: f.certainty.value))
    if m.severity_at_least is not None:
        floor_s, s_name = SEVERITY_RANK[m.severity_at_least], m.severity_at_least.value
        tests.append(
            lambda f: f"severity {f.severity.value} >= {s_name}" if SEVERITY_RANK[f.severity] >= floor_s else None
        )
    if m.urgency_at_least is not None:
        floor_u, u_name = URGENCY_RANK[m.urgency_at_least], m.urgency_at_least.value
        tests.append(
            lambda f: f"urgency {f.urgency.value} >= {u_name}" if URGENCY_RANK[f.urgency] >= floor_u else None
        )
    if m.certainty_at_least is not None:
        floor_c, c_name = CERTAINTY_RANK[m.certainty_at_least], m.certainty_at_least.value
        tests.append(
            lambda f: f"certainty {f.certainty.value} >= {c_name}"
            if CERTAINTY_RANK[f.certainty] >= floor_c
            else None
        )
    if m.event_code is not None:
        for code_type, values in m.event_code.items():
            tests.append(_event_code(code_type, frozenset(values)))
    tests.extend(_local_tests(m))
    if m.districts is not None:
        tests.append(_districts(m.districts))
    if m.areas is not None:
        wanted = frozenset((vn, v) for vn, values in m.areas.items() for v in values)

        def areas(f: Facts) -> str | None:
            hit = sorted(f.geocodes & wanted)
            return f"area {hit[0][0]}={hit[0][1]}" if hit else None

        tests.append(areas)
    for name, compare in (m.parameters or {}).items():
        tests.append(_compare(name, compare))
    if m.time is not None:
        window = m.time

        def during(f: Facts) -> str | None:
            return f"at {f.at:%a %H:%M} JST within {window_text(window)}" if in_window(window, f.at) else None

        tests.append(during)
    return tests


def _event_code(code_type: str, values: frozenset[str]) -> Test:
    def test(f: Facts) -> str | None:
        hit = sorted(f.codes.get(code_type, frozenset()) & values)
        return f"eventCode {code_type}={hit[0]}" if hit else None

    return test


def _districts(wanted: list[str]) -> Test:
    if wanted == ["any"]:
        return lambda f: f"names districts {', '.join(f.ctx.districts)}" if f.ctx.districts else None
    if wanted == ["none"]:
        return lambda f: "names no district (the whole town)" if not f.ctx.districts else None
    allowed = frozenset(wanted)

    def test(f: Facts) -> str | None:
        hit = [d for d in f.ctx.districts if d in allowed]
        return f"names district {hit[0]}" if hit else None

    return test


def _local_tests(m: Match) -> list[Test]:
    tests: list[Test] = []
    if m.level_at_least is not None or m.level_at_most is not None:
        lo, hi = m.level_at_least, m.level_at_most

        def level(f: Facts) -> str | None:
            value, where = f.level
            if value is None or (lo is not None and value < lo) or (hi is not None and value > hi):
                return None
            bounds = " and ".join(x for x in (f">= {lo}" if lo else "", f"<= {hi}" if hi else "") if x)
            return f"警戒レベル {value} {where} {bounds}"

        tests.append(level)
    if m.intensity_at_least is not None:
        floor_i, i_text = intensity_rank(m.intensity_at_least), m.intensity_at_least
        assert floor_i is not None

        def intensity(f: Facts) -> str | None:
            rank, where = f.intensity
            if rank is None or rank < floor_i:
                return None
            return f"震度 {f.intensity_text()} {where} >= {i_text}"

        tests.append(intensity)
    if m.warnings is not None:
        # A name matches every warning that contains it: 大雨警報 matches レベル３大雨警報 (the
        # R06 format's name), 警報 matches every 警報 and 特別警報 but no 注意報.
        wanted = tuple(m.warnings)

        def warnings(f: Facts) -> str | None:
            hit = next((w for w in f.warnings if any(x in w for x in wanted)), None)
            return f"{hit} in force in {f.local_name}" if hit else None

        tests.append(warnings)
    return tests


def explain(tests: list[Test], facts: Facts) -> list[str] | None:
    """The reasons every test holds, or None as soon as one does not."""
    reasons: list[str] = []
    for test in tests:
        reason = test(facts)
        if reason is None:
            return None
        reasons.append(reason)
    return reasons
