"""QZSS health in status and on the console: when the internet sources are stale and the receiver
is alive, both say so; while the internet is fine, neither does."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from broadcaster.bus.embedded import EmbeddedBus
from broadcaster.model import now
from broadcaster.pipeline.feeds import backup_only
from broadcaster.status import collect_status, render_status
from broadcaster.store.feeds import FeedFreshness, FeedStore
from tests.web_helpers import client, web_env

INGEST = {
    "jma": {"enabled": True, "stale_after_minutes": 10},
    "qzss": {"enabled": True, "device": "file:/dev/null", "stale_after_minutes": 5},
}


def _row(source: str, feed: str, *, stale: bool, seen: bool = True) -> FeedFreshness:
    at = now()
    return FeedFreshness(source, feed, at if seen else None, at, at, 1.0, stale, 0, None)


def test_backup_only_needs_every_internet_feed_stale_and_the_backup_alive() -> None:
    qzss_ok = _row("qzss", "signal", stale=False)
    assert backup_only([_row("jma", "regular", stale=True), _row("jma", "extra", stale=True), qzss_ok], {"qzss"})
    assert not backup_only([_row("jma", "regular", stale=True), _row("jma", "extra", stale=False), qzss_ok], {"qzss"})
    assert not backup_only([_row("jma", "regular", stale=True), _row("qzss", "signal", stale=True)], {"qzss"})
    assert not backup_only([qzss_ok], {"qzss"})  # no internet source configured: nothing to say


async def test_status_and_console_say_the_town_is_on_its_backup(tmp_path: Path) -> None:
    async with web_env(tmp_path, ingest=INGEST) as env:
        jma, qzss = FeedStore(env.ledger.db, "jma"), FeedStore(env.ledger.db, "qzss")
        long_ago = now() - timedelta(hours=2)
        for feed in ("regular", "extra", "eqvol", "other"):
            await jma.record_success(feed, long_ago)
        await qzss.record_success("signal", now())
        await qzss.record_success("messages", now() - timedelta(minutes=40))

        bus = EmbeddedBus(tmp_path / "status-bus.sqlite3", partitions=4)
        await bus.start()
        try:
            data = await collect_status(env.settings, bus, env.ledger)
        finally:
            await bus.close()
        text = render_status(data)
        assert data["backup_only"] is True
        assert "ON BACKUP" in text and "qzss/signal" in text and "qzss/messages" in text
        # The last message is shown but never called stale: it comes only when there is one.
        assert not next(f for f in data["feeds"] if f["feed"] == "messages")["stale"]

        async with client() as s:
            await env.login(s, "tanaka")
            async with s.get(f"{env.base}/t/anamizu/") as r:
                html = await r.text()
            assert 'id="on-backup"' in html and "みちびき" in html
            assert "qzss/signal" in html

            # The internet is back: neither says so any more.
            for feed in ("regular", "extra", "eqvol", "other"):
                await jma.record_success(feed, now())
            async with s.get(f"{env.base}/t/anamizu/") as r:
                html = await r.text()
            assert 'id="on-backup"' not in html
