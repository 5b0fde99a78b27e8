"""The e-circular end to end, with LINE and e-mail live against their fakes (Scenario 3).

An officer's 避難指示 for 川島 and 大町 is approved; the circular channel records the circular and
each leader's delivery, and sends each leader their own link on LINE (and e-mail). 山田 opens it,
taps 確認しました twice and answers the safety check (18 safe, 2 need help, 1 unreachable); the
dashboard and the API add it up. 鈴木 does nothing: the chain (run with a clock the test moves)
reminds her, calls 大町's deputy, then tells the duty officers with her phone number.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from broadcaster.circulars import report, routine
from broadcaster.circulars import store as cs
from broadcaster.circulars.chain import Chain
from broadcaster.pipeline.approval import approve
from broadcaster.store import reports, routing
from broadcaster.web.app import WebServer, build_app
from broadcaster.web.context import WebContext
from tests.circular_helpers import (
    ITO_LINE,
    LINE_TOKEN,
    SATO_LINE,
    SUZUKI_LINE,
    YAMADA_LINE,
    add_people,
    circular_settings,
    links_in,
    path_of,
)
from tests.fakes.clock import ManualClock
from tests.fakes.line import FakeLine
from tests.fakes.smtp import FakeSMTP
from tests.helpers import add_officer, eventually, manual, running_pipeline
from tests.web_helpers import free_port

BROWSER = {"Sec-Fetch-Dest": "document", "User-Agent": "Mozilla/5.0 (Linux; Android 10) Mobile"}


@pytest.fixture
async def line() -> AsyncIterator[FakeLine]:
    async with FakeLine(token=LINE_TOKEN) as server:
        yield server


@pytest.fixture
async def smtp() -> AsyncIterator[FakeSMTP]:
    async with FakeSMTP() as server:
        yield server


def _texts_to(line: FakeLine, user: str) -> list[str]:
    """The circular's messages to one LINE user (leaders also get the alert itself, as residents)."""
    texts = [m["text"] for d in line.delivered if user in d.to for m in d.messages if m.get("type") == "text"]
    return [t for t in texts if "/c/" in t]


async def test_evacuation_circular_reaches_leaders_and_the_chain_escalates(
    tmp_path: Path, line: FakeLine, smtp: FakeSMTP
) -> None:
    port = free_port()
    settings = circular_settings(tmp_path, line_url=line.url, smtp_port=smtp.port, port=port)
    async with running_pipeline(settings) as run:
        await add_people(run.runtime.audiences)
        ctx = WebContext.build(run.runtime)
        server = WebServer(build_app(ctx), "127.0.0.1", port)
        await server.start()
        try:
            await _scenario(run, line, smtp, f"http://127.0.0.1:{port}")
        finally:
            await server.stop()


async def _scenario(run: Any, line: FakeLine, smtp: FakeSMTP, base: str) -> None:
    raw = manual(
        kind="evacuation",
        level=4,
        event="避難指示",
        headline="川島地区・大町地区に避難指示",
        description="小又川が氾濫するおそれがあります。",
        districts=["kawashima", "omachi"],
        urgency="Immediate",
        severity="Severe",
    )
    await run.submit(raw)
    alert_id = f"m-anamizu-{raw.id[:24]}"
    await eventually(lambda: _held(run, alert_id))
    assert line.delivered == [], "held for a second officer: nothing goes out, circulars neither"
    await add_officer(run.ledger, "sato")
    await approve(run.bus, run.ledger, "anamizu", alert_id, "officer:anamizu/sato")

    # Each leader gets their own link on LINE (a push to one user id), 山田 also by e-mail.
    await eventually(lambda: _texts_to(line, YAMADA_LINE) and _texts_to(line, SUZUKI_LINE) and _mails_to(smtp, "yamada@example.jp"))
    (yamada_text,) = _texts_to(line, YAMADA_LINE)
    assert yamada_text.startswith("【穴水町】回覧：川島地区・大町地区に避難指示")
    assert "確認しました" in yamada_text and "安否確認" in yamada_text
    (yamada_link,) = links_in(yamada_text)
    (suzuki_link,) = links_in(_texts_to(line, SUZUKI_LINE)[0])
    assert yamada_link != suzuki_link, "a personal link each"
    pushes = [r for r in line.requests if "/c/" in str(r.body)]
    assert pushes and all(r.path == "/v2/bot/message/push" for r in pushes), "one person: a push"
    assert all(r.retry_key for r in pushes), "every push carries an idempotency (retry) key"
    (mail,) = _mails_to(smtp, "yamada@example.jp")
    assert links_in(mail.text()) == [yamada_link]
    assert _texts_to(line, SATO_LINE) == [], "the deputy only hears if the leader does not answer"

    # The circular channel's dispatches are final in the ledger, like any channel's.
    rows = await eventually(lambda: _circular_rows(run))
    assert sum(r.accepted for r in rows) == 2, "leaders of 川島 and 大町 (大町's deputies wait, scheduled)"
    assert {r.mode for r in rows} == {"live"}

    svc = run.runtime.circulars
    (c,) = await cs.circulars_of(run.ledger.db, "anamizu")
    assert (c.origin, c.kind, c.form, c.alert_id) == ("emergency", "evacuation", "safety", alert_id)
    people = {d.name: d for d in await cs.deliveries(run.ledger.db, c.id)}
    assert set(people) == {"山田太郎", "鈴木花子"}

    async with aiohttp.ClientSession() as s:
        # A link-preview fetcher's visit is no read receipt; the leader's own opening is.
        async with s.get(base + path_of(yamada_link), headers={"User-Agent": "facebookexternalhit/1.1;line-poker/1.0"}) as r:
            assert r.status == 200
        assert (await cs.delivery(run.ledger.db, people["山田太郎"].id)).opened_at is None  # type: ignore[union-attr]
        async with s.get(base + path_of(yamada_link), headers=BROWSER) as r:
            assert r.status == 200
            page = await r.text()
        assert "川島地区・大町地区に避難指示" in page and "確認しました" in page
        assert (await cs.delivery(run.ledger.db, people["山田太郎"].id)).opened_at is not None  # type: ignore[union-attr]
        # A double tap is one confirmation.
        for _ in range(2):
            async with s.post(base + path_of(yamada_link) + "/confirm", allow_redirects=False) as r:
                assert r.status == 303
        form = {"nonce": "n" * 24, "safe": "18", "need_help": "２", "unreachable": "1", "note": "山側の2世帯は消防団が向かっています"}
        for _ in range(2):  # the same form sent twice (a double tap on 送る) is one answer
            async with s.post(base + path_of(yamada_link) + "/answer", data=form, allow_redirects=False) as r:
                assert r.status == 303
        async with s.get(base + path_of(yamada_link), headers=BROWSER) as r:
            page = await r.text()
        assert "確認済み" in page and "無事を確認した世帯 18" in page

    events = await cs.events(run.ledger.db, c.id)
    mine = [e["action"] for e in events if e["delivery_id"] == people["山田太郎"].id]
    assert mine.count("confirmed") == 1 and mine.count("answered") == 1 and mine.count("opened") == 1
    # 山田's confirmation called off the rules' escalation for 川島; 大町's still waits.
    scheduled = {r["scope"]: r["state"] for r in await routing.scheduled_of(run.ledger.db, "anamizu", alert_id)}
    assert scheduled == {"kawashima": "recorded", "omachi": "scheduled"}

    summary = await report.summary(run.ledger.db, run.settings, c)
    kawashima = next(r for r in summary.districts if r.district == "kawashima")
    assert (kawashima.confirmed, kawashima.answered, kawashima.sums) == (1, 1, {"safe": 18, "need_help": 2, "unreachable": 1})
    _, coverage = await report.coverage(run.ledger.db, run.settings, "anamizu")
    share = {r.district: r.share for r in coverage}
    assert share["kawashima"] == pytest.approx(20 / 420)
    assert share["omachi"] == 0

    # 鈴木 does nothing. The chain runs with a clock the test moves: no waiting for minutes.
    clock = ManualClock()
    chain = Chain(replace(svc, clock=clock))
    clock.advance(minutes=4)
    await chain.run("anamizu", c.id)
    assert len(_texts_to(line, SUZUKI_LINE)) == 1, "not yet"
    clock.advance(minutes=2)
    await chain.run("anamizu", c.id)
    reminders = _texts_to(line, SUZUKI_LINE)
    assert len(reminders) == 2 and reminders[1].startswith("【穴水町】回覧（再送）")
    (again,) = links_in(reminders[1])
    assert _delivery_of(again) == _delivery_of(suzuki_link), "her own circular again (a fresh expiry)"
    assert len(_texts_to(line, YAMADA_LINE)) == 1, "山田 confirmed: no reminder"
    clock.advance(minutes=10)  # 16 minutes: the rules' 15 minutes for 大町's deputies
    await chain.run("anamizu", c.id)
    (to_sato,) = _texts_to(line, SATO_LINE)
    assert _texts_to(line, ITO_LINE) == [], "川島's leader confirmed: its deputy is not bothered"
    assert "大町の区長からまだ確認がありません" in to_sato
    (sato_link,) = links_in(to_sato)
    assert _delivery_of(sato_link) != _delivery_of(suzuki_link), "the deputy has a link of his own"
    clock.advance(minutes=15)  # 31 minutes: the duty officers, with her phone number
    await chain.run("anamizu", c.id)
    alerts = [a for a in await reports.alerts(run.ledger, tenant="anamizu") if a["identifier"].startswith("sys-circ-")]
    assert len(alerts) == 1
    officers_mail = await eventually(lambda: [a for a in smtp.arrived if "duty@town.example.jp" in a.rcpt_tos])
    text = officers_mail[0].text()
    assert "鈴木花子" in text and "0768520002" in text and "山田" not in text
    clock.advance(minutes=30)
    await chain.run("anamizu", c.id)
    assert len([a for a in await reports.alerts(run.ledger, tenant="anamizu") if a["identifier"].startswith("sys-circ-")]) == 1
    assert len(_texts_to(line, SUZUKI_LINE)) == 2, "each step once"


def _delivery_of(link: str) -> str:
    return path_of(link).split("/")[2].split(".")[0]


def _mails_to(smtp: FakeSMTP, address: str) -> list[Any]:
    return [a for a in smtp.arrived if address in a.rcpt_tos and "/c/" in a.text()]


async def _held(run: Any, alert_id: str) -> bool:
    return await run.ledger.alert_state("anamizu", alert_id) == "held"


async def _circular_rows(run: Any) -> list[reports.ChannelRow]:
    rows = [r for r in await reports.channel_table(run.ledger) if r.channel == "circular"]
    return rows if rows and all(r.waiting == 0 and r.failed == 0 for r in rows) else []


async def test_the_pipelines_scheduler_stage_releases_and_reminds(tmp_path: Path, line: FakeLine) -> None:
    """The real scheduler (lease, persisted job store, handler by kind), with timings of seconds."""
    timing = {"routine": {"remind_after_min": 0.03}}
    settings = circular_settings(tmp_path, line_url=line.url, circulars={"link_key": "k" * 40, "timing": timing})
    async with running_pipeline(settings) as run:
        await add_people(run.runtime.audiences)
        svc = run.runtime.circulars
        await eventually(lambda: svc.scheduler.active)
        spec = routine.RoutineSpec(title="ごみ収集日の変更", body="12月30日の収集はありません。", districts=("omachi",))
        cid = await routine.create(svc, "anamizu", spec, [], "officer:anamizu/tanaka")
        first = await eventually(lambda: _texts_to(line, SUZUKI_LINE))
        assert first[0].startswith("【穴水町】回覧：ごみ収集日の変更")
        again = await eventually(lambda: _texts_to(line, SUZUKI_LINE)[1:], timeout=30)
        assert again[0].startswith("【穴水町】回覧（再送）")
        (d,) = await cs.deliveries(run.ledger.db, cid)
        assert d.reminded_at is not None
        assert _texts_to(line, YAMADA_LINE) == [], "川島 was not among the districts"
