"""No telegram type with public meaning reaches nobody.

Walks every official sample of the corpus: each telegram (other than a 取消, which follows its
original's tenants) must name an area that some municipality of Japan is matched by, or be of a
type docs/jma.md lists under *Types not delivered*, with why.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest

from adapters.ingest.jma import parse_bytes
from adapters.ingest.jma.areas import expand_city
from adapters.ingest.jma.draft import EPICENTER, VOLCANO
from broadcaster.model import Alert, Kind, MsgType
from broadcaster.pipeline.tenancy import prefecture_codes

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "jma.md"
AREAS = ROOT / "adapters" / "ingest" / "jma" / "data" / "areas.json"
# The official samples of rivers are made up: 「○○川」 in 「○○県」 (code 990000) is nowhere.
PLACEHOLDER = "○○"
# Estimated tsunami heights (沖合の津波観測に関する情報) name 沿岸地域 codes, mapped with the
# tsunami forecast regions' coasts.
PENDING = {"沖合の津波観測に関する情報"}


@cache
def municipalities() -> dict[tuple[str, str], set[str]]:
    """Every geocode a municipality of Japan is matched by, with the municipalities it covers."""
    index: dict[tuple[str, str], set[str]] = defaultdict(set)
    for city in json.loads(AREAS.read_text(encoding="utf-8"))["cities"]:
        codes = {(g.value_name, g.value) for g in expand_city(city)}
        for code in codes | prefecture_codes(codes):
            index[code].add(city)
    return index


@cache
def not_delivered() -> set[str]:
    """Control/Titles in docs/jma.md's table of types not delivered."""
    section = DOCS.read_text(encoding="utf-8").split("### Types not delivered", 1)[1].split("\n## ", 1)[0]
    titles: set[str] = set()
    for line in section.splitlines():
        if not line.startswith("| ") or line.startswith("| Control/Title") or line.startswith("|---"):
            continue
        cell = line.split("|")[1]
        titles.update(t.strip() for t in re.split(r"[,、]", cell) if t.strip())
    return titles


def documented(title: str) -> bool:
    return title in not_delivered()


def reached(alert: Alert) -> set[str]:
    index = municipalities()
    found: set[str] = set()
    for area in alert.primary.area:
        for g in area.geocode:
            found |= index.get((g.value_name, g.value), set())
    return found


def samples(corpus: Path) -> list[Path]:
    files = sorted((corpus / "jma" / "official_samples").glob("*.xml"))
    assert len(files) > 400
    return files


def test_every_type_with_public_meaning_reaches_a_town(corpus: Path) -> None:
    silent: list[str] = []
    for path in samples(corpus):
        for alert in parse_bytes(path.read_bytes()):
            title = alert.primary.event_codes("jma:title")[0]
            if alert.msg_type is MsgType.CANCEL or title in PENDING or documented(title):
                continue
            info = alert.primary
            if any(PLACEHOLDER in a.area_desc for a in info.area):
                continue
            # Named by the volcano only: reaches the tenants that declare it (docs/jma.md).
            if info.area and all(g.value_name == VOLCANO for a in info.area for g in a.geocode):
                continue
            # The epicentre only (a quake no town felt): in the table, by its condition.
            if info.area and all(g.value_name == EPICENTER for a in info.area for g in a.geocode):
                continue
            if not info.area and title.startswith("緊急地震速報"):
                continue  # no area forecast to shake at 震度3 or more
            if not reached(alert):
                silent.append(f"{path.name} {title} ({info.event_codes('broadcaster:kind')[0]})")
    assert not silent, "\n".join(silent)


def test_no_type_with_public_meaning_stays_kind_other(corpus: Path) -> None:
    other: set[str] = set()
    for path in samples(corpus):
        for alert in parse_bytes(path.read_bytes()):
            title = alert.primary.event_codes("jma:title")[0]
            if documented(title):
                continue
            if alert.primary.event_codes("broadcaster:kind")[0] == Kind.OTHER.value:
                other.add(title)
    assert not other, sorted(other)


@pytest.mark.parametrize(
    ("name", "kind", "prefectures"),
    [
        ("74_01_04_200512_VYSE50.xml", Kind.NANKAI_TROUGH, 29),
        ("75_01_01_200512_VYSE51.xml", Kind.NANKAI_COMMENTARY, 29),
        ("80_01_01_240821_VYSE60.xml", Kind.SUBSEQUENT_QUAKE, 7),
        ("57_03_01_240401_VPFT50.xml", Kind.HEAT, 1),
        ("20_02_03_160628_VPZJ50.xml", Kind.WEATHER_INFO, 47),
        ("21_02_03_160628_VPCJ50.xml", Kind.WEATHER_INFO, 6),
        ("22_01_01_100514_VPFJ50.xml", Kind.WEATHER_INFO, 1),
    ],
)
def test_national_and_regional_information_names_its_prefectures(
    corpus: Path, name: str, kind: Kind, prefectures: int
) -> None:
    alert = parse_bytes((corpus / "jma" / "official_samples" / name).read_bytes())[0]
    info = alert.primary
    assert info.event_codes("broadcaster:kind") == (kind.value,)
    jis = [a for a in info.area if any(g.value_name == "JIS X 0402" for g in a.geocode)]
    assert len(jis) == prefectures


def test_the_heat_alert_names_its_prefecture(corpus: Path) -> None:
    info = parse_bytes((corpus / "jma/official_samples/57_03_01_240401_VPFT50.xml").read_bytes())[0].primary
    assert [(a.area_desc, a.geocode[0].value) for a in info.area] == [("埼玉県", "110001")]
