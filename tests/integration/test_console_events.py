"""The console's live updates (server-sent events): aware times, and cancellation kept."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from broadcaster.model import Alert, now
from tests.web_helpers import WebEnv, client, web_env


@pytest.fixture
async def env(tmp_path: Path) -> Any:
    async with web_env(tmp_path) as e:
        yield e


def _alert() -> Alert:
    return Alert.model_validate(
        {
            "identifier": "m-anamizu-events-1",
            "sender": "anamizu@broadcaster",
            "sent": now().replace(microsecond=0).isoformat(),
            "status": "Exercise",
            "msgType": "Alert",
            "eventKey": "ev-events",
            "origin": "manual",
            "tenant": "anamizu",
            "info": [
                {
                    "category": ["Other"],
                    "event": "お知らせ",
                    "urgency": "Expected",
                    "severity": "Minor",
                    "certainty": "Observed",
                    "eventCode": [{"valueName": "broadcaster:kind", "value": "notice"}],
                    "headline": "訓練のお知らせ",
                }
            ],
        }
    )


def _handler_tasks() -> list[asyncio.Task[Any]]:
    """The server's tasks that run one request each (aiohttp's RequestHandler._handle_request)."""
    return [
        t
        for t in asyncio.all_tasks()
        if getattr(t.get_coro(), "__qualname__", "") == "RequestHandler._handle_request" and not t.done()
    ]


async def test_a_change_is_sent_with_an_aware_time_in_the_towns_zone(env: WebEnv) -> None:
    async with client() as s:
        await env.login(s, "viewer")
        async with s.get(f"{env.base}/t/anamizu/events") as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/event-stream")
            assert await r.content.readline() == b"retry: 3000\n"
            await env.ledger.record_alert(_alert(), submitted_by="officer:anamizu/tanaka")
            data = None
            async with asyncio.timeout(15):
                while data is None:
                    line = (await r.content.readline()).decode()
                    if line.startswith("data: "):
                        data = json.loads(line[len("data: ") :])
    at = datetime.fromisoformat(data["at"])
    assert at.tzinfo is not None, "a naive time is read differently by every machine"
    assert at.utcoffset() == timedelta(hours=9)


async def test_a_cancelled_stream_stays_cancelled(env: WebEnv) -> None:
    async with client() as s:
        await env.login(s, "viewer")
        async with s.get(f"{env.base}/t/anamizu/events") as r:
            assert await r.content.readline() == b"retry: 3000\n"
            (task,) = _handler_tasks()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(task), timeout=10)
            assert task.cancelled(), "the handler swallowed its cancellation"
