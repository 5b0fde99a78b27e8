"""The console's 緊急速報メール page: what an officer sees to paste, who may confirm, and the record
of the confirmation; the Jアラート受信機 page."""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa

from broadcaster.channels import HandOff
from broadcaster.model import JST, Dispatch, Explanation, now
from broadcaster.signing import sign
from broadcaster.store import handoffs
from broadcaster.store import tables as t
from tests.canaries import canary
from tests.web_helpers import WebEnv, client, web_env

SECRET = canary("jalert-console-key")


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[WebEnv]:
    async with web_env(tmp_path, hooks={"jalert": {"keys": {"anamizu-rx": {"secret": SECRET, "tenant": "anamizu"}}}}) as e:
        yield e


def _dispatch(tenant: str, channel: str, seed: str) -> Dispatch:
    at = datetime(2025, 7, 1, 2, 45, tzinfo=JST)
    return Dispatch(
        tenant=tenant, alert_id=f"m-{tenant}-{seed}", event_key=f"m|{seed}", channel=channel, audience="public",
        batch=0, batch_count=1, template="auto", explanation=Explanation(rule="t"), created=at, deadline=at,
    )  # fmt: skip


async def seed(env: WebEnv, tenant: str = "anamizu") -> list[str]:
    keys = []
    for carrier in ("docomo", "kddi"):
        d = _dispatch(tenant, f"area_mail_{carrier}", "a1")
        await handoffs.record(
            env.ledger.db,
            d,
            "Actual",
            HandOff(
                target=f"{carrier} 緊急速報メール", where=f"{carrier}の配信サイト", area="穴水町（174611）",
                title="穴水町：避難指示", body="穴水町です。\n避難指示：川島\n危険な場所から全員避難してください。",
                notes=("normalised: 半角カナ・機種依存文字を置き換えました",),
            ),
        )  # fmt: skip
        keys.append(d.key)
    return keys


async def test_an_operator_sees_each_carriers_text_and_confirms_it_was_sent(env: WebEnv) -> None:
    keys = await seed(env)
    async with client() as s:
        csrf = await env.login(s, "tanaka")
        async with s.get(f"{env.base}/t/anamizu/area-mail") as r:
            page = html.unescape(await r.text())
        assert r.status == 200
        assert page.count('class="primary confirm-sent"') == 2
        assert 'value="穴水町：避難指示"' in page
        assert "穴水町です。\n避難指示：川島\n危険な場所から全員避難してください。" in page
        assert "半角カナ・機種依存文字を置き換えました" in page
        async with s.post(
            f"{env.base}/t/anamizu/area-mail/{keys[0]}/confirm", data={"csrf": csrf}, allow_redirects=False
        ) as r:
            assert r.status == 303
        async with s.get(f"{env.base}/t/anamizu/area-mail") as r:
            page = await r.text()
        assert page.count('class="primary confirm-sent"') == 1
        assert "tanaka" in page.split('class="handoff-done"')[1]
    rows = {r.key: r for r in await handoffs.listed(env.ledger.db, "anamizu")}
    assert rows[keys[0]].confirmed_by is not None and "tanaka" in rows[keys[0]].confirmed_by
    assert not rows[keys[1]].confirmed
    audit = await env.ledger.db.read(
        lambda c: c.execute(sa.select(t.audit_log).where(t.audit_log.c.action == "area_mail_sent_by_hand")).mappings().all()
    )
    assert [(a["tenant"], a["target"], a["detail"]["channel"]) for a in audit] == [("anamizu", "m-anamizu-a1", "area_mail_docomo")]


async def test_a_viewer_sees_the_texts_but_cannot_confirm_and_another_town_cannot_touch_them(env: WebEnv) -> None:
    keys = await seed(env)
    async with client() as s:
        csrf = await env.login(s, "viewer")
        async with s.get(f"{env.base}/t/anamizu/area-mail") as r:
            page = await r.text()
        assert r.status == 200 and "confirm-sent" not in page and "穴水町：避難指示" in page
        async with s.post(f"{env.base}/t/anamizu/area-mail/{keys[0]}/confirm", data={"csrf": csrf}, allow_redirects=False) as r:
            assert r.status == 403
    async with client() as s:
        csrf = await env.login(s, "wajima_op")
        async with s.get(f"{env.base}/t/anamizu/area-mail") as r:
            assert r.status == 403
        async with s.post(f"{env.base}/t/wajima/area-mail/{keys[0]}/confirm", data={"csrf": csrf}, allow_redirects=False) as r:
            assert r.status == 404, "wajima has no such hand-off"
    assert not any(r.confirmed for r in await handoffs.listed(env.ledger.db, "anamizu"))


async def test_the_dashboard_says_when_area_mail_waits(env: WebEnv) -> None:
    async with client() as s:
        await env.login(s, "viewer")
        async with s.get(f"{env.base}/t/anamizu/") as r:
            assert "handoff-banner" not in await r.text()
        await seed(env)
        async with s.get(f"{env.base}/t/anamizu/") as r:
            page = await r.text()
        assert re.search(r'handoff-banner">.*送信待ち: 2', page, re.DOTALL)


async def _report(env: WebEnv, heard: datetime | None) -> None:
    body = json.dumps(
        {"format": "jalert-health/1", "at": now().isoformat(), "receivers": [
            {"name": "rx1", "last_heard": heard.isoformat() if heard else None, "last_via": "mail", "heard": 3,
             "quarantined": 1, "expect_within_h": 2400.0}]}
    ).encode()
    headers = sign(SECRET.encode(), "anamizu-rx", "POST", "/ingest/jalert/health", body, timestamp=int(time.time()))
    async with aiohttp.ClientSession() as s, s.post(f"{env.base}/ingest/jalert/health", data=body, headers=headers) as r:
        assert r.status == 204


async def test_the_receivers_page_shows_when_each_was_last_heard_and_which_is_silent(env: WebEnv) -> None:
    async with client() as s:
        await env.login(s, "viewer")
        async with s.get(f"{env.base}/t/anamizu/jalert") as r:
            assert "まだありません" in await r.text()
        await _report(env, now() - timedelta(hours=2))
        async with s.get(f"{env.base}/t/anamizu/jalert") as r:
            page = await r.text()
        assert "rx1" in page and "正常" in page and "(メール)" in page and "receiver-silent" not in page
        async with s.get(f"{env.base}/t/anamizu/") as r:
            assert "receivers-banner" not in await r.text()
        await _report(env, now() - timedelta(days=120))
        async with s.get(f"{env.base}/t/anamizu/jalert") as r:
            page = await r.text()
        assert 'class="receiver-silent">長期間無信号' in page
        async with s.get(f"{env.base}/t/anamizu/") as r:
            assert re.search(r'receivers-banner">.*長期間無信号: 1', await r.text(), re.DOTALL)
