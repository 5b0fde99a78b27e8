"""The L-Alert poller against a fake feed, with its real state store (SQLite): once per revision, ever."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.ingest.lalert_feed import LAlertFeedPoller
from adapters.ingest.lalert_feed.poller import document_key
from broadcaster.model import JST, RawEvent
from broadcaster.settings import FeedSourceSettings
from broadcaster.store import migrate
from broadcaster.store.feeds import FeedStore
from broadcaster.store.ledger import Ledger
from tests.fakes.lalert_feed import FakeLAlertFeed, atom

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "lalert"
ORDER = (SAMPLES / "anamizu_evacuation_order.xml").read_bytes()
LIFT = (SAMPLES / "anamizu_evacuation_lift.xml").read_bytes()
SHELTER = (SAMPLES / "anamizu_shelter_open.xml").read_bytes()
NOW = datetime(2025, 7, 10, 7, 0, tzinfo=JST)


class RecordingSink:
    def __init__(self) -> None:
        self.raws: list[RawEvent] = []
        self.fail = False

    async def submit(self, raw: RawEvent) -> None:
        if self.fail:
            raise ConnectionError("bus unreachable")
        self.raws.append(raw)


@pytest.fixture
async def fake() -> AsyncIterator[FakeLAlertFeed]:
    server = FakeLAlertFeed()
    server.documents = {"order.xml": ORDER, "lift.xml": LIFT, "shelter.xml": SHELTER}
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Ledger]:
    led = Ledger.connect(f"sqlite+aiosqlite:///{tmp_path / 'ledger.sqlite3'}")
    await migrate.upgrade(led.db)
    try:
        yield led
    finally:
        await led.close()


def poller(fake: FakeLAlertFeed, ledger: Ledger, sink: RecordingSink, **over: Any) -> LAlertFeedPoller:
    config = FeedSourceSettings(enabled=True, adapter="lalert", base_url=fake.feed_url, tenant="anamizu", **over)
    return LAlertFeedPoller(config, sink=sink, store=FeedStore(ledger.db, "lalert_anamizu"), clock=lambda: NOW)


def at(minutes: int) -> datetime:
    return NOW - timedelta(minutes=minutes)


def revisions(sink: RecordingSink) -> list[str]:
    """Each handed-on document as "r<revision>:<file it came from>" ("inline" when in the feed)."""
    out = []
    for r in sink.raws:
        ref = r.source_ref or ""
        where = ref.rsplit("/", 1)[-1] if ref.startswith("http") else "inline"
        out.append(document_key(r.body).rsplit("#", 1)[1] + ":" + where)
    return out


async def test_each_revision_is_handed_on_once_oldest_first_for_its_tenant(fake: FakeLAlertFeed, ledger: Ledger) -> None:
    fake.feed = atom([("e-1", "order.xml", at(60)), ("e-2", "lift.xml", at(30)), ("e-3", "shelter.xml", at(40))], fake.url)
    sink = RecordingSink()
    p = poller(fake, ledger, sink, credentials={"token": "relay-token"})
    result = await p.poll_once()
    assert result.ok and result.handed_on == 3
    assert revisions(sink) == ["r1:order.xml", "r1:shelter.xml", "r2:lift.xml"]
    assert {(r.source, r.tenant, r.submitted_by) for r in sink.raws} == {("lalert", "anamizu", "feed:lalert:lalert_anamizu")}
    assert all(r.headers.get("Authorization") == "Bearer relay-token" for r in fake.requests)
    # The next poll is conditional and costs nothing.
    assert (await p.poll_once()).not_modified
    assert fake.requests[-1].status == 304
    await p.stop()


async def test_dedupe_by_document_and_revision_survives_a_restart(fake: FakeLAlertFeed, ledger: Ledger) -> None:
    fake.feed = atom([("e-1", "order.xml", at(60))], fake.url)
    first = RecordingSink()
    p = poller(fake, ledger, first)
    await p.poll_once()
    await p.stop()
    # After a restart the relay republishes the same revision under a new entry id and time, and
    # adds the next revision: only the new revision goes on.
    fake.feed = atom([("e-1-again", "order.xml", at(5)), ("e-2", "lift.xml", at(4))], fake.url)
    second = RecordingSink()
    q = poller(fake, ledger, second)
    result = await q.poll_once()
    await q.stop()
    assert revisions(first) == ["r1:order.xml"]
    assert revisions(second) == ["r2:lift.xml"]
    assert result.duplicates == 1
    assert fake.downloads("/docs/order.xml") == 2, "fetched to learn its revision, handed on once"


async def test_a_failure_stops_the_round_so_revision_two_never_overtakes_revision_one(fake: FakeLAlertFeed, ledger: Ledger) -> None:
    fake.feed = atom([("e-1", "order.xml", at(60)), ("e-2", "lift.xml", at(30))], fake.url)
    fake.fail_next("/docs/order.xml", 503)
    sink = RecordingSink()
    p = poller(fake, ledger, sink)
    result = await p.poll_once()
    assert not result.ok and sink.raws == []
    result = await p.poll_once()
    assert fake.requests[-3].status != 304, "a failed round keeps no validators: the feed is read whole again"
    assert result.ok and revisions(sink) == ["r1:order.xml", "r2:lift.xml"]
    sink.fail = True
    fake.feed = atom([("e-3", "shelter.xml", at(1))], fake.url)
    assert not (await p.poll_once()).ok, "the bus is down: nothing is marked seen"
    sink.fail = False
    assert (await p.poll_once()).handed_on == 1
    await p.stop()


async def test_json_lists_inline_documents_and_a_bare_document(fake: FakeLAlertFeed, ledger: Ledger) -> None:
    fake.feed = json.dumps(
        {"documents": [
            {"url": "/docs/order.xml", "documentID": "editor.town.anamizu.lg.jp-2aafe4d1-7b04-49d6-9224-769cfb5755e5", "revision": 1, "updated": at(50).isoformat()},
            {"xml": LIFT.decode("utf-8"), "updated": at(20).isoformat()},
            {"url": "https://elsewhere.example/docs/x.xml"},
        ]}
    ).encode()  # fmt: skip
    sink = RecordingSink()
    p = poller(fake, ledger, sink)
    assert (await p.poll_once()).handed_on == 2
    assert revisions(sink) == ["r1:order.xml", "r2:inline"]
    # The listing said revision 1 of that document: known without fetching it again.
    fake.feed = fake.feed.replace(b'"updated"', b'"updated" ', 1)
    before = fake.downloads("/docs/order.xml")
    await p.poll_once()
    assert fake.downloads("/docs/order.xml") == before
    # A feed URL that answers with one document (the latest) works too.
    fake.feed = SHELTER
    assert (await p.poll_once()).handed_on == 1
    await p.stop()


async def test_bad_documents_go_on_once_for_the_quarantine_and_garbage_feeds_fail(fake: FakeLAlertFeed, ledger: Ledger) -> None:
    fake.documents["broken.xml"] = b"<EDXLDistribution><cut"
    fake.feed = atom([("e-1", "broken.xml", at(10))], fake.url)
    sink = RecordingSink()
    p = poller(fake, ledger, sink)
    assert (await p.poll_once()).handed_on == 1
    fake.feed = atom([("e-1b", "broken.xml", at(5))], fake.url)
    assert (await p.poll_once()).duplicates == 1, "the same bytes are not handed on twice"
    fake.feed = b"<html><body>maintenance</body></html>"
    result = await p.poll_once()
    assert not result.ok and "root" in (result.error or "")
    await p.stop()


async def test_old_entries_are_not_replayed_on_a_first_start(fake: FakeLAlertFeed, ledger: Ledger) -> None:
    fake.feed = atom([("e-old", "order.xml", at(60 * 24 * 3)), ("e-new", "lift.xml", at(1))], fake.url)
    sink = RecordingSink()
    p = poller(fake, ledger, sink)
    await p.poll_once()
    await p.stop()
    assert revisions(sink) == ["r2:lift.xml"]


async def test_as_a_pipeline_stage_the_feed_reaches_the_towns_channels(fake: FakeLAlertFeed, tmp_path: Path) -> None:
    from broadcaster.store import reports
    from tests.helpers import eventually, make_settings, running_pipeline

    fake.feed = atom([("e-1", "shelter.xml", datetime.now(JST) - timedelta(minutes=1))], fake.url)
    settings = make_settings(
        tmp_path,
        ingest={"lalert_anamizu": {"enabled": True, "adapter": "lalert", "base_url": fake.feed_url, "tenant": "anamizu", "poll_interval_s": 0.2}},
    )
    async with running_pipeline(settings) as run:
        assert "ingest:lalert_anamizu" in run.pipeline.stages

        async def website() -> list[Any]:
            return [r for r in run.outbox("anamizu", "website") if r["alert"].startswith("lalert-")]

        records = await eventually(website)
        assert {r["tenant"] for r in records} == {"anamizu"}
        alerts = await reports.alerts(run.ledger)
        assert {a["tenant"] for a in alerts} == {"anamizu"}, "a town's own feed speaks only for the town"
