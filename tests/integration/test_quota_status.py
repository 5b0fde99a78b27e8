"""Quotas per town and channel (LINE's quota endpoints, X's credit state, Bluesky's write budget),
as `broadcaster status` shows them and as the preview flags a send a quota would refuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from broadcaster import quota
from broadcaster.errors import QuotaExceededError
from broadcaster.pipeline.adapters import AdapterPool
from broadcaster.status import _quota_lines
from tests.fakes.bluesky import FakeBluesky
from tests.fakes.deliveries import delivery, text
from tests.fakes.line import FakeLine
from tests.fakes.x import FakeX
from tests.helpers import make_settings


async def test_status_shows_each_towns_quotas_and_the_preview_flags_what_they_refuse(tmp_path: Path) -> None:
    async with FakeLine(token="line-token") as line, FakeBluesky() as sky, FakeX(tmp_path) as x:
        assert x.ca is not None
        line.monthly_limit = 1000
        line.used = 990
        x.credits = 0.01
        settings = make_settings(
            tmp_path,
            channels={
                "line": {"credentials": {"token": "line-token"}, "options": {"base_url": line.url}},
                "bluesky": {
                    "credentials": {"app_password": sky.password},
                    "options": {"handle": sky.handle, "base_url": sky.url},
                },
                "x": {
                    "credentials": x.credentials.as_dict(),
                    "options": {"connect_to": x.url, "ca_file": str(x.ca.ca_file)},
                },
            },
        )
        pool = AdapterPool(settings)
        try:
            # One post each, so that X and Bluesky have something to report.
            await pool.get("anamizu", "bluesky").send(delivery("bluesky", text("一")))
            with pytest.raises(QuotaExceededError, match="credits are spent"):
                await pool.get("anamizu", "x").send(delivery("x", text("避難指示")))
            found = await quota.collect(settings, tenant="anamizu", pool=pool)
        finally:
            await pool.close()
        by = {(q.channel, q.state.name if q.state else None): q for q in found}
        line_q = by[("line", "LINE monthly messages")].state
        assert line_q is not None and (line_q.remaining, line_q.limit, line_q.spent) == (10, 1000, False)
        x_q = by[("x", "X credits")].state
        assert x_q is not None and x_q.spent and "credits are spent" in x_q.detail
        sky_q = by[("bluesky", "Bluesky writes")].state
        assert sky_q is not None and (sky_q.limit, sky_q.remaining) == (5000, 4997)
        lines = "\n".join(_quota_lines([q.as_dict() for q in found]))
        assert "LINE monthly messages: ok, 10 of 1,000 messages left" in lines
        assert "X credits: SPENT" in lines
        assert "Bluesky writes: ok, 4,997 of 5,000 points left" in lines

        # The preview's flag: 50 LINE followers need 50 of the 10 left; X needs credits it has not.
        needs = {
            ("anamizu", "line"): {"LINE monthly messages": 50.0},
            ("anamizu", "x"): {"X credits": 0.2},
            ("anamizu", "bluesky"): {"Bluesky writes": 6.0},
        }
        flagged = quota.warnings(found, needs)
        assert flagged[("anamizu", "line")] == ["LINE monthly messages: 50 messages needed, 10 left"]
        assert flagged[("anamizu", "x")][0].startswith("X credits spent")
        assert ("anamizu", "bluesky") not in flagged


async def test_a_provider_that_cannot_be_asked_is_shown_unknown(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        channels={"line": {"credentials": {"token": "t"}, "options": {"base_url": "http://127.0.0.1:9"}, "timeout_s": 2}},
    )
    (q,) = [q for q in await quota.collect(settings, tenant="anamizu") if q.channel == "line"]
    assert q.state is None and q.error is not None
    assert "unreachable" in q.error and "unknown" in _quota_lines([q.as_dict()])[0]


async def test_the_console_preview_names_the_quota_that_would_refuse_the_send(tmp_path: Path) -> None:
    from broadcaster.store.audiences import Audiences
    from tests.web_helpers import client, web_env

    async with FakeLine(token="line-token") as line:
        line.monthly_limit = 1000
        line.used = 998  # two messages left; three people in 川島 follow the town on LINE
        channels = {"line": {"credentials": {"token": "line-token"}, "options": {"base_url": line.url}}}
        async with web_env(tmp_path, channels=channels) as env:
            for n in range(3):
                await Audiences(env.ledger.db).add(
                    "anamizu", districts=["kawashima"], endpoints={"line": f"U{n:032x}"}
                )
            async with client() as http:
                csrf = await env.login(http, "tanaka")
                form = {
                    "csrf": csrf,
                    "preset": "evacuation_order",
                    "status": "Actual",
                    "districts": "kawashima",
                    "headline": "【警戒レベル４】川島地区に避難指示を発令しました",
                    "description": "川島地区に避難指示を発令しました。",
                    "instruction": "直ちに避難してください。",
                }
                async with http.post(f"{env.base}/t/anamizu/compose/preview", data=form) as r:
                    page = await r.text()
                    assert r.status == 200, page[:500]
                async with http.get(f"{env.base}/t/anamizu/quotas") as r:
                    quotas_page = await r.text()
                    assert r.status == 200, quotas_page[:500]
    assert 'class="error quota-flag" data-channel="line"' in page
    assert "LINE monthly messages: 3 messages needed, 2 left" in page
    assert '<tr data-channel="line">' in quotas_page and "2 / 1,000 messages" in quotas_page
