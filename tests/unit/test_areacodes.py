"""Local-government codes: check digits, prefectures, and the prefecture codes tenants get."""

from __future__ import annotations

from pathlib import Path

import pytest

from broadcaster import areacodes
from broadcaster.model import JIS_X0402, Alert, Area, Info, NamedValue
from broadcaster.pipeline.tenancy import TenantDirectory, prefecture_codes
from tests.helpers import make_settings


@pytest.mark.parametrize(
    ("five", "six"),
    [("17461", "174611"), ("17204", "172049"), ("17463", "174637"), ("17000", "170003"), ("13000", "130001"), ("01000", "010006")],
)
def test_check_digits_of_the_national_table(five: str, six: str) -> None:
    assert areacodes.with_check_digit(five) == six
    assert areacodes.is_valid(six)
    assert not areacodes.is_valid(six[:5] + str((int(six[5]) + 1) % 10))


def test_prefectures_by_number_name_and_member() -> None:
    assert areacodes.prefecture_code("17") == "170003"
    assert areacodes.prefecture_by_name("石川県") == "170003"
    assert areacodes.prefecture_by_name("石川") == "170003"
    assert areacodes.prefecture_by_name("北海道") == "010006"
    assert areacodes.prefecture_by_name("穴水町") is None
    assert areacodes.prefecture_of("174611") == "170003"
    assert areacodes.prefecture_of("174612") is None, "a wrong check digit is no code"
    assert areacodes.is_prefecture("170003") and not areacodes.is_prefecture("174611")
    assert areacodes.prefecture_name("170003") == "石川県"
    assert len(areacodes.all_prefectures()) == 47
    with pytest.raises(ValueError, match="prefecture"):
        areacodes.prefecture_code("48")


def test_a_municipality_code_brings_its_prefecture() -> None:
    assert prefecture_codes([(JIS_X0402, "174611"), ("other", "174611"), (JIS_X0402, "1746100")]) == {(JIS_X0402, "170003")}


def _alert(code: str) -> Alert:
    return Alert(
        identifier=f"t-{code}", sender="t", sent="2025-07-10T07:00:00+09:00", status="Actual", msg_type="Alert",
        event_key=f"t|{code}", origin="jalert",
        info=(Info(category=("Security",), event="x", urgency="Immediate", severity="Extreme", certainty="Likely",
                   area=(Area(area_desc=code, geocode=(NamedValue(value_name=JIS_X0402, value=code),)),)),),
    )  # fmt: skip


def test_a_prefecture_level_alert_reaches_every_tenant_of_the_prefecture_and_no_other(tmp_path: Path) -> None:
    tenants = {
        "anamizu": {"name": "穴水町", "areas": {"jma": ["1746100"]}},
        "wajima": {"name": "輪島市", "areas": {"jma": ["1720400"]}},
        "noto": {"name": "能登町", "areas": {"jma": ["1746300"]}},
        "sapporo": {"name": "札幌市", "areas": {"jma": ["0110000"]}},
    }
    directory = TenantDirectory.from_settings(make_settings(tmp_path, tenants=tenants))
    assert directory.match(_alert("170003")) == ["anamizu", "noto", "wajima"]
    assert directory.match(_alert("174611")) == ["anamizu"], "a municipality's code stays with the municipality"
    assert directory.match(_alert("010006")) == ["sapporo"]
    assert directory.match(_alert("160008")) == []


def test_against_the_national_code_table(corpus: Path) -> None:
    """Every code of the public JIS X 0402 table checks; names resolve to the table's codes."""
    import csv

    from adapters.ingest.jalert.places import resolve

    text = (corpus / "areacodes" / "jisx0402" / "jisx0402_municipality_codes.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    assert len(rows) > 1700
    unresolved = []
    for row in rows:
        code, pref, city = row["code"], row["prefecture"], row["city"]
        assert areacodes.is_valid(code), code
        assert areacodes.prefecture_of(code) == areacodes.prefecture_by_name(pref), code
        if not city:
            assert areacodes.is_prefecture(code) and resolve(pref)[0].code == code
            continue
        (place,) = resolve(pref + city)
        if place.code != code:
            unresolved.append((code, pref + city, place.code))
    # The JMA table spells a rare name with another character (梼原町 / 檮原町); all else matches.
    assert len(unresolved) <= 3, unresolved
