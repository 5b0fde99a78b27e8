"""Alert -> CAP -> Alert without loss, and every document we build is valid CAP 1.2."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from broadcaster.cap import from_cap, to_cap, validate_cap
from broadcaster.errors import ParseError
from broadcaster.model import (
    Alert,
)
from tests.strategies import alerts, any_offsets, cap_times, texts, words  # noqa: F401

SLOW = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="session")
def xsd(corpus: Path) -> Path:
    return corpus / "cap" / "schema" / "CAP-v1.2.xsd"


@SLOW
@given(alert=alerts())
def test_round_trip_is_lossless(alert: Alert) -> None:
    assert from_cap(to_cap(alert)) == alert


@SLOW
@given(alert=alerts())
def test_every_built_document_is_valid_against_the_oasis_schema(alert: Alert, xsd: Path) -> None:
    data = to_cap(alert)
    assert validate_cap(data, xsd) == []
    assert validate_cap(data) == []


@SLOW
@given(alert=alerts())
def test_writing_is_stable(alert: Alert) -> None:
    data = to_cap(alert)
    assert to_cap(from_cap(data)) == data


@SLOW
@given(alert=alerts(), micro=st.integers(1, 999_999))
def test_sub_second_cap_times_are_truncated_to_whole_seconds(alert: Alert, micro: int) -> None:
    precise = alert.model_copy(update={"sent": alert.sent.replace(microsecond=micro)})
    back = from_cap(to_cap(precise))
    assert back.sent == alert.sent
    assert back == alert


# Changes a document in place; False when it does not apply to this one.
Change = Callable[[etree._Element], bool | None]


def _mutations(root: etree._Element) -> list[tuple[str, etree._Element]]:
    """Documents a small, plausible mistake away from a valid one."""
    out: list[tuple[str, etree._Element]] = []

    def variant(name: str, change: Change) -> None:
        copy = etree.fromstring(etree.tostring(root))
        if change(copy) is not False:
            out.append((name, copy))

    def drop(tag: str) -> Change:
        def change(doc: etree._Element) -> bool:
            found = doc.find(f".//{{*}}{tag}")
            parent = None if found is None else found.getparent()
            if found is None or parent is None:
                return False
            parent.remove(found)
            return True

        return change

    def set_text(tag: str, value: str) -> Change:
        def change(doc: etree._Element) -> bool:
            found = doc.find(f".//{{*}}{tag}")
            if found is None:
                return False
            found.text = value
            return True

        return change

    def swap_first_two(doc: etree._Element) -> bool:
        first, second = doc[0], doc[1]
        doc.remove(second)
        doc.insert(0, second)
        return first is not second

    def add_attribute(doc: etree._Element) -> None:
        doc[0].set("lang", "ja")

    def add_unknown(doc: etree._Element) -> None:
        doc.insert(3, etree.Element("{urn:oasis:names:tc:emergency:cap:1.2}priority"))

    def add_text(doc: etree._Element) -> None:
        doc[2].tail = "stray"

    def duplicate(doc: etree._Element) -> None:
        doc.insert(0, etree.fromstring(etree.tostring(doc[0])))

    for tag in (
        "identifier",
        "sent",
        "scope",
        "category",
        "event",
        "urgency",
        "valueName",
        "areaDesc",
        "mimeType",
    ):
        variant(f"drop {tag}", drop(tag))
    for tag, value in (
        ("status", "Real"),
        ("msgType", " Alert"),
        ("sent", "2024-01-01T09:00:00Z"),
        ("sent", "2024-01-01T09:00:00.5+09:00"),
        ("sent", "2024-02-30T09:00:00+09:00"),
        ("sent", "2024-01-01T09:00:00+15:00"),
        ("effective", "2024-01-01T24:00:00+09:00"),
        ("language", "日本語"),
        ("language", ""),
        ("size", "12kB"),
        ("size", " +12 "),
        ("altitude", "1e3"),
        ("ceiling", ".5"),
        ("severity", "severe"),
    ):
        variant(f"{tag}={value!r}", set_text(tag, value))
    variant("swap identifier and sender", swap_first_two)
    variant("attribute", add_attribute)
    variant("unknown element", add_unknown)
    variant("stray text", add_text)
    variant("repeated identifier", duplicate)
    return out


@SLOW
@given(alert=alerts())
def test_structural_validator_agrees_with_the_schema_on_near_misses(alert: Alert, xsd: Path) -> None:
    root = etree.fromstring(to_cap(alert))
    for name, doc in _mutations(root):
        data = etree.tostring(doc)
        assert bool(validate_cap(data)) == bool(validate_cap(data, xsd)), name


tricky = st.one_of(
    texts,
    st.sampled_from(
        [
            "",
            " ",
            "Update",
            "Cancel",
            "Restricted",
            "Private",
            "1e999",
            "-0",
            "日本語",
            "ja",
            "2024-01-01T24:00:00+09:00",
            "2024-01-01T00:00:00",
            "0001-01-01T00:00:00+14:00",
            "broadcaster:origin=",
            "broadcaster:received=2024-01-01",
        ]
    ),
)


@SLOW
@given(alert=alerts(), data=st.data())
def test_damaged_documents_are_refused_or_read_into_alerts_we_can_write(
    alert: Alert, data: st.DataObject
) -> None:
    root = etree.fromstring(to_cap(alert))
    elements = [el for el in root.iter() if el is not root]
    for _ in range(data.draw(st.integers(1, 4))):
        el = data.draw(st.sampled_from(elements))
        parent = el.getparent()
        action = data.draw(st.sampled_from(["text", "drop", "repeat"]))
        if action == "text":
            el.text = data.draw(tricky)
        elif parent is not None and action == "drop":
            parent.remove(el)
        elif parent is not None:
            el.addnext(etree.fromstring(etree.tostring(el)))
    try:
        back = from_cap(etree.tostring(root))
    except ParseError:
        return
    assert validate_cap(to_cap(back)) == []
