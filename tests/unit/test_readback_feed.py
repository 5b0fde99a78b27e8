"""The guard's read-back of the website's CAP feed parses each version of the feed once, not once
per event it asks about (adapters/outbound/website/readback.py), and still sees a new release."""

from __future__ import annotations

from pathlib import Path

from adapters.outbound.website.readback import feed_alerts
from tests.fakes.site import SiteFixture, alert, site_delivery


async def test_each_version_of_the_feed_is_parsed_once_and_a_new_release_is_read(tmp_path: Path) -> None:
    site = SiteFixture(tmp_path / "site")
    try:
        adapter = site.adapter()
        first = alert("anamizu-1", event_key="ev-1")
        await adapter.send(site_delivery(first))
        feed = site.current / "cap.atom"
        parsed = feed_alerts(feed)
        assert parsed is not None and "anamizu-1" in parsed
        assert feed_alerts(feed) is parsed, "the same file is not parsed again"
        got = await adapter.carried(["anamizu-1"])
        cap = next(c for c in got if c.surface == "cap_feed")
        assert (cap.alert_id, cap.listed) == ("anamizu-1", True)

        second = alert("anamizu-2", event_key="ev-2", event="避難所開設")
        await adapter.send(site_delivery(second))
        newer = feed_alerts(site.current / "cap.atom")
        assert newer is not None and newer is not parsed
        assert {"anamizu-1", "anamizu-2"} <= set(newer)
        got = await adapter.carried(["anamizu-2"])
        cap = next(c for c in got if c.surface == "cap_feed")
        assert (cap.alert_id, cap.listed) == ("anamizu-2", True), "the new release's feed is what is read"
    finally:
        await site.close()
