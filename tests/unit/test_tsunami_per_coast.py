"""Each town hears the tsunami grade of its own coast (docs/decisions.md, decision 9;
broadcaster/pipeline/coast.py): severity, urgency, rule match, priority and text."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from broadcaster.model import Alert, ResponseType, Severity, Urgency
from broadcaster.pipeline.normalize import Refused, assign_tenants, parse
from broadcaster.pipeline.runtime import load_parsers
from broadcaster.pipeline.tenancy import TenantDirectory
from broadcaster.rules.engine import load_tenant_rules
from broadcaster.settings import PROJECT_ROOT, Settings, load_settings
from broadcaster.sources import raw_from_file
from tests.render_support import dispatch, renderer

TENANTS = PROJECT_ROOT / "tests" / "golden" / "replay" / "tenants"
SAMPLES = PROJECT_ROOT / "samples" / "jma"
CHANNELS = ("line", "x", "sms", "voice", "email", "website", "app_push")


@cache
def _settings() -> Settings:
    return load_settings(None, tenants_dir=TENANTS)


@cache
def _directory() -> TenantDirectory:
    return TenantDirectory.from_settings(_settings())


def _alerts(path: Path, **settings: object) -> dict[str, Alert]:
    directory = (
        TenantDirectory.from_settings(load_settings(None, tenants_dir=TENANTS, **settings))
        if settings
        else _directory()
    )
    raw = raw_from_file(path, officer=None, tenant=None, source=None, known_tenants=None)
    parsed = parse(raw, load_parsers())
    assert not isinstance(parsed, Refused), parsed
    assigned = assign_tenants(parsed, raw, directory)
    assert not isinstance(assigned, Refused), assigned
    return {a.tenant or "": a for a in assigned}


def _first_lines(alert: Alert, channel: str = "line") -> list[str]:
    text = renderer().render(
        alert, dispatch(alert, channel), None, tenant_name="町", public_url="https://x.example"
    )[0]
    return [line for line in text.body.splitlines() if line.strip()]


def _decisions(alert: Alert) -> tuple[set[str], str]:
    settings = _settings()
    assert alert.tenant is not None
    rules = load_tenant_rules(settings.rules_dir, alert.tenant, list(settings.channels), [])
    evaluation = rules.evaluate(alert, _directory().context(alert.tenant, alert))
    return {d.channel for d in evaluation.decisions}, max(
        (d.priority.value for d in evaluation.decisions), default=""
    )


def test_a_coast_with_a_warning_is_not_told_of_the_major_warning_next_door() -> None:
    alerts = _alerts(SAMPLES / "02_vtse41_otsunami_keiho.xml")  # 石川県能登 大津波警報, 石川県加賀 津波警報
    noto, kaga = alerts["anamizu-machi"], alerts["kaga-shi"]
    assert (noto.primary.severity, noto.primary.event) == (Severity.EXTREME, "大津波警報")
    assert (kaga.primary.severity, kaga.primary.event) == (Severity.SEVERE, "津波警報")
    assert kaga.primary.urgency is Urgency.IMMEDIATE
    # The text leads with the town's own coast; the other coasts come after.
    assert _first_lines(kaga)[1].startswith("石川県加賀：津波警報")
    assert _first_lines(noto)[1].startswith("石川県能登：大津波警報")
    assert "大津波警報" not in _first_lines(kaga)[0]
    # Each coast once: the town's own in the lead, the others after it.
    lines = _first_lines(kaga)
    assert sum("石川県加賀：" in line for line in lines) == 1
    assert any(line.startswith("・石川県能登：大津波警報") for line in lines)


def test_inland_village_and_far_coasts_are_not_reached() -> None:
    alerts = _alerts(SAMPLES / "02_vtse41_otsunami_keiho.xml")
    assert set(alerts) == {"anamizu-machi", "wajima-shi", "kaga-shi", "kanazawa-shi"}


def test_an_advisory_coast_gets_the_advisory_rules_not_the_flash_to_every_medium(corpus: Path) -> None:
    # 2011-03-11 15:12: 大津波警報 on the Pacific, 津波注意報 for 宮古島・八重山, 津波予報 for 能登.
    alerts = _alerts(corpus / "jma/official_samples/32-39_11_11_250206_VTSE41.xml")
    assert "shimukappu-mura" not in alerts  # inland: no coast, no tsunami
    ishigaki, anamizu = alerts["ishigaki-shi"], alerts["anamizu-machi"]
    assert (ishigaki.primary.severity, ishigaki.primary.event) == (Severity.MODERATE, "津波注意報")
    assert ResponseType.EVACUATE not in ishigaki.primary.response_type
    assert anamizu.primary.severity is Severity.MINOR
    channels, priority = _decisions(ishigaki)
    assert channels == {"website"} and priority != "flash"
    channels, priority = _decisions(alerts["hachijo-machi"])  # 伊豆諸島: 津波警報
    assert {"line", "app_push", "website"} <= channels and priority == "flash"
    lines = _first_lines(ishigaki)
    assert lines[1].startswith("宮古島・八重山地方：津波注意報")
    assert not any("ただちに高台" in line for line in lines[:3])


def test_a_town_may_declare_its_own_coast(tmp_path: Path) -> None:
    # A town that says its coast is 石川県加賀 hears 加賀's grade, whatever its code would give.
    own = tmp_path / "tenants"
    own.mkdir()
    (own / "anamizu-machi.toml").write_text(
        'name = "穴水町"\nareas = { jma = ["1746100"] }\ntsunami_regions = ["361"]\n', encoding="utf-8"
    )
    directory = TenantDirectory.from_settings(load_settings(None, tenants_dir=own))
    raw = raw_from_file(
        SAMPLES / "02_vtse41_otsunami_keiho.xml", officer=None, tenant=None, source=None, known_tenants=None
    )
    parsed = parse(raw, load_parsers())
    assert not isinstance(parsed, Refused)
    assigned = assign_tenants(parsed, raw, directory)
    assert not isinstance(assigned, Refused)
    assert [(a.tenant, a.primary.event) for a in assigned] == [("anamizu-machi", "津波警報")]
    (own / "anamizu-machi.toml").write_text(
        'name = "穴水町"\nareas = { jma = ["1746100"] }\ntsunami_regions = []\n', encoding="utf-8"
    )
    assert (
        assign_tenants(parsed, raw, TenantDirectory.from_settings(load_settings(None, tenants_dir=own))) == []
    )


_LEAKS = re.compile(r"NaN|None|null|\{\{|\}\}|\{%|%\}|\{#")


def test_no_corpus_tsunami_or_earthquake_text_shows_a_placeholder(corpus: Path) -> None:
    """JMA writes NaN for an unknown height; residents read JMA's words (不明, 巨大, 高い)."""
    files = sorted((corpus / "jma/official_samples").glob("*_VTSE*.xml"))
    files += sorted((corpus / "jma/official_samples").glob("*_VXSE5*.xml"))
    assert len(files) > 40
    seen_words = set()
    for path in files:
        raw = raw_from_file(path, officer=None, tenant=None, source=None, known_tenants=None)
        parsed = parse(raw, load_parsers())
        assert not isinstance(parsed, Refused), (path.name, parsed)
        alerts = [a for a in assign_tenants(parsed, raw, _directory()) if not isinstance(a, Refused)]  # type: ignore[union-attr]
        alerts = alerts or [a.for_tenant("anamizu-machi") for a in parsed]
        for alert in alerts:
            for p in alert.primary.parameter:
                assert "NaN" not in p.value, (path.name, p.value_name, p.value)
            for channel in CHANNELS:
                text = renderer().render(
                    alert, dispatch(alert, channel), None, tenant_name="町", public_url="https://x.example"
                )[0]
                for part in (text.title, text.body, *text.parts):
                    found = _LEAKS.search(part)
                    assert found is None, (
                        path.name,
                        channel,
                        part[max(0, found.start() - 40) : found.end() + 40],
                    )
                seen_words |= {w for w in ("不明", "巨大", "高い") if w in text.body}
    assert {"不明", "巨大", "高い"} <= seen_words


@pytest.mark.parametrize("channel", ["line", "voice"])
def test_unknown_height_is_said_in_jmas_words(corpus: Path, channel: str) -> None:
    alerts = _alerts(corpus / "jma/official_samples/32-39_11_02_250206_VTSE41.xml")
    text = renderer().render(
        alerts["kochi-shi"],
        dispatch(alerts["kochi-shi"], channel),
        None,
        tenant_name="高知市",
        public_url="https://x.example",
    )[0]
    assert "NaN" not in text.body
    if channel == "line":
        assert "高知県：津波注意報（不明" in text.body


def test_no_text_of_any_corpus_telegram_shows_a_placeholder(corpus: Path) -> None:
    files = sorted((corpus / "jma/official_samples").glob("*.xml"))
    assert len(files) >= 460
    for path in files:
        raw = raw_from_file(path, officer=None, tenant=None, source=None, known_tenants=None)
        parsed = parse(raw, load_parsers())
        if isinstance(parsed, Refused):
            continue  # refusals are the parser's tests' business
        for alert in parsed:
            alert = alert.for_tenant("anamizu-machi")
            for channel in ("line", "sms", "voice", "x", "email"):
                text = renderer().render(
                    alert, dispatch(alert, channel), None, tenant_name="町", public_url="https://x.example"
                )[0]
                for part in (text.title, text.body):
                    found = _LEAKS.search(part)
                    assert found is None, (
                        path.name,
                        channel,
                        part[max(0, found.start() - 40) : found.end() + 40],
                    )
