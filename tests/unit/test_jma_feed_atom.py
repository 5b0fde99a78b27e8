"""Reading JMA Atom feeds: real captures from the corpus, and what must be refused whole."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.ingest.jma_feed.atom import GarbledFeed, parse_feed

BASE = "https://www.data.jma.go.jp/developer/xml/feed/eqvol.xml"


def feed_file(corpus: Path, name: str) -> bytes:
    return (corpus / "jma_feed" / name).read_bytes()


def test_a_real_capture_yields_every_entry_with_its_telegram_link(corpus: Path) -> None:
    entries, nameless = parse_feed(feed_file(corpus, "eqvol_20211124_real.xml"), BASE)
    assert nameless == 0
    assert len(entries) == 25
    first = entries[0]
    assert first.id == first.url == "http://www.data.jma.go.jp/developer/xml/data/20211123230030_0_VFVO53_010000.xml"
    assert first.title == "降灰予報（定時）"
    assert first.updated is not None and first.updated.tzinfo == UTC
    assert first.updated.isoformat() == "2021-11-23T23:00:00+00:00"
    assert [e.position for e in entries] == list(range(25))
    assert len({e.id for e in entries}) == 25


def test_the_older_uuid_format_keeps_the_entry_id_apart_from_the_link(corpus: Path) -> None:
    entries, _ = parse_feed(feed_file(corpus, "eqvol_20200725_real_uuidformat.xml"), BASE)
    assert entries
    for e in entries:
        assert e.id.startswith("urn:uuid:")
        assert e.url is not None and e.url.startswith("http://www.data.jma.go.jp/developer/xml/data/")
        assert e.id.removeprefix("urn:uuid:") in e.url


@pytest.mark.parametrize("name", ["mican3_extra_testfeed_20240318.xml", "mican3_eqvol_testfeed.xml"])
def test_test_feeds_in_the_real_format_are_read(corpus: Path, name: str) -> None:
    entries, _ = parse_feed(feed_file(corpus, name), BASE)
    assert entries and all(e.url and e.url.startswith("https://") for e in entries)
    assert all(e.title for e in entries)


def test_relative_links_resolve_against_the_feed_and_only_web_links_are_fetched() -> None:
    feed = (
        b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        b"<title>t</title><id>x</id><updated>2026-01-01T00:00:00Z</updated>"
        b'<entry><title>a</title><id>a</id><updated>2026-01-01T00:00:00Z</updated><link href="../data/a.xml"/></entry>'
        b'<entry><title>b</title><id>b</id><updated>2026-01-01T00:00:00Z</updated><link href="file:///etc/passwd"/></entry>'
        b'<entry><title>c</title><updated>2026-01-01T00:00:00Z</updated></entry>'
        b"</feed>"
    )
    entries, nameless = parse_feed(feed, BASE)
    assert [(e.id, e.url) for e in entries] == [
        ("a", "https://www.data.jma.go.jp/developer/xml/data/a.xml"),
        ("b", None),
    ]
    assert nameless == 1


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   ",
        b"\x00\xff\xfe garbage",
        b"<html><head><title>503</title></head><body>Service Unavailable</body></html>",
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item><link>http://x/</link></item></channel></rss>',
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><entry><id>a</id>',
    ],
    ids=["empty", "blank", "binary", "html", "rss", "unclosed"],
)
def test_anything_but_a_well_formed_atom_feed_is_refused(data: bytes) -> None:
    with pytest.raises(GarbledFeed):
        parse_feed(data, BASE)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(min_value=0.0, max_value=0.995))
def test_a_feed_cut_anywhere_is_refused_whole_never_half_read(corpus: Path, cut: float) -> None:
    data = feed_file(corpus, "eqvol_20211124_real.xml").rstrip()
    with pytest.raises(GarbledFeed):
        parse_feed(data[: int(len(data) * cut)], BASE)
