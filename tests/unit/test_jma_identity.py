"""Identifiers, event keys and references: computed from the telegram alone."""

from __future__ import annotations

from pathlib import Path

from adapters.ingest.jma import parse_bytes
from broadcaster.model import Alert

DATA = Path(__file__).resolve().parents[2] / "samples" / "jma"


def load(name: str, data: bytes | None = None) -> Alert:
    return parse_bytes(data if data is not None else (DATA / name).read_bytes())[0]


def test_same_telegram_twice_gets_the_same_identifier() -> None:
    for path in sorted(DATA.glob("*.xml")):
        data = path.read_bytes()
        assert load(path.name, data).identifier == load(path.name, data).identifier


def test_identifier_ignores_serialisation() -> None:
    data = (DATA / "08_vpww54_ooame_h27.xml").read_bytes()
    reformatted = data.replace(b"\n    ", b"\n\t").replace(b"<Serial/>", b"<Serial></Serial>")
    assert reformatted != data
    assert load("", reformatted).identifier == load("", data).identifier


def test_different_telegrams_get_different_identifiers() -> None:
    ids = [load(p.name).identifier for p in sorted(DATA.glob("*.xml"))]
    assert len(set(ids)) == len(ids)


def test_drill_never_shares_identifier_or_key_with_real() -> None:
    real = (DATA / "02_vtse41_otsunami_keiho.xml").read_bytes()
    drill = real.replace("<Status>通常</Status>".encode(), "<Status>訓練</Status>".encode())
    a, b = load("", real), load("", drill)
    assert a.identifier != b.identifier
    assert a.event_key != b.event_key


def test_warning_updates_share_the_event_key_per_office_and_region() -> None:
    issued = load("08_vpww54_ooame_h27.xml")
    lifted = load("09_vpww54_all_lifted.xml")
    assert (
        issued.event_key
        == lifted.event_key
        == "jma|気象警報・注意報（Ｈ２７）|金沢地方気象台|石川県気象警報・注意報"
    )
    # The level-based title is its own series.
    assert load("07_vpww55_ooame_r06.xml").event_key != issued.event_key


def test_seismic_serial_names_the_original_exactly() -> None:
    data = (DATA / "12_vxse43_eew_keiho.xml").read_bytes()
    cancel_bytes = (
        data.replace("<InfoType>発表</InfoType>".encode(), "<InfoType>取消</InfoType>".encode())
        .replace(b"2024-01-01T16:10:22+09:00</ReportDateTime>", b"2024-01-01T16:12:00+09:00</ReportDateTime>")
        .replace(b"2024-01-01T07:10:22Z", b"2024-01-01T07:12:00Z")
    )
    original, cancel = load("", data), load("", cancel_bytes)
    assert cancel.references == (f"jma.go.jp,{original.identifier},2024-01-01T16:12:00+09:00",)
    assert cancel.primary.param("referenceScope") == "exact"
    assert cancel.event_key == original.event_key
