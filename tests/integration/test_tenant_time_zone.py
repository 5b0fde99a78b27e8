"""One clock (docs/configuration.md, tenants.time_zone): a town whose zone is not Japan's sees every
time on its console pages, its audit log, its circulars and its leaders' pages in that zone, with that zone's label;
a town without the setting keeps JST."""

from __future__ import annotations

import copy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from broadcaster.circulars import store as cs
from broadcaster.circulars.board import CircularBoard
from broadcaster.errors import ConfigError
from broadcaster.store.audiences import Audiences
from broadcaster.web.keys import CONTEXT
from tests.circular_helpers import LINK_KEY, add_people
from tests.contract.test_circulars_contract import delivery_of, evacuation
from tests.helpers import TENANTS, make_settings
from tests.web_helpers import client, web_env

# Honolulu: no summer time, so the label is HST whatever the day the test runs.
ZONE = "Pacific/Honolulu"


def _tenants(zone: str) -> dict[str, object]:
    tenants = copy.deepcopy(TENANTS)
    tenants["anamizu"]["time_zone"] = zone
    return tenants


async def test_a_town_in_another_zone_reads_its_own_clock_on_every_console_page(tmp_path: Path) -> None:
    async with web_env(tmp_path, tenants=_tenants(ZONE), circulars={"link_key": LINK_KEY}) as env:
        svc = env.app[CONTEXT].runtime.circulars
        await add_people(Audiences(env.ledger.db))
        alert = evacuation()
        await env.ledger.record_alert(alert)
        await CircularBoard(svc).send(delivery_of(alert, "leaders:kawashima", ("L-yamada",)))
        (circular,) = await cs.circulars_of(env.ledger.db, "anamizu")
        (delivery,) = await cs.deliveries(env.ledger.db, circular.id)
        leader_link = svc.link(delivery.id, delivery.link_version)
        sent_here = alert.sent.astimezone(ZoneInfo(ZONE))
        pages = {
            "dashboard": "/t/anamizu/",
            "alert": f"/t/anamizu/alerts/{alert.identifier}",
            "audit": "/t/anamizu/audit",
            "circulars": "/t/anamizu/circulars",
            "circular": f"/t/anamizu/circulars/{circular.id}",
            "circular-new": "/t/anamizu/circulars/new",
        }
        async with client() as s:
            await env.login(s, "admin")
            seen = {}
            for name, path in pages.items():
                async with s.get(env.base + path) as r:
                    assert r.status == 200, (name, await r.text())
                    seen[name] = await r.text()
        # The leader's own page: no login, the signed link.
        async with client() as s, s.get(leader_link) as r:
            assert r.status == 200
            seen["leader"] = await r.text()
        for name, html in seen.items():
            assert "HST" in html, f"{name}: no time in the town's zone"
            assert "JST" not in html and "日本時間" not in html, f"{name}: a time in Japan's zone"
        # The alert's own time, as the town's clock read it (Japan's clock said the next day).
        assert f"{sent_here:%Y-%m-%d %H:%M} HST" in seen["alert"]
        assert f"{sent_here:%m/%d %H:%M} HST" in seen["dashboard"]
        assert f"送信：{delivery.created.astimezone(ZoneInfo(ZONE)):%m月%d日 %H:%M} HST" in seen["leader"]
        # The audit log: the admin's own login, just now, in the town's zone.
        assert " HST</time></td>" in seen["audit"]


async def test_a_town_without_the_setting_keeps_japans_clock(tmp_path: Path) -> None:
    async with web_env(tmp_path) as env:
        alert = evacuation()
        await env.ledger.record_alert(alert)
        async with client() as s:
            await env.login(s, "admin")
            async with s.get(f"{env.base}/t/anamizu/alerts/{alert.identifier}") as r:
                html = await r.text()
        assert f"{alert.sent.astimezone(ZoneInfo('Asia/Tokyo')):%Y-%m-%d %H:%M} JST" in html


def test_an_unknown_zone_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises((ConfigError, ValueError), match="time zone"):
        make_settings(tmp_path, tenants=_tenants("Asia/Atlantis"))


async def test_the_towns_site_gives_its_times_in_the_towns_zone(tmp_path: Path) -> None:
    from adapters.outbound.website import WebsiteAdapter
    from broadcaster.pipeline.adapters import adapter_env
    from broadcaster.settings import ChannelSettings
    from tests.fakes.site import T0, alert, site_delivery

    settings = make_settings(tmp_path, tenants=_tenants(ZONE))
    env = adapter_env(settings, "anamizu")
    options = {"site_dir": str(tmp_path / "site"), "site_url": "http://127.0.0.1:8080/site/anamizu/"}
    site = WebsiteAdapter.from_settings("website", ChannelSettings(options=options), env)
    try:
        await site.send(site_delivery(alert("evac-1", sent=T0)))
    finally:
        await site.close()
    here = T0.astimezone(ZoneInfo(ZONE))
    current = (tmp_path / "site" / "current").resolve()
    index = (current / "index.html").read_text(encoding="utf-8")
    english = [p for p in current.rglob("*.html") if "/en/" in str(p) or p.name.endswith(".en.html")]
    # Japanese: the town's clock, its zone said (Japan's is not said to a reader in Japan).
    assert f"{here.year}年{here.month}月{here.day}日 {here.hour}時{here.minute:02d}分（HST）" in index
    assert f"{T0.astimezone(ZoneInfo('Asia/Tokyo')).hour}時" not in index
    # Other languages: the time with the zone's label.
    assert any(f"{here:%Y-%m-%d %H:%M} HST" in p.read_text(encoding="utf-8") for p in english), english[:5]
