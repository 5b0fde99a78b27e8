"""The JMA feed poller against a fake JMA on loopback, with its real state store (SQLite)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from adapters.ingest.jma_feed import JmaFeedPoller
from adapters.ingest.jma_feed.poller import MALFORMED_TRIES, first_fire
from broadcaster.model import RawEvent
from broadcaster.settings import FeedSourceSettings
from broadcaster.store import migrate
from broadcaster.store.feeds import FeedStore
from broadcaster.store.ledger import Ledger
from tests.fakes.clock import ManualClock
from tests.fakes.jma_feed import FakeJmaFeed

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "jma"


def telegram(n: int, title: str = "震度速報") -> bytes:
    """A small well-formed telegram; the poller does not parse it beyond well-formedness."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Report xmlns="http://xml.kishou.go.jp/jmaxml1/">'
        f"<Control><Title>{title}</Title><Serial>{n}</Serial></Control></Report>"
    ).encode()


class RecordingSink:
    def __init__(self) -> None:
        self.raws: list[RawEvent] = []
        self.fail = False

    async def submit(self, raw: RawEvent) -> None:
        if self.fail:
            raise ConnectionError("bus unreachable")
        self.raws.append(raw)

    @property
    def refs(self) -> list[str | None]:
        return [r.source_ref for r in self.raws]


@pytest.fixture
async def fake() -> AsyncIterator[FakeJmaFeed]:
    server = FakeJmaFeed()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[FeedStore]:
    ledger = Ledger.connect(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    await migrate.upgrade(ledger.db)
    try:
        yield FeedStore(ledger.db, "jma")
    finally:
        await ledger.close()


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def config(fake: FakeJmaFeed, **kw: Any) -> FeedSourceSettings:
    base: dict[str, Any] = {
        "enabled": True,
        "base_url": fake.base_url,
        "feeds": ["eqvol", "extra"],
        "catch_up": False,
        "timeout_s": 0.5,
    }
    return FeedSourceSettings(**{**base, **kw})


@pytest.fixture
async def make_poller(
    fake: FakeJmaFeed, store: FeedStore, sink: RecordingSink, clock: ManualClock
) -> AsyncIterator[Any]:
    made: list[JmaFeedPoller] = []

    def make(**kw: Any) -> JmaFeedPoller:
        p = JmaFeedPoller(config(fake, **kw), sink=sink, store=store, clock=clock)
        made.append(p)
        return p

    yield make
    for p in made:
        await p.stop()


def publish(fake: FakeJmaFeed, clock: ManualClock, feed: str, n: int, *, minutes_ago: float = 0, **kw: Any) -> str:
    return fake.publish(feed, f"t{n}.xml", telegram(n), updated=clock() - timedelta(minutes=minutes_ago), **kw)


# --- handing on -------------------------------------------------------------------------------


async def test_new_entries_are_handed_on_oldest_first_as_raw_events(
    fake: FakeJmaFeed, sink: RecordingSink, clock: ManualClock, make_poller: Any
) -> None:
    ids = [publish(fake, clock, "eqvol", n, minutes_ago=5 - n) for n in range(3)]
    other = publish(fake, clock, "extra", 9, title="気象警報・注意報（Ｈ２７）")
    poller = make_poller()
    results = await poller.poll_round()
    assert all(r.ok for r in results)
    assert [r for r in sink.refs if r in ids] == ids, "oldest first within a feed"
    assert set(sink.refs) == {*ids, other}
    raw = next(r for r in sink.raws if r.source_ref == ids[0])
    assert raw.source == "jma"
    assert raw.content_type == "application/xml"
    assert raw.submitted_by == "feed:jma:eqvol"
    assert raw.body == telegram(0)
    assert raw.tenant is None
    assert next(r for r in sink.raws if r.source_ref == other).submitted_by == "feed:jma:extra"


async def test_conditional_get_is_sent_and_a_304_fetches_nothing(
    fake: FakeJmaFeed, sink: RecordingSink, clock: ManualClock, make_poller: Any
) -> None:
    publish(fake, clock, "eqvol", 1)
    poller = make_poller()
    await poller.poll_round()
    await poller.poll_round()
    path = fake.feed_path("eqvol")
    first, second = fake.requests_to(path)
    assert "If-None-Match" not in first.headers and "If-Modified-Since" not in first.headers
    assert second.headers["If-None-Match"].startswith('"')
    assert second.headers["If-Modified-Since"].endswith("GMT")
    assert second.status == 304
    assert fake.fetched(fake.data_path("t1.xml")) == 1
    assert len(sink.raws) == 1
    assert first.headers["User-Agent"].startswith("broadcaster/")


async def test_no_entry_is_fetched_twice_even_across_a_restart(
    fake: FakeJmaFeed, sink: RecordingSink, clock: ManualClock, make_poller: Any
) -> None:
    publish(fake, clock, "eqvol", 1)
    publish(fake, clock, "eqvol", 2)
    first = make_poller()
    await first.poll_round()
    await first.stop()
    # A new poller (a restarted process) with the same store: the feed changed, so it is read
    # whole (200), yet only the new entry is downloaded.
    publish(fake, clock, "eqvol", 3)
    again = make_poller()
    await again.poll_round()
    assert [fake.fetched(fake.data_path(f"t{n}.xml")) for n in (1, 2, 3)] == [1, 1, 1]
    assert fake.requests_to(fake.feed_path("eqvol"))[-1].status == 200
    assert len(sink.raws) == 3
    # The same entry on two feeds (JMA lists some telegrams on more than one) is fetched once.
    fake.publish("extra", "t3.xml", telegram(3), updated=clock())
    await again.poll_round()
    assert fake.fetched(fake.data_path("t3.xml")) == 1
    assert len(sink.raws) == 3


async def test_catch_up_reads_the_long_feed_after_downtime(
    fake: FakeJmaFeed, sink: RecordingSink, clock: ManualClock, make_poller: Any
) -> None:
    e1 = publish(fake, clock, "eqvol", 1)
    first = make_poller(catch_up=True)
    await first.poll_round()
    await first.stop()
    # Down for a while: two telegrams, one of which has already rolled off the short feed.
    e2 = publish(fake, clock, "eqvol", 2, minutes_ago=-1)
    e3 = publish(fake, clock, "eqvol", 3, minutes_ago=-2)
    fake.drop("eqvol", "t2.xml")
    clock.advance(minutes=3)
    again = make_poller(catch_up=True)
    results = await again.poll_round()
    assert [r.document for r in results] == ["eqvol_l", "eqvol", "extra_l", "extra"]
    assert sink.refs == [e1, e2, e3]
    assert sink.raws[1].submitted_by == "feed:jma:eqvol_l"
    assert all(fake.fetched(fake.data_path(f"t{n}.xml")) == 1 for n in (1, 2, 3))
    # Caught up: the next round reads only the high-frequency feeds.
    n = len(fake.requests)
    await again.poll_round()
    assert {r.path for r in fake.requests[n:]} == {fake.feed_path("eqvol"), fake.feed_path("extra")}


async def test_a_failed_feed_is_caught_up_from_its_long_feed_on_the_next_round(
    fake: FakeJmaFeed, sink: RecordingSink, clock: ManualClock, make_poller: Any
) -> None:
    poller = make_poller(catch_up=True, feeds=["eqvol"])
    await poller.poll_round()  # the start-up catch-up, nothing there yet
    fake.fail_next(fake.feed_path("eqvol"), 503)
    (failed,) = await poller.poll_round()
    assert failed.document_failed and not failed.ok
    e4 = publish(fake, clock, "eqvol", 4)
    fake.drop("eqvol", "t4.xml")
    results = await poller.poll_round()
    assert [r.document for r in results] == ["eqvol_l", "eqvol"]
    assert sink.refs == [e4]


async def test_a_first_start_does_not_replay_what_the_feeds_still_hold(
    fake: FakeJmaFeed, sink: RecordingSink, clock: ManualClock, make_poller: Any
) -> None:
    publish(fake, clock, "eqvol", 1, minutes_ago=3 * 60)  # a warning since lifted, say
    publish(fake, clock, "eqvol", 2, minutes_ago=30)
    fresh = publish(fake, clock, "eqvol", 3, minutes_ago=2)
    poller = make_poller(catch_up=True, feeds=["eqvol"])
    await poller.poll_round()
    assert sink.refs == [fresh]
    # Nor later: the window starts at the feed's first poll, which the store keeps.
    clock.advance(minutes=5)
    publish(fake, clock, "eqvol", 4, minutes_ago=60)
    await poller.poll_round()
    await make_poller(catch_up=True, feeds=["eqvol"]).poll_round()
    assert sink.refs == [fresh]
    assert [fake.fetched(fake.data_path(f"t{n}.xml")) for n in (1, 2, 4)] == [0, 0, 0]


async def test_entries_older_than_the_age_limit_are_not_fetched(
    fake: FakeJmaFeed, sink: RecordingSink, clock: ManualClock, make_poller: Any
) -> None:
    poller = make_poller(max_entry_age_h=12, feeds=["eqvol"])
    await poller.poll_round()  # running since now
    clock.advance(hours=14)
    publish(fake, clock, "eqvol", 1, minutes_ago=13 * 60)  # after the first poll, yet too old
    new = publish(fake, clock, "eqvol", 2, minutes_ago=11 * 60)
    await poller.poll_round()
    assert sink.refs == [new]
    assert fake.fetched(fake.data_path("t1.xml")) == 0


# --- what goes wrong --------------------------------------------------------------------------


def _cut(body: bytes) -> bytes:
    return body[: len(body) * 2 // 3]


@pytest.mark.parametrize("trouble", ["down", "slow", "garbled", "partial", "html", "broken_off"])
async def test_a_bad_feed_read_hands_on_nothing_and_the_next_poll_gets_everything(
    fake: FakeJmaFeed, sink: RecordingSink, clock: ManualClock, make_poller: Any, store: FeedStore, trouble: str
) -> None:
    e1 = publish(fake, clock, "eqvol", 1)
    poller = make_poller(feeds=["eqvol"])
    await poller.poll_round()
    e2 = publish(fake, clock, "eqvol", 2)
    e3 = publish(fake, clock, "eqvol", 3)
    path = fake.feed_path("eqvol")
    if trouble == "down":
        fake.fail_next(path, 503)
    elif trouble == "slow":
        fake.hang_next(path)
    elif trouble == "garbled":
        fake.serve_next(path, b"\x00\xff<<not xml at all")
    elif trouble == "partial":
        fake.serve_next(path, _cut(fake.render("eqvol")))
    elif trouble == "html":
        fake.serve_next(path, b"<html><body>Service Temporarily Unavailable</body></html>")
    else:
        fake.break_off_next(path)
    clock.advance(minutes=1)
    before = await store.last_success("eqvol")
    with capture_logs() as logs:
        (result,) = await poller.poll_round()
    assert not result.ok and result.document_failed
    assert any(e["event"] == "jma_feed_poll_failed" for e in logs)
    assert sink.refs == [e1], "nothing from a bad read"
    assert await store.seen([e2, e3]) == set()
    assert await store.last_success("eqvol") == before
    clock.advance(minutes=1)
    (result,) = await poller.poll_round()
    assert result.ok and result.handed_on == 2
    assert sink.refs == [e1, e2, e3]


@pytest.mark.parametrize("trouble", ["error", "slow", "broken_off", "cut_short"])
async def test_an_entry_whose_telegram_fails_is_retried_next_poll_and_not_marked(
    fake: FakeJmaFeed, sink: RecordingSink, clock: ManualClock, make_poller: Any, store: FeedStore, trouble: str
) -> None:
    e1 = publish(fake, clock, "eqvol", 1, minutes_ago=1)
    e2 = publish(fake, clock, "eqvol", 2)
    path = fake.data_path("t1.xml")
    if trouble == "error":
        fake.fail_next(path, 500)
    elif trouble == "slow":
        fake.hang_next(path)
    elif trouble == "broken_off":
        fake.break_off_next(path)
    else:
        fake.serve_next(path, _cut(telegram(1)))
    poller = make_poller(feeds=["eqvol"])
    (result,) = await poller.poll_round()
    assert not result.ok and not result.document_failed
    assert result.handed_on == 1 and result.failed == 1
    assert sink.refs == [e2]
    assert await store.seen([e1, e2]) == {e2}
    # The feed's validators were not kept: the next poll reads it whole and retries the entry.
    assert await store.validators("eqvol") == (None, None)
    assert await store.last_success("eqvol") is None
    (result,) = await poller.poll_round()
    assert result.ok
    assert fake.requests_to(fake.feed_path("eqvol"))[-1].status == 200
    assert sink.refs == [e2, e1]
    assert sink.raws[-1].body == telegram(1)
    assert await store.seen([e1, e2]) == {e1, e2}


async def test_a_telegram_that_stays_malformed_is_handed_on_in_the_end(
    fake: FakeJmaFeed, sink: RecordingSink, clock: ManualClock, make_poller: Any
) -> None:
    """The quarantine should show a broken telegram; only a transfer cut short is worth retrying."""
    bad = fake.publish("eqvol", "bad.xml", b"<Report><Control>", updated=clock())
    poller = make_poller(feeds=["eqvol"])
    for _ in range(MALFORMED_TRIES - 1):
        (result,) = await poller.poll_round()
        assert result.failed == 1
    (result,) = await poller.poll_round()
    assert result.ok and sink.refs == [bad]


async def test_a_telegram_larger_than_the_limit_is_refused_once_with_a_clear_log(
    fake: FakeJmaFeed, sink: RecordingSink, clock: ManualClock, make_poller: Any, store: FeedStore
) -> None:
    big = fake.publish("eqvol", "big.xml", telegram(1) + b"<!--" + b"x" * 5000 + b"-->", updated=clock())
    small = publish(fake, clock, "eqvol", 2)
    poller = make_poller(feeds=["eqvol"], max_body_bytes=4000)
    with capture_logs() as logs:
        (result,) = await poller.poll_round()
    assert result.ok and result.refused == 1 and result.handed_on == 1
    assert sink.refs == [small]
    (log,) = [e for e in logs if e["event"] == "jma_telegram_refused_too_large"]
    assert log["log_level"] == "error" and "4000" in log["error"] and log["entry"] == big
    assert await store.seen([big]) == {big}, "refused for good: JMA is not asked again"
    publish(fake, clock, "eqvol", 3)
    await poller.poll_round()
    assert len(fake.requests_to(fake.data_path("big.xml"))) == 1


async def test_a_body_without_length_is_cut_off_at_the_limit(
    fake: FakeJmaFeed, sink: RecordingSink, clock: ManualClock, make_poller: Any
) -> None:
    fake.publish("eqvol", "big.xml", telegram(1), updated=clock())
    # Streamed without Content-Length: the limit is enforced while reading.
    fake.serve_next(fake.data_path("big.xml"), b"<a>" + b"x" * 10_000 + b"</a>")
    poller = make_poller(feeds=["eqvol"], max_body_bytes=4000)
    (result,) = await poller.poll_round()
    assert result.refused == 1 and sink.raws == []


async def test_a_feed_larger_than_its_limit_fails_the_poll(
    fake: FakeJmaFeed, sink: RecordingSink, clock: ManualClock, make_poller: Any
) -> None:
    for n in range(30):
        publish(fake, clock, "eqvol", n)
    (result,) = await make_poller(feeds=["eqvol"], max_feed_bytes=2000).poll_round()
    assert result.document_failed and "2000" in (result.error or "")
    assert sink.raws == []


async def test_a_failing_sink_marks_nothing_and_the_entry_comes_again(
    fake: FakeJmaFeed, sink: RecordingSink, clock: ManualClock, make_poller: Any, store: FeedStore
) -> None:
    e1 = publish(fake, clock, "eqvol", 1, minutes_ago=1)
    e2 = publish(fake, clock, "eqvol", 2)
    poller = make_poller(feeds=["eqvol"])
    sink.fail = True
    (result,) = await poller.poll_round()
    assert result.failed == 2 and not result.ok
    assert await store.seen([e1, e2]) == set()
    sink.fail = False
    await poller.poll_round()
    assert sink.refs == [e1, e2]


async def test_entries_without_a_usable_link_are_skipped_and_logged(
    fake: FakeJmaFeed, sink: RecordingSink, clock: ManualClock, make_poller: Any
) -> None:
    good = publish(fake, clock, "eqvol", 1)
    feed = fake.render("eqvol").replace(
        b"</feed>",
        b"<entry><title>x</title><id>urn:x:1</id><updated>2026-01-01T00:00:00Z</updated></entry>"
        b'<entry><title>y</title><id>urn:x:2</id><link type="application/xml" href="file:///etc/passwd"/></entry>'
        b"</feed>",
    )
    fake.serve_next(fake.feed_path("eqvol"), feed)
    with capture_logs() as logs:
        (result,) = await make_poller(feeds=["eqvol"]).poll_round()
    assert result.ok and sink.refs == [good]
    assert sum(e["event"] == "jma_feed_entry_without_link" for e in logs) == 2


# --- the schedule -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "fire"),
    [
        ("10:00:05", "10:00:20"),
        ("10:00:20", "10:01:20"),
        ("10:00:59.5", "10:01:20"),
        ("23:59:30", "00:00:20"),
    ],
)
def test_polls_start_at_second_20(at: str, fire: str) -> None:
    day = datetime(2026, 1, 1, tzinfo=UTC)
    t = datetime.fromisoformat(f"2026-01-01T{at}+00:00")
    got = first_fire(t, 20)
    assert got.strftime("%H:%M:%S.%f") == fire + ".000000" and got > t and got - day < timedelta(days=2)
    # Shorter intervals keep the grid through second 20 (tests poll every fraction of a second).
    quick = first_fire(t, 20, 0.25)
    assert timedelta(0) < quick - t <= timedelta(seconds=0.25)


async def test_start_catches_up_at_once_then_polls_on_the_schedule(
    fake: FakeJmaFeed, sink: RecordingSink, clock: ManualClock, make_poller: Any
) -> None:
    e1 = publish(fake, clock, "eqvol", 1)
    slow = make_poller(catch_up=True)
    await slow.start()
    (job,) = slow._scheduler.get_jobs()
    assert job.next_run_time.second == 20 and job.next_run_time.microsecond == 0
    await slow.stop()
    assert sink.refs == [e1], "the start-up round ran at once (long feed first)"
    assert {r.path for r in fake.requests[:2]} == {fake.feed_path("eqvol_l"), fake.feed_path("extra_l")}

    quick = make_poller(poll_interval_s=0.2, poll_offset_s=0)
    await quick.start()
    e2 = publish(fake, clock, "eqvol", 2)
    for _ in range(100):
        if e2 in sink.refs:
            break
        await asyncio.sleep(0.05)
    await quick.stop()
    assert sink.refs == [e1, e2]
    n = len(fake.requests)
    await asyncio.sleep(0.5)
    assert len(fake.requests) == n, "stopped means stopped"
