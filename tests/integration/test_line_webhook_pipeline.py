"""Scenario 4 end to end: she follows on LINE, picks her district and Vietnamese through the
webhook, and the next alert for her district reaches her in Vietnamese with the Japanese below."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from broadcaster.store import reports
from broadcaster.web.app import WebServer, build_app
from broadcaster.web.context import WebContext
from broadcaster.web.line_hook import LineWebhook
from tests.fakes.line import FakeLine
from tests.helpers import eventually, make_settings, manual, running_pipeline
from tests.integration.test_line_webhook import HER, HIM, SECRET, TOKEN, line_tenants
from tests.web_helpers import free_port


@pytest.fixture
async def fake() -> AsyncIterator[FakeLine]:
    async with FakeLine(token=TOKEN) as server:
        yield server


async def _line_final(run: Any) -> list[reports.ChannelRow]:
    rows = [r for r in await reports.channel_table(run.ledger) if r.channel == "line"]
    return rows if rows and all(r.waiting == 0 and r.failed == 0 for r in rows) else []


async def test_her_district_alert_reaches_her_in_vietnamese_with_the_japanese_below(tmp_path: Path, fake: FakeLine) -> None:
    port = free_port()
    settings = make_settings(
        tmp_path, tenants=line_tenants(fake), web={"port": port, "public_url": f"http://127.0.0.1:{port}"}
    )
    hook = f"http://127.0.0.1:{port}/hooks/line/anamizu"
    fake.profiles[HER] = {"language": "vi"}
    async with running_pipeline(settings) as run, aiohttp.ClientSession() as s:
        app = build_app(WebContext.build(run.runtime))
        server = WebServer(app, "127.0.0.1", port)
        await server.start()
        try:

            async def post(*events: dict[str, Any]) -> None:
                body = fake.body(*events)
                async with s.post(hook, data=body, headers={"X-Line-Signature": fake.sign(SECRET, body)}) as r:
                    assert r.status == 200, await r.text()
                await LineWebhook.of(app).drained()

            await post(fake.follow(HER), fake.follow(HIM))
            await post(fake.postback(HER, "ln1:d:kawashima"), fake.postback(HIM, "ln1:d:omachi"))
            assert len(fake.replies) == 4
            await run.submit(manual(kind="shelter", event="避難所開設", districts=["kawashima"], status="Exercise"))
            rows = await eventually(lambda: _line_final(run))
        finally:
            await server.stop()

    assert sum(r.recipients for r in rows) == 1
    (sent,) = [d for d in fake.delivered if HER in d.to]
    assert HIM not in fake.recipients(), "her neighbour in 大町 is not told of 川島's shelter"
    texts = [m["text"] for m in sent.messages if m["type"] == "text"]
    assert texts[0].startswith("【訓練】[DIỄN TẬP]"), "Vietnamese first, labelled a drill (also in her language)"
    assert "Đã mở nơi sơ tán" in texts[0], "the fixed phrase 避難所開設 in Vietnamese"
    japanese = [x for x in texts[1:] if "避難所" in x]
    assert japanese and japanese[0].startswith("【訓練】【穴水町】"), "then the town's Japanese original"
