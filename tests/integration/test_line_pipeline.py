"""The pipeline with LINE live against the fake Messaging API: batches, retry keys, a lost answer."""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from broadcaster.store import reports
from tests.canaries import canary
from tests.fakes.deliveries import user_ids
from tests.fakes.line import FakeLine
from tests.helpers import TENANTS, eventually, make_settings, manual, running_pipeline

TOKEN = canary("line-token")


@pytest.fixture
async def fake() -> AsyncIterator[FakeLine]:
    async with FakeLine(token=TOKEN) as server:
        yield server


def line_settings(tmp_path: Path, fake: FakeLine) -> Any:
    tenants = copy.deepcopy(TENANTS)
    tenants["anamizu"]["channels"] = {
        "line": {"credentials": {"token": TOKEN}, "options": {"base_url": fake.url}, "timeout_s": 5}
    }
    return make_settings(tmp_path, tenants=tenants)


async def _line_final(run: Any) -> list[reports.ChannelRow]:
    rows = [r for r in await reports.channel_table(run.ledger) if r.channel == "line"]
    return rows if rows and all(r.waiting == 0 and r.failed == 0 for r in rows) else []


async def _add_followers(run: Any, ids: list[str], district: str = "kawashima") -> None:
    for uid in ids:
        await run.runtime.audiences.add("anamizu", districts=[district], endpoints={"line": uid})


async def test_a_district_of_1200_followers_is_three_multicasts(tmp_path: Path, fake: FakeLine) -> None:
    async with running_pipeline(line_settings(tmp_path, fake)) as run:
        await run.ledger.ensure_tenants([("anamizu", "穴水町")])
        followers = user_ids(1200)
        await _add_followers(run, followers)
        await run.submit(
            manual(kind="shelter", event="避難所開設", districts=["kawashima"], status="Exercise")
        )
        (row,) = await eventually(lambda: _line_final(run))

    assert (row.dispatches, row.accepted, row.recipients, row.mode) == (3, 3, 1200, "live")
    assert sorted(len(d.to) for d in fake.delivered) == [200, 500, 500]
    assert sorted(fake.recipients()) == sorted(followers), "everyone once, nobody twice"
    keys = {r.retry_key for r in fake.requests}
    assert len(keys) == 3 and all(uuid.UUID(k or "") for k in keys)
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in fake.requests)
    for d in fake.delivered:
        # The text first; the renderer may add a Flex bubble with the same text as its altText.
        first, *rest = d.messages
        assert first["type"] == "text" and first["text"].startswith("【訓練】")
        assert all(m["type"] == "flex" and m["altText"].startswith("【訓練】") for m in rest)


async def test_a_lost_answer_is_retried_by_the_pipeline_and_delivered_once(
    tmp_path: Path, fake: FakeLine
) -> None:
    async with running_pipeline(line_settings(tmp_path, fake)) as run:
        await run.ledger.ensure_tenants([("anamizu", "穴水町")])
        await _add_followers(run, user_ids(30))
        fake.lose_answer_next(502)
        await run.submit(
            manual(kind="shelter", event="避難所開設", districts=["kawashima"], status="Exercise")
        )
        (row,) = await eventually(lambda: _line_final(run))
        attempts = await reports.attempts(run.ledger)

    line_attempts = [a for a in attempts if a["channel"] == "line"]
    assert [a["status"] for a in line_attempts] == ["failed", "accepted"]
    assert [r.status for r in fake.requests] == [502, 409]
    assert len(fake.delivered) == 1
    assert row.recipients == 30


async def test_the_monthly_quota_is_dead_at_once_with_a_clear_reason(tmp_path: Path, fake: FakeLine) -> None:
    fake.monthly_limit = 10
    async with running_pipeline(line_settings(tmp_path, fake)) as run:
        await run.ledger.ensure_tenants([("anamizu", "穴水町")])
        await _add_followers(run, user_ids(20))
        await run.submit(
            manual(kind="shelter", event="避難所開設", districts=["kawashima"], status="Exercise")
        )

        async def dead() -> Any:
            rows = [r for r in await reports.channel_table(run.ledger) if r.channel == "line"]
            return rows if rows and rows[0].dead == 1 else None

        await eventually(dead)
        attempts = [a for a in await reports.attempts(run.ledger) if a["channel"] == "line"]

    (attempt,) = attempts
    assert attempt["status"] == "dead"
    assert "monthly message quota" in attempt["error"]
    assert fake.delivered == []


async def test_line_insight_is_read_back_into_the_ledger_per_alert(tmp_path: Path, fake: FakeLine) -> None:
    from click.testing import CliRunner

    from broadcaster import delivery_stats
    from broadcaster.cli import main

    async with running_pipeline(line_settings(tmp_path, fake)) as run:
        await run.ledger.ensure_tenants([("anamizu", "穴水町")])
        await _add_followers(run, user_ids(30))
        await run.submit(manual(kind="shelter", event="避難所開設", districts=["kawashima"], status="Exercise"))
        (_row,) = await eventually(lambda: _line_final(run))
        (sent,) = fake.delivered
        (unit,) = sent.body["customAggregationUnits"]
        fake.open(unit, 21)
        alert_id = (await reports.channel_table(run.ledger))[0].alert_id
        rows = await delivery_stats.fetch(run.settings, run.ledger, "anamizu", alert_id)
        kept = await delivery_stats.read(run.ledger, "anamizu", alert_id)
    by_kind = {(r["channel"], r["kind"]): r for r in kept}
    assert by_kind[("line", "accepted")]["delivered"] == 30, "the receipts' accepted count"
    assert by_kind[("line", "unit")]["ref"] == unit and by_kind[("line", "unit")]["opened"] == 21
    assert len(rows) == len(kept)
    # The CLI runs its own event loop: off this one.
    shown = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["stats", "show", "--tenant", "anamizu", "--alert", alert_id],
        env={"BROADCASTER_DB_URL": run.settings.db_url},
    )
    assert shown.exit_code == 0, shown.output
    assert "unit" in shown.output and "21" in shown.output
