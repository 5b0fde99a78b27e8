"""Rule files: every mistake a town's staff can make is refused with its file and line."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest

from broadcaster.errors import ConfigError
from broadcaster.rules.engine import load_tenant_rules
from broadcaster.rules.scales import intensity_rank
from broadcaster.rules.schema import parse_clock, parse_duration
from broadcaster.settings import DEFAULT_CHANNELS
from tests.rules_helpers import ROOT, write_rules

DEFAULT = "  - name: 既定\n    default: true\n    channels: [website]\n"


def _load(tmp_path: Path, text: str, districts: list[str] | None = None) -> object:
    write_rules(tmp_path / "town", text)
    return load_tenant_rules(tmp_path, "town", DEFAULT_CHANNELS, districts)


@pytest.mark.parametrize("tenant", ["_default", "anamizu", "wajima", "noto"])
def test_the_shipped_rule_sets_load(tenant: str) -> None:
    districts = {"anamizu": ["kawashima", "omachi", "hiyomi", "kabuto"], "wajima": ["kawai", "monzen"],
                 "noto": ["ushitsu"]}.get(tenant)
    rules = load_tenant_rules(ROOT / "rules", tenant, DEFAULT_CHANNELS, districts)
    assert rules.default is not None
    assert len(rules.digest) == 64


BAD = [
    # (file text, line, words the message must contain)
    ("rules:\n  - name: a\n    channels: [pager]\n" + DEFAULT, 2, "unknown channel(s) pager"),
    ("rules:\n  - name: a\n    match:\n      knid: [tsunami]\n    channels: [website]\n" + DEFAULT, 4,
     "unknown field 'match.knid' (did you mean 'kind'?)"),
    ("rules:\n  - name: a\n    match: {kind: [tsunamii]}\n    channels: [website]\n" + DEFAULT, 3, "match.kind.0"),
    ("rules:\n  - name: a\n    match: {status: actual}\n    channels: [website]\n" + DEFAULT, 3, "match.status.0"),
    ("rules:\n  - name: a\n    match: {intensity_at_least: 8}\n    channels: [website]\n" + DEFAULT, 3,
     "not a seismic intensity"),
    ("rules:\n  - name: a\n    match: {level_at_least: 6}\n    channels: [website]\n" + DEFAULT, 3, "level_at_least"),
    ("rules:\n  - name: a\n    channels: [website]\n    audience: everybody\n" + DEFAULT, 4, "audience 'everybody'"),
    ("rules:\n  - name: a\n    channels: [website]\n    topic: スポーツ\n" + DEFAULT, 4, "unknown topic"),
    ("rules:\n  - name: a\n    channels: [website]\n    delay: soon\n" + DEFAULT, 4, "not a duration"),
    ("rules:\n  - name: a\n    channels: [website]\n    quiet_hours: {from: '25:00', to: '07:00'}\n" + DEFAULT, 4,
     "not a time of day"),
    ("rules:\n  - name: a\n    channels: [website]\n    priority: flash\n    delay: 10m\n" + DEFAULT, 2,
     "a flash rule is never delayed"),
    ("rules:\n  - name: a\n    channels: [website]\n    match: {parameters: {magnitude: {at_least: big}}}\n" + DEFAULT,
     4, "neither a number nor a seismic intensity"),
    ("rules:\n  - name: a\n    channels: [circular]\n    escalate:\n      - after: 15m\n        audience: public\n"
     "        channels: [line]\n" + DEFAULT, 6, "an escalation goes to deputies, leaders or officers"),
    ("rules:\n  - name: a\n    channels: [lalert_out]\n    match: {kind: evacuation}\n" + DEFAULT, 2,
     "lalert_out carries only the town's own alerts"),
    ("rules:\n  - name: a\n    channels: [website]\n  - name: a\n    channels: [line]\n" + DEFAULT, 4,
     "a second rule named 'a'"),
    ("rules:\n  - name: everything\n    channels: [website]\n  - name: never\n    match: {kind: eew}\n"
     "    channels: [line]\n" + DEFAULT, 4, "can never apply: 'everything'"),
    ("rules:\n  - name: a\n    channels: [website]\n    match: {kind: eew}\n", None, "no default rule"),
    ("rules:\n" + DEFAULT + "  - name: b\n    default: true\n    channels: [line]\n", 5, "a second default rule"),
    ("rules:\n  - name: d\n    default: true\n    match: {kind: eew}\n    channels: [website]\n", 2,
     "the default rule has no match"),
    ("rules:\n  - name: a\n    channels: [website]\n    audience: district:atlantis\n" + DEFAULT, 2,
     "names district(s) atlantis"),
    # YAML notices the unclosed brace on the next line, where the parser stumbles.
    ("rules:\n  - name: a\n    channels: [website]\n    match: {kind: eew\n" + DEFAULT, 5, "not valid YAML"),
    ("rules:\n  - just a string\n" + DEFAULT, 0, "a rule is a mapping"),
    ("rule:\n  - name: a\n", 1, "a mapping with a list under 'rules'"),
    ("rules:\n  - name: a\n    channels: []\n" + DEFAULT, 3, "channels"),
    ("rules:\n  - name: a\n    channels: [website]\n    audience: public\n    audiences: [leaders]\n" + DEFAULT, 2,
     "either audience or audiences"),
]


@pytest.mark.parametrize(("text", "line", "words"), BAD)
def test_a_mistake_is_refused_with_file_and_line(tmp_path: Path, text: str, line: int | None, words: str) -> None:
    with pytest.raises(ConfigError) as e:
        _load(tmp_path, text, districts=["kawashima"])
    message = str(e.value)
    assert words in message, message
    if line is not None:
        assert f"{tmp_path / 'town' / '10.yaml'}:{line}:" in message, message


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    text = (
        "rules:\n  - name: a\n    channels: [pager]\n  - name: b\n    match: {knid: x}\n    channels: [website]\n"
        + DEFAULT
    )
    with pytest.raises(ConfigError) as e:
        _load(tmp_path, text)
    assert ":5:" in str(e.value) and "knid" in str(e.value)


def test_readable_shorthands(tmp_path: Path) -> None:
    rules = _load(
        tmp_path,
        "rules:\n"
        "  - name: a\n"
        "    match: {kind: eew, status: Actual, intensity_at_least: 5弱}\n"
        "    channels: website\n"
        "    audience: officers:duty\n"
        "    continue: true\n"
        "  - name: b\n"
        "    channels: [line]\n"
        "    quiet_hours: {from: 21:00, to: '07:00', days: [土, sun]}\n" + DEFAULT,
    )
    a, b, _ = rules.rules  # type: ignore[attr-defined]
    assert a.channels == ["website"] and a.audiences == ["officers:duty"]
    assert b.quiet_hours.start == time(21, 0), "an unquoted 21:00 (YAML's base 60) still reads as a time"
    assert b.quiet_hours.day_numbers() == frozenset({5, 6})


def test_a_missing_folder_falls_back_to_the_default_one(tmp_path: Path) -> None:
    write_rules(tmp_path / "_default", "rules:\n" + DEFAULT)
    assert load_tenant_rules(tmp_path, "newtown", DEFAULT_CHANNELS).default is not None
    with pytest.raises(ConfigError, match="no rules for tenant"):
        load_tenant_rules(tmp_path / "nowhere", "newtown", DEFAULT_CHANNELS)


@pytest.mark.parametrize(
    ("text", "minutes"), [("15m", 15), ("2h", 120), ("1h30m", 90), ("90s", 1.5), (10, 10), ("45 min", 45)]
)
def test_durations(text: object, minutes: float) -> None:
    assert parse_duration(text) == timedelta(minutes=minutes)


def test_clock_and_intensity_spellings() -> None:
    assert parse_clock("7:05") == time(7, 5)
    assert parse_clock(1260) == time(21, 0)
    ranks = [intensity_rank(x) for x in ("1", "4", "5-", "5弱", "５強", "震度６弱", "6+", "7", "震度５弱以上未入電")]
    assert ranks == [0, 3, 4, 4, 5, 6, 7, 8, 4]
    assert intensity_rank("8") is None and intensity_rank("強") is None
