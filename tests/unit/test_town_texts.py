"""Texts a resident reads once: per kind, what a test town reads on LINE from an official sample.

Each fact once, the town's own area first, JMA's words for levels and kinds, no internal codes
and no template debris. The golden file shows the texts whole; to accept a reviewed change:

    BROADCASTER_UPDATE_GOLDEN=1 pytest tests/unit/test_town_texts.py
"""

from __future__ import annotations

import difflib
import os
import re
from collections import Counter
from pathlib import Path

import pytest

from tests.town_support import ROOT, TOWNS, receive

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "town_texts.txt"
UPDATE = os.environ.get("BROADCASTER_UPDATE_GOLDEN") == "1"
SAMPLES = "jma/official_samples"
# The repository's own samples (samples/jma), for kinds whose official samples reach no test town.
OWN = "samples/"
# Every language a town can offer: each is checked for the line under the title.
LANGUAGES = sorted(p.stem for p in (ROOT / "templates" / "_phrases").glob("*.yaml"))

# kind: (official sample, test town)
CASES: dict[str, tuple[str, str]] = {
    "earthquake": ("32-39_11_05_240613_VXSE53.xml", "abashiri"),
    "earthquake_town_unreported": ("32-35_06_03_240613_VXSE53.xml", "kanegasaki"),
    "earthquake_silent_meter": ("32-35_07_06_240613_VXSE53.xml", "fuji"),
    "earthquake_intensity_flash": ("32-39_11_01_120615_VXSE51.xml", "kanegasaki"),
    "eew": ("37_01_02_240613_VXSE43.xml", "kochi"),
    "tsunami": ("32-39_11_02_250206_VTSE41.xml", "hachijo"),
    "nankai_trough": ("74_01_04_200512_VYSE50.xml", "kochi"),
    "nankai_commentary": ("75_01_01_200512_VYSE51.xml", "fuji"),
    "subsequent_quake": ("80_01_01_240821_VYSE60.xml", "abashiri"),
    "weather_info": ("20_02_03_160628_VPZJ50.xml", "anamizu"),
    "typhoon": ("06_01_01_100514_VPTI50.xml", "ishigaki"),
    "weather_warning": ("samples/jma/07_vpww55_ooame_r06.xml", "anamizu"),
    "weather_warning_with_others": ("samples/jma/08_vpww54_ooame_h27.xml", "anamizu"),
    "weather_warning_all_lifted": ("samples/jma/09_vpww54_all_lifted.xml", "anamizu"),
    "landslide": ("samples/jma/11_vxww50_dosha.xml", "anamizu"),
}
# A tsunami's line names each coast's grade beside its height and time, as a row of the list of
# coasts below it reads: the grade there is part of the row, not the title said again.
RESTATES_BY_DESIGN = {"tsunami"}
# What no resident should read: internal names, codes and template debris.
DEBRIS = re.compile(
    r"NaN|None|null|\{\{|\}\}|\{%|%\}|jma:|broadcaster:|[a-z]+_[a-z]+|Kind\.|\b(?:Severe|Extreme|Moderate|Minor)\b"
)


def _text(corpus: Path, kind: str, language: str = "ja") -> str:
    name, town = CASES[kind]
    path = ROOT / name if name.startswith(OWN) else corpus / SAMPLES / name
    got = receive(path.read_bytes(), town)
    assert got is not None, f"{name} does not reach {town}"
    return got.text("line", language)


def _bare(s: str) -> str:
    return re.sub(r"[\s：:、,.。()（）\[\]【】]", "", s)


def _stated_twice(text: str) -> list[str]:
    """Sentences and 「label：value」 facts said twice, in different paragraphs."""
    where: dict[str, set[int]] = {}
    for i, paragraph in enumerate(text.split("\n\n")):
        for line in paragraph.splitlines():
            line = line.strip()
            if line.endswith("。") or "：" in line:
                where.setdefault(line, set()).add(i)
    return [line for line, paragraphs in where.items() if len(paragraphs) > 1]


@pytest.mark.parametrize("kind", sorted(CASES))
def test_each_fact_once_the_towns_own_first_no_debris(corpus: Path, kind: str) -> None:
    text = _text(corpus, kind)
    town = TOWNS[CASES[kind][1]][0]
    assert text.startswith(f"【{town}】")
    assert not _stated_twice(text), _stated_twice(text)
    facts = Counter(m.split("：")[0] for m in re.findall(r"(?:最大震度|震源|マグニチュード)：", text))
    assert all(n == 1 for n in facts.values()), facts
    # A town's own figure is its headline; the list below names the others.
    assert not re.search(rf"・{town}：", text)
    assert not DEBRIS.search(text.split("詳しくは")[0]), DEBRIS.search(text)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", sorted(set(CASES) - RESTATES_BY_DESIGN))
def test_the_line_under_the_title_adds_to_it_in_every_language(
    corpus: Path, kind: str, language: str
) -> None:
    """The title names the event; the first line under it must not say it again (a weather
    warning once read 「穴水町：レベル３大雨警報（発表）」 under 【穴水町】レベル３大雨警報)."""
    title, first = _text(corpus, kind, language).splitlines()[:2]
    event = re.sub(r"^(?:【[^】]*】|\[[^\]]*\] )+", "", title)
    assert event and _bare(event) not in _bare(first), (title, first)


def test_the_silent_meter_is_said_in_the_headline(corpus: Path) -> None:
    lines = _text(corpus, "earthquake_silent_meter").splitlines()
    assert lines[1].startswith("富士市の震度：震度5弱以上と考えられるが、震度はまだ入っていない")


def test_golden_texts_per_kind(corpus: Path) -> None:
    got = "\n\n".join(
        f"=== {kind} · {CASES[kind][0]} · {CASES[kind][1]}\n{_text(corpus, kind)}" for kind in sorted(CASES)
    )
    got += "\n"
    if UPDATE:
        GOLDEN.write_text(got, encoding="utf-8")
        return
    want = GOLDEN.read_text(encoding="utf-8")
    if got != want:
        diff = "\n".join(
            difflib.unified_diff(want.splitlines(), got.splitlines(), "golden", "now", lineterm="", n=2)
        )
        pytest.fail(f"town texts changed (BROADCASTER_UPDATE_GOLDEN=1 after review):\n{diff}")
