"""An earthquake telegram is rated for each town by the shaking the town itself had.

The 2011 震源・震度に関する情報 reports 震度7 at its strongest; towns far away felt 震度1 to 4.
Before each copy was re-rated by the town's own figure, every one of them was Extreme, Immediate
(a Hokkaido city's website and CAP feed announcing an Extreme earthquake at 震度2).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from broadcaster.model import ResponseType, Severity, Urgency
from broadcaster.pipeline.shaking import rating
from broadcaster.rules.scales import intensity_rank
from tests.town_support import receive

TOHOKU = "jma/official_samples/32-39_11_05_240613_VXSE53.xml"
SILENT_METER = "jma/official_samples/32-35_07_06_240613_VXSE53.xml"


@pytest.mark.parametrize(
    ("town", "severity", "urgency"),
    [
        ("abashiri", Severity.MINOR, Urgency.PAST),  # 震度2
        ("kaga", Severity.MINOR, Urgency.PAST),  # 震度1
        ("fuji", Severity.MODERATE, Urgency.PAST),  # 震度4
    ],
)
def test_a_far_town_is_rated_by_its_own_shaking(
    corpus: Path, town: str, severity: Severity, urgency: Urgency
) -> None:
    got = receive((corpus / TOHOKU).read_bytes(), town)
    assert got is not None
    info = got.alert.primary
    assert (info.severity, info.urgency) == (severity, urgency)
    assert ResponseType.ASSESS not in info.response_type
    # The text still says how strong it was elsewhere: only the rating is the town's.
    assert "最大震度：震度7" in got.text("line")


def test_a_silent_meter_counts_as_strong_shaking(corpus: Path) -> None:
    got = receive((corpus / SILENT_METER).read_bytes(), "fuji")
    assert got is not None
    info = got.alert.primary
    assert info.severity is Severity.SEVERE
    assert ResponseType.ASSESS in info.response_type


def test_the_bands_follow_the_parsers_for_the_whole_telegram() -> None:
    def rank(v: str) -> int:
        r = intensity_rank(v)
        assert r is not None
        return r

    assert rating(rank("7")) == (Severity.EXTREME, Urgency.IMMEDIATE)
    assert rating(rank("6-")) == (Severity.EXTREME, Urgency.IMMEDIATE)
    assert rating(rank("5+")) == (Severity.SEVERE, Urgency.IMMEDIATE)
    assert rating(rank("5-")) == (Severity.SEVERE, Urgency.IMMEDIATE)
    assert rating(rank("4")) == (Severity.MODERATE, Urgency.PAST)
    assert rating(rank("3")) == (Severity.MINOR, Urgency.PAST)
