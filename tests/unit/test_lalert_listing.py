"""What an L-Alert feed URL may answer: Atom, RSS, JSON, a document; anything else is garbled."""

from __future__ import annotations

import pytest

from adapters.ingest.lalert_feed.listing import GarbledListing, read_listing

BASE = "https://relay.example/lalert/anamizu/feed"


def test_atom_prefers_the_xml_link_and_skips_links_to_other_sites() -> None:
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom">
      <entry><id>a</id><updated>2025-07-10T02:40:00+09:00</updated>
        <link rel="alternate" type="text/html" href="/view/1"/><link rel="alternate" type="application/xml" href="/docs/1.xml"/></entry>
      <entry><id>b</id><updated>2025-07-10T02:41:00Z</updated><link href="https://evil.example/2.xml"/></entry>
      <entry><id>c</id><link href="file:///etc/passwd"/></entry>
    </feed>"""
    listed, skipped = read_listing(body, BASE)
    assert [(e.url, e.updated.isoformat() if e.updated else None) for e in listed] == [
        ("https://relay.example/docs/1.xml", "2025-07-10T02:40:00+09:00")
    ]
    assert skipped == 2
    assert listed[0].key == "entry:a|2025-07-10T02:40:00+09:00"


def test_atom_content_may_carry_the_document_inline() -> None:
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>x</id><content type="application/xml">
      <EDXLDistribution xmlns="urn:oasis:names:tc:emergency:EDXL:DE:1.0"><distributionID>d</distributionID></EDXLDistribution>
    </content></entry></feed>"""
    (entry,), _ = read_listing(body, BASE)
    assert entry.url is None and entry.body is not None and b"<distributionID>d</distributionID>" in entry.body


def test_rss_items_by_enclosure_or_link() -> None:
    body = b"""<rss version="2.0"><channel>
      <item><guid>g1</guid><pubDate>Thu, 10 Jul 2025 02:40:00 +0900</pubDate><enclosure url="/docs/1.xml" type="application/xml"/></item>
      <item><guid>g2</guid><link>https://relay.example/docs/2.xml</link></item>
    </channel></rss>"""
    listed, skipped = read_listing(body, BASE)
    assert [e.url for e in listed] == ["https://relay.example/docs/1.xml", "https://relay.example/docs/2.xml"]
    assert listed[0].updated is not None and listed[0].updated.utcoffset() is not None and skipped == 0


def test_json_lists_know_the_revision_before_fetching() -> None:
    listed, skipped = read_listing(b'["/docs/1.xml", {"url": "/docs/2.xml", "documentID": "doc-9", "revision": 3}, 7]', BASE)
    assert [e.key.split("|")[0] for e in listed] == ["entry:https://relay.example/docs/1.xml", "doc:doc-9#r3"]
    assert skipped == 1


def test_a_document_itself_is_a_listing_of_one() -> None:
    body = b'<EDXLDistribution xmlns="urn:oasis:names:tc:emergency:EDXL:DE:1.0"/>'
    (entry,), _ = read_listing(body, BASE)
    assert entry.body == body


@pytest.mark.parametrize("body", [b"<html><body>503</body></html>", b"<feed", b'{"documents": 5}', b"{not json", b"<!DOCTYPE x><feed/>"])
def test_anything_else_is_garbled_and_retried(body: bytes) -> None:
    with pytest.raises(GarbledListing):
        read_listing(body, BASE)
