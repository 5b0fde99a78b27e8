"""The compose form never loses what the officer typed, and every time shown carries its zone."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from broadcaster.web.console.compose import preview_alert
from tests.web_helpers import WebEnv, client, web_env


@pytest.fixture
async def env(tmp_path: Path) -> Any:
    async with web_env(tmp_path) as e:
        yield e


def _value(page: str, name: str) -> str:
    match = re.search(rf'<input id="{name}" name="{name}" value="([^"]*)"', page)
    assert match, name
    return match.group(1)


async def test_putting_the_template_in_asks_before_replacing_typed_text(env: WebEnv) -> None:
    async with client() as s:
        csrf = await env.login(s, "tanaka")
        url = f"{env.base}/t/anamizu/compose/preview"
        form = {
            "csrf": csrf,
            "preset": "evacuation_order",
            "districts": "kawashima",
            "headline": "手で書いた見出し",
            "description": "手で書いた本文",
            # What a browser sends when Enter in the headline presses the first button.
            "refill": "1",
        }
        async with s.post(url, data=form) as r:
            page = await r.text()
        assert _value(page, "headline") == "手で書いた見出し", "typed text stays"
        assert "手で書いた本文" in page
        assert "置き換えますか" in page
        async with s.post(url, data={**form, "refill": "replace"}) as r:
            page = await r.text()
        assert _value(page, "headline") == "【警戒レベル４】川島地区に避難指示を発令しました"
        assert "元に戻す" in page
        previous = dict(re.findall(r'name="(previous_\w+|filled)" value="([^"]*)"', page))
        undo = {
            **{k: v for k, v in form.items() if k not in ("refill", "headline", "description")},
            **previous,
            "headline": _value(page, "headline"),
            "undo": "1",
        }
        async with s.post(url, data=undo) as r:
            page = await r.text()
        assert _value(page, "headline") == "手で書いた見出し"
        assert "手で書いた本文" in page


async def test_the_template_fills_untouched_text_without_asking(env: WebEnv) -> None:
    async with client() as s:
        csrf = await env.login(s, "tanaka")
        async with s.get(f"{env.base}/t/anamizu/compose?preset=evacuation_order") as r:
            page = await r.text()
        filled = re.search(r'name="filled" value="([^"]*)"', page)
        assert filled and filled.group(1)
        form = {
            "csrf": csrf,
            "preset": "evacuation_order",
            "districts": "kawashima",
            "filled": filled.group(1),
            "headline": _value(page, "headline"),
            "description": re.search(r'id="description"[^>]*>([^<]*)<', page).group(1),  # type: ignore[union-attr]
            "instruction": re.search(r'id="instruction"[^>]*>([^<]*)<', page).group(1),  # type: ignore[union-attr]
            "refill": "1",
        }
        async with s.post(f"{env.base}/t/anamizu/compose/preview", data=form) as r:
            page = await r.text()
        assert "置き換えますか" not in page
        assert "川島地区" in _value(page, "headline")


async def test_times_on_the_dashboard_are_japan_time_with_the_zone(env: WebEnv) -> None:
    doc = {
        "tenant": "anamizu",
        "status": "Actual",
        "kind": "notice",
        "event": "お知らせ",
        "headline": "地震の後の見回り",
        "sent": "2026-01-01T07:11:00+00:00",
    }
    alert = preview_alert(doc, env.settings.tenants["anamizu"], "officer:anamizu/tanaka")
    assert alert.sent == datetime(2026, 1, 1, 7, 11, tzinfo=UTC)
    await env.ledger.record_alert(alert, state="done")
    async with client() as s:
        await env.login(s, "tanaka")
        async with s.get(f"{env.base}/t/anamizu/") as r:
            page = await r.text()
        assert "01/01 16:11 JST" in page
        assert "07:11" not in page
        assert "完了" in page, "states in the console's language, not 'done'"
        async with s.get(f"{env.base}/t/anamizu/alerts/{alert.identifier}") as r:
            page = await r.text()
        assert "2026-01-01 16:11 JST" in page


async def _original(env: WebEnv, **extra: Any) -> str:
    doc = {
        "tenant": "anamizu",
        "status": "Exercise",
        "kind": "evacuation",
        "event": "避難指示",
        "level": 4,
        "headline": "【警戒レベル４】川島地区に避難指示を発令しました",
        "description": "川島地区に避難指示を発令しました。",
        "instruction": "避難所：穴水中学校体育館",
        "districts": [{"id": "kawashima", "name": "川島"}],
        "parameters": {"shelters": "穴水中学校体育館"},
        "template": "evacuation_order",
        **extra,
    }
    alert = preview_alert(doc, env.settings.tenants["anamizu"], "officer:anamizu/tanaka")
    await env.ledger.record_alert(alert, state="done", submitted_by="officer:anamizu/tanaka")
    return alert.identifier


async def test_a_correction_starts_from_the_original_and_shows_what_changed(env: WebEnv) -> None:
    ref = await _original(env)
    async with client() as s:
        csrf = await env.login(s, "tanaka")
        async with s.get(f"{env.base}/t/anamizu/compose?msg_type=Update&ref={ref}") as r:
            page = await r.text()
        assert _value(page, "headline") == "【警戒レベル４】川島地区に避難指示を発令しました"
        assert re.search(r'value="kawashima" checked', page)
        assert re.search(r'value="Exercise" required checked', page)
        assert re.search(r'<option value="evacuation_order" selected', page)
        assert _value(page, "shelters") == "穴水中学校体育館"
        assert "川島地区に避難指示を発令しました。</textarea>" in page
        assert 'class="badge update">更新' in page
        form = {
            "csrf": csrf,
            "preset": "evacuation_order",
            "status": "Exercise",
            "districts": "kawashima",
            "shelters": "穴水中学校体育館",
            "msg_type": "Update",
            "references": ref,
            "headline": "【警戒レベル４】川島地区の避難指示：避難所を変更しました",
            "description": "川島地区に避難指示を発令しました。",
            "instruction": "避難所：穴水町役場",
        }
        async with s.post(f"{env.base}/t/anamizu/compose/preview", data=form) as r:
            page = await r.text()
            assert r.status == 200, page
    changed = re.findall(r'<tr data-field="(\w+)">', page)
    assert changed == ["headline", "instruction"]
    assert "<mark>避難所：穴水町役場</mark>" in page


async def test_no_correction_of_a_cancelled_alert(env: WebEnv) -> None:
    ref = await _original(env)
    await _original(env, msgType="Cancel", references=[ref], headline="取消：x")
    async with client() as s:
        await env.login(s, "tanaka")
        async with s.get(f"{env.base}/t/anamizu/compose?msg_type=Update&ref={ref}") as r:
            assert r.status == 409
            assert "すでに取り消されています" in await r.text()


def _hidden(page: str, name: str) -> str:
    import html

    match = re.search(
        rf'<form method="post" action="[^"]*/compose/send".*?name="{name}" value="([^"]*)"', page, re.S
    )
    assert match, name
    return html.unescape(match.group(1))


async def test_sending_needs_the_warnings_confirmed_and_a_preview_goes_out_once(env: WebEnv) -> None:
    async with client() as s:
        csrf = await env.login(s, "tanaka")
        form = {
            "csrf": csrf,
            "preset": "evacuation_order",
            "status": "Exercise",
            "districts": "kawashima",
            "headline": "【警戒レベル４】川島地区に避難指示",
            "description": "避難所：（避難所名）",
        }
        async with s.post(f"{env.base}/t/anamizu/compose/preview", data=form) as r:
            page = await r.text()
        assert 'data-warning="placeholder"' in page
        sent = {
            "csrf": csrf,
            "doc": _hidden(page, "doc"),
            "signature": _hidden(page, "signature"),
            "raw_id": _hidden(page, "raw_id"),
        }
        url = f"{env.base}/t/anamizu/compose/send"
        async with s.post(url, data=sent, allow_redirects=False) as r:
            assert r.status == 400, "warnings not confirmed"
        async with s.post(url, data={**sent, "confirm_warnings": "yes"}, allow_redirects=False) as r:
            assert r.status == 303
            assert r.headers["Location"].endswith(f"/alerts/m-anamizu-{sent['raw_id'][:24]}")
        async with s.post(url, data={**sent, "confirm_warnings": "yes"}, allow_redirects=False) as r:
            assert r.status == 409
            assert "すでに送信されています" in await r.text()
        # The id is part of what was signed: another one is refused.
        other = {**sent, "raw_id": "0" * 32, "confirm_warnings": "yes"}
        async with s.post(url, data=other, allow_redirects=False) as r:
            assert r.status == 409
            assert "プレビューと違います" in await r.text()


async def test_an_officer_writes_an_english_translation_and_the_preview_says_who_wrote_what(env: WebEnv) -> None:
    async with client() as s:
        csrf = await env.login(s, "tanaka")
        form = {
            "csrf": csrf,
            "preset": "evacuation_order",
            "status": "Exercise",
            "districts": "kawashima",
            "headline": "【警戒レベル４】川島地区に避難指示を発令しました",
            "description": "川島地区に避難指示を発令しました。",
            "tr_en_headline": "Evacuation order for Kawashima: go to Anamizu Junior High now",
            "tr_en_description": "Leave now for the shelter at Anamizu Junior High School.",
        }
        async with s.post(f"{env.base}/t/anamizu/compose/preview", data=form) as r:
            page = await r.text()
            assert r.status == 200, page
    doc = json.loads(_hidden(page, "doc"))
    assert doc["translations"] == {
        "en": {
            "headline": "Evacuation order for Kawashima: go to Anamizu Junior High now",
            "description": "Leave now for the shelter at Anamizu Junior High School.",
        }
    }
    en = re.search(r'data-channel="line" data-lang="en">(.*?)</article>', page, re.S)
    vi = re.search(r'data-channel="line" data-lang="vi">(.*?)</article>', page, re.S)
    assert en and vi
    assert "Anamizu Junior High" in en.group(1)
    assert "職員が書いた翻訳" in en.group(1)
    assert "定型文による自動翻訳" in vi.group(1)
