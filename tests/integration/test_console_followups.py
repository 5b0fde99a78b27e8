"""What an officer may do after sending: cancel once, withdraw or reject a held alert.

The server decides, whatever an old page or a double click sends: a second cancel of the same
alert is refused with a message that says what happened, and a held alert can be stopped before
anything of it goes out.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from broadcaster.store import followups
from broadcaster.store import tables as t
from broadcaster.web.console.compose import preview_alert
from tests.web_helpers import WebEnv, client, web_env


@pytest.fixture
async def env(tmp_path: Path) -> Any:
    async with web_env(tmp_path) as e:
        yield e


def _doc(headline: str = "【警戒レベル４】川島地区に避難指示を発令しました", **extra: Any) -> dict[str, Any]:
    return {
        "tenant": "anamizu",
        "status": "Actual",
        "msgType": "Alert",
        "kind": "evacuation",
        "event": "避難指示",
        "headline": headline,
        "level": 4,
        "districts": [{"id": "kawashima", "name": "川島"}],
        **extra,
    }


async def _recorded(
    env: WebEnv, *, state: str = "routed", author: str = "officer:anamizu/tanaka", **doc: Any
) -> str:
    tenant = env.settings.tenants["anamizu"]
    alert = preview_alert(_doc(**doc), tenant, author)
    await env.ledger.record_alert(alert, state=state, submitted_by=author)
    return alert.identifier


async def _cancel_bodies(env: WebEnv) -> list[dict[str, Any]]:
    rows = await env.ledger.db.read(
        lambda c: list(c.execute(sa.select(t.raw_events.c.body).where(t.raw_events.c.source == "manual")))
    )
    docs = [json.loads(r.body) for r in rows]
    return [d for d in docs if d.get("msgType") == "Cancel"]


async def test_cancel_asks_first_naming_the_alert_its_area_and_media(env: WebEnv) -> None:
    alert_id = await _recorded(env)
    async with client() as s:
        csrf = await env.login(s, "tanaka")
        url = f"{env.base}/t/anamizu/alerts/{alert_id}/cancel"
        async with s.post(url, data={"csrf": csrf, "reason": "mistake"}, allow_redirects=False) as r:
            assert r.status == 200
            page = await r.text()
        assert "取消の確認" in page
        assert "川島地区に避難指示を発令しました" in page
        assert re.search(r'class="areas">川島<', page)
        assert await _cancel_bodies(env) == [], "asking is not sending"


async def test_a_second_cancel_is_refused_and_sends_nothing(env: WebEnv) -> None:
    alert_id = await _recorded(env)
    async with client() as s:
        csrf = await env.login(s, "tanaka")
        url = f"{env.base}/t/anamizu/alerts/{alert_id}/cancel"
        form = {"csrf": csrf, "reason": "mistake", "confirm": alert_id}
        async with s.post(url, data=form, allow_redirects=False) as r:
            assert r.status == 303
        async with s.post(url, data=form, allow_redirects=False) as r:
            assert r.status == 409
            page = await r.text()
        assert "すでに取り消されています" in page
        assert "もう一度は送信しませんでした" in page
    cancels = await _cancel_bodies(env)
    assert len(cancels) == 1
    # The 取消 names the original's area and has one prefix.
    assert cancels[0]["headline"] == "取消：【警戒レベル４】川島地区に避難指示を発令しました"
    assert cancels[0]["districts"] == [{"id": "kawashima", "name": "川島"}]
    assert cancels[0]["references"] == [alert_id]


async def test_cancels_racing_each_other_make_one(env: WebEnv) -> None:
    alert_id = await _recorded(env)
    async with client() as s:
        csrf = await env.login(s, "tanaka")
        url = f"{env.base}/t/anamizu/alerts/{alert_id}/cancel"
        form = {"csrf": csrf, "reason": "mistake", "confirm": alert_id}

        async def one() -> int:
            async with s.post(url, data=form, allow_redirects=False) as r:
                return r.status

        statuses = await asyncio.gather(*(one() for _ in range(6)))
    assert sorted(statuses) == [303] + [409] * 5
    assert len(await _cancel_bodies(env)) == 1


async def test_a_cancelled_or_corrected_alert_offers_no_cancel(env: WebEnv) -> None:
    original = await _recorded(env)
    cancel = await _recorded(env, headline="取消：x", msgType="Cancel", references=[original], eventKey=None)
    standing = await followups.standing(env.ledger.db, "anamizu", original)
    assert standing is not None and standing.cancelled_by is not None
    assert standing.cancelled_by.identifier == cancel
    async with client() as s:
        csrf = await env.login(s, "tanaka")
        async with s.get(f"{env.base}/t/anamizu/alerts/{original}") as r:
            page = await r.text()
        assert "この配信を取り消す" not in page
        assert "この配信は取り消されました" in page
        async with s.get(f"{env.base}/t/anamizu/alerts/{cancel}") as r:
            page = await r.text()
        assert "この配信を取り消す" not in page, "a cancel is not cancelled"
        assert "<h1>取消：x</h1>" in page, "one 取消 in the heading, never 取消：取消："
        async with s.post(
            f"{env.base}/t/anamizu/alerts/{cancel}/cancel",
            data={"csrf": csrf, "reason": "mistake", "confirm": cancel},
            allow_redirects=False,
        ) as r:
            assert r.status == 409
            assert "取消の配信です" in await r.text()


async def test_the_author_withdraws_a_held_alert(env: WebEnv) -> None:
    alert_id = await _recorded(env, state="held")
    async with client() as s:
        csrf = await env.login(s, "tanaka")
        async with s.get(f"{env.base}/t/anamizu/alerts/{alert_id}") as r:
            page = await r.text()
        assert "取り下げる" in page
        assert "この配信を取り消す" not in page, "nothing went out: there is nothing to cancel"
        async with s.post(
            f"{env.base}/t/anamizu/alerts/{alert_id}/withdraw", data={"csrf": csrf}, allow_redirects=False
        ) as r:
            assert r.status == 303
    assert await env.ledger.alert_state("anamizu", alert_id) == "withdrawn"
    async with client() as s:
        csrf = await env.login(s, "sato")
        async with s.post(
            f"{env.base}/t/anamizu/alerts/{alert_id}/approve", data={"csrf": csrf}, allow_redirects=False
        ) as r:
            assert r.status == 409, "a withdrawn alert cannot be approved afterwards"
            assert "not waiting for approval" in await r.text()


async def test_only_the_author_withdraws(env: WebEnv) -> None:
    alert_id = await _recorded(env, state="held", author="officer:anamizu/admin")
    async with client() as s:
        csrf = await env.login(s, "tanaka")
        async with s.post(
            f"{env.base}/t/anamizu/alerts/{alert_id}/withdraw", data={"csrf": csrf}, allow_redirects=False
        ) as r:
            assert r.status == 409
    assert await env.ledger.alert_state("anamizu", alert_id) == "held"


async def test_an_approver_rejects_with_a_reason_the_author_reads(env: WebEnv) -> None:
    alert_id = await _recorded(env, state="held")
    async with client() as s:
        csrf = await env.login(s, "sato")
        url = f"{env.base}/t/anamizu/alerts/{alert_id}/reject"
        async with s.post(url, data={"csrf": csrf, "reason": "  "}, allow_redirects=False) as r:
            assert r.status == 409, "a rejection says why"
        assert await env.ledger.alert_state("anamizu", alert_id) == "held"
        async with s.post(
            url, data={"csrf": csrf, "reason": "避難所名が空欄です"}, allow_redirects=False
        ) as r:
            assert r.status == 303
    assert await env.ledger.alert_state("anamizu", alert_id) == "rejected"
    async with client() as s:
        await env.login(s, "tanaka")
        async with s.get(f"{env.base}/t/anamizu/alerts/{alert_id}") as r:
            page = await r.text()
    assert "差し戻し済み" in page
    assert "避難所名が空欄です" in page
    assert "この配信を取り消す" not in page


async def test_a_rejected_cancel_leaves_the_alert_cancellable(env: WebEnv) -> None:
    original = await _recorded(env)
    # A cancel the two-person rule held, which an approver then rejected: it cancelled nothing.
    await _recorded(env, state="rejected", headline="取消：x", msgType="Cancel", references=[original])
    standing = await followups.standing(env.ledger.db, "anamizu", original)
    assert standing is not None and standing.open and standing.cancel_attempt == 1
    async with client() as s:
        csrf = await env.login(s, "tanaka")
        url = f"{env.base}/t/anamizu/alerts/{original}/cancel"
        form = {"csrf": csrf, "reason": "mistake", "confirm": original}
        async with s.post(url, data=form, allow_redirects=False) as r:
            assert r.status == 303
        async with s.post(url, data=form, allow_redirects=False) as r:
            assert r.status == 409


async def test_a_held_cancel_blocks_a_second_one(env: WebEnv) -> None:
    original = await _recorded(env)
    await _recorded(env, state="held", headline="取消：x", msgType="Cancel", references=[original])
    async with client() as s:
        csrf = await env.login(s, "tanaka")
        async with s.get(f"{env.base}/t/anamizu/alerts/{original}") as r:
            page = await r.text()
        assert "取消が承認待ちです" in page
        assert "この配信を取り消す" not in page
        url = f"{env.base}/t/anamizu/alerts/{original}/cancel"
        async with s.post(
            url, data={"csrf": csrf, "reason": "mistake", "confirm": original}, allow_redirects=False
        ) as r:
            assert r.status == 409
            assert "承認待ち" in await r.text()


async def test_an_unknown_alert_id_is_not_found_rather_than_processing_forever(env: WebEnv) -> None:
    async with client() as s:
        await env.login(s, "viewer")
        async with s.get(f"{env.base}/t/anamizu/alerts/m-anamizu-{'0' * 24}") as r:
            assert r.status == 404
            assert "見つかりません" in await r.text()


async def test_the_audit_page_names_the_alert_and_shows_this_towns_failed_logins(env: WebEnv) -> None:
    alert_id = await _recorded(env, state="held")
    async with client() as s:
        for user in ("tanaka", "wajima_op"):
            data = {"username": user, "password": "not the password at all", "code": "000000"}
            async with s.post(f"{env.base}/login", data=data, allow_redirects=False) as r:
                assert r.status == 401
    async with client() as s:
        csrf = await env.login(s, "tanaka")
        async with s.post(
            f"{env.base}/t/anamizu/alerts/{alert_id}/withdraw", data={"csrf": csrf}, allow_redirects=False
        ) as r:
            assert r.status == 303
    async with client() as s:
        await env.login(s, "admin")
        async with s.get(f"{env.base}/t/anamizu/audit") as r:
            page = await r.text()
            assert r.status == 200, page
    withdraw = re.search(r'<tr data-action="withdraw">(.*?)</tr>', page, re.S)
    assert withdraw and "川島地区に避難指示を発令しました" in withdraw.group(1) and "取り下げ" in withdraw.group(1)
    assert "login:tanaka" in page and "ログイン失敗" in page
    assert "login:wajima_op" not in page, "another town's officer is not in this town's log"
