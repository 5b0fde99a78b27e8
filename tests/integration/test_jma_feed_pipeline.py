"""The poller inside a running embedded pipeline (stage ingest:jma), against the fake JMA."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from broadcaster.errors import ConfigError
from broadcaster.model import now
from broadcaster.pipeline.feeds import FeedStage, freshness
from broadcaster.pipeline.runtime import stage_names
from broadcaster.settings import Settings, load_settings
from broadcaster.status import collect_status, render_status
from broadcaster.store import reports
from broadcaster.store import tables as t
from broadcaster.store.feeds import FeedStore
from tests.fakes.jma_feed import FakeJmaFeed
from tests.helpers import ROOT, eventually, make_settings, running_pipeline

SAMPLES = ROOT / "samples" / "jma"
TOWNS: dict[str, Any] = {
    "anamizu": {"name": "穴水町", "areas": {"jma": ["1746100"]}},
    "wajima": {"name": "輪島市", "areas": {"jma": ["1720400"]}},
    "noto": {"name": "能登町", "areas": {"jma": ["1746300"]}},
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeJmaFeed]:
    server = FakeJmaFeed()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


def settings_for(tmp: Path, fake: FakeJmaFeed, **jma: Any) -> Settings:
    ingest = {
        "enabled": True,
        "base_url": fake.base_url,
        "feeds": ["eqvol", "extra"],
        "poll_interval_s": 0.3,
        "timeout_s": 2.0,
        **jma,
    }
    return make_settings(tmp, tenants=TOWNS, ingest={"jma": ingest})


async def _alerts_by_headline(run: Any) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for a in await reports.alerts(run.ledger, limit=200):
        out.setdefault(a["headline"] or "", set()).add(a["tenant"])
    return out


async def test_telegrams_from_the_feed_become_alerts_for_the_towns_they_cover(tmp_path: Path, fake: FakeJmaFeed) -> None:
    fake.publish_sample("eqvol", SAMPLES / "01_vxse51_shindo_sokuho.xml")
    fake.publish_sample("extra", SAMPLES / "11_vxww50_dosha.xml")
    settings = settings_for(tmp_path, fake)
    assert "ingest:jma" in stage_names(settings)
    async with running_pipeline(settings) as run:
        want = {"震度速報": {"anamizu", "wajima", "noto"}, "石川県土砂災害警戒情報": {"anamizu", "wajima"}}
        got = await eventually(lambda: _has(run, want), timeout=60)
        assert got
        # Published while running: the next scheduled poll takes it in.
        fake.publish_sample("eqvol", SAMPLES / "02_vtse41_otsunami_keiho.xml")
        await eventually(lambda: _has(run, {"大津波警報": {"anamizu", "wajima", "noto"}}), timeout=60)
        # Each telegram downloaded once, recorded as raw input with where it came from.
        for name in ("01_vxse51_shindo_sokuho.xml", "11_vxww50_dosha.xml", "02_vtse41_otsunami_keiho.xml"):
            assert fake.fetched(fake.data_path(name)) == 1

        def raws(c: sa.Connection) -> list[Any]:
            return list(c.execute(sa.select(t.raw_events.c.submitted_by, t.raw_events.c.source_ref, t.raw_events.c.source)))

        rows = await run.ledger.db.read(raws)
        assert {r.source for r in rows} == {"jma"}
        assert {r.source_ref for r in rows} == {fake.data_url(n) for n in ("01_vxse51_shindo_sokuho.xml", "11_vxww50_dosha.xml", "02_vtse41_otsunami_keiho.xml")}
        assert all(r.submitted_by.startswith("feed:jma:") for r in rows)
        assert all(not f.stale and f.last_success for f in await freshness(settings, run.ledger.db))


async def _has(run: Any, want: dict[str, set[str]]) -> bool:
    got = await _alerts_by_headline(run)
    return all(any(h.startswith(k) and got[h] == v for h in got) for k, v in want.items())


async def test_a_stale_feed_alerts_the_officers_of_every_town_once_and_clears_once(tmp_path: Path, fake: FakeJmaFeed) -> None:
    for document in ("eqvol", "extra", "eqvol_l", "extra_l"):
        fake.fail_next(fake.feed_path(document), 503, times=10_000)
    # 1.2 s instead of minutes; the stage checks four times per threshold.
    settings = settings_for(tmp_path, fake, stale_after_minutes=0.02)
    async with running_pipeline(settings) as run:
        await eventually(lambda: _system_alerts(run, "Alert"), timeout=60)
        status = render_status(await collect_status(settings, run.bus, run.ledger))
        assert "jma/eqvol" in status and "STALE" in status and "HTTP 503" in status
        fake._script.clear()  # JMA is back
        await eventually(lambda: _system_alerts(run, "Cancel"), timeout=60)
        assert len(await _system_alerts(run, "Alert")) == 3, "raised once per town, not every check"
        status = render_status(await collect_status(settings, run.bus, run.ledger))
        assert "STALE" not in status


async def _system_alerts(run: Any, msg_type: str) -> list[dict[str, Any]]:
    rows = [a for a in await reports.alerts(run.ledger, limit=200) if a["kind"] == "system" and a["msg_type"] == msg_type]
    return rows if {a["tenant"] for a in rows} == set(TOWNS) else []


def test_off_by_default_and_in_the_demo(tmp_path: Path) -> None:
    assert not any(s.startswith("ingest:") for s in stage_names(make_settings(tmp_path)))
    demo = load_settings(ROOT / "config" / "demo.toml")
    assert not demo.ingest["jma"].enabled
    assert not any(s.startswith("ingest:") for s in stage_names(demo))


async def test_a_worker_for_a_disabled_source_is_a_clear_configuration_error(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with pytest.raises(ConfigError, match="ingest 'jma' is not enabled"):
        FeedStage("jma", settings, None, None)  # type: ignore[arg-type]


async def test_status_lists_each_feed_with_its_freshness(tmp_path: Path, fake: FakeJmaFeed) -> None:
    settings = settings_for(tmp_path, fake, feeds=None)
    async with running_pipeline(make_settings(tmp_path, tenants=TOWNS)) as run:
        store = FeedStore(run.ledger.db, "jma")
        at = now()
        await store.record_success("regular", at - timedelta(minutes=3))
        await store.record_failure("extra", at - timedelta(minutes=20), "timeout")
        rows = {f.feed: f for f in await freshness(settings, run.ledger.db, at)}
        assert set(rows) == {"regular", "extra", "eqvol", "other"}, "the poller's default feeds"
        assert not rows["regular"].stale and rows["extra"].stale and rows["eqvol"].age_s is None
        text = render_status(await collect_status(settings, run.bus, run.ledger))
        assert "jma/regular" in text and "jma/extra" in text and "never polled" in text
        assert "timeout" in text
