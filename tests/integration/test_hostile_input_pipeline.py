"""The running pipeline against duplicate, out-of-order, future-dated and wrongly encoded input.

Each case either reaches residents correctly once or lands in quarantine with its reason; the
pipeline never stops, and nothing is broadcast that should not be (an original that arrives after
its own cancellation, a telegram from the future, bytes in the wrong encoding).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from broadcaster.model import RawEvent
from broadcaster.store import reports
from broadcaster.store import tables as t
from tests.helpers import ROOT, eventually, make_settings, manual, running_pipeline

SAMPLES = ROOT / "samples" / "jma"
TOWNS: dict[str, Any] = {
    "anamizu": {"name": "穴水町", "areas": {"jma": ["1746100"]}, "districts": [{"id": "kawashima", "name": "川島"}]},
    "wajima": {"name": "輪島市", "areas": {"jma": ["1720400"]}},
}


def _jma(name: str, body: bytes | None = None) -> RawEvent:
    return RawEvent(source="jma", body=body if body is not None else (SAMPLES / name).read_bytes(), submitted_by="feed:jma")


def _outbox(run: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for tenant in TOWNS:
        folder = run.settings.outbox_dir / tenant
        for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
            out += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return out


async def _settled(run: Any, n_alerts: int) -> list[reports.ChannelRow] | None:
    alerts = await reports.alerts(run.ledger, limit=500)
    rows = await reports.channel_table(run.ledger)
    if len(alerts) >= n_alerts and rows and all(r.waiting == 0 and r.failed == 0 for r in rows):
        return rows
    return None


async def test_a_telegram_received_three_times_reaches_each_audience_once(tmp_path: Path) -> None:
    async with running_pipeline(make_settings(tmp_path, tenants=TOWNS)) as run:
        body = (SAMPLES / "03_vxse53_shingen_shindo.xml").read_bytes()
        # The same bytes from the feed, from J-Alert's pass-through and once more after a retry.
        await run.submit(_jma("", body))
        await run.submit(_jma("", body))
        await run.submit(RawEvent(source="jalert", body=body, submitted_by="bridge:pref"))
        await eventually(lambda: _settled(run, 2), timeout=60)
        await asyncio.sleep(1.0)  # anything late would show now
        alerts = await reports.alerts(run.ledger, limit=50)
        assert sorted(a["tenant"] for a in alerts) == ["anamizu", "wajima"], "one alert per town"
        sent = Counter(r["idempotency_key"] for r in _outbox(run))
        assert sent and max(sent.values()) == 1, "no audience got it twice"


async def test_an_original_that_arrives_after_its_cancellation_is_never_broadcast(tmp_path: Path) -> None:
    # A 取消 names no area: arriving first, it reaches no town, and is kept as an orphan of its
    # event. The original then finds it, and is superseded on every channel instead of sent.
    async with running_pipeline(make_settings(tmp_path, tenants=TOWNS)) as run:
        cancel = _jma("05_vtse41_torikeshi.xml")
        await run.submit(cancel)
        await eventually(lambda: _raw_status(run, cancel.id, "unmatched"), timeout=60)
        await run.submit(_jma("02_vtse41_otsunami_keiho.xml"))
        await eventually(lambda: _settled(run, 4), timeout=60)
        assert await _raw_status(run, cancel.id, "accepted")
        await asyncio.sleep(1.0)
        alerts = await reports.alerts(run.ledger, limit=50)
        assert sorted((a["tenant"], a["msg_type"]) for a in alerts) == [
            ("anamizu", "Alert"), ("anamizu", "Cancel"), ("wajima", "Alert"), ("wajima", "Cancel"),
        ]
        originals = {a["identifier"] for a in alerts if a["msg_type"] == "Alert"}
        sent_alerts = {r["alert"] for r in _outbox(run)}
        assert not sent_alerts & originals, "a cancelled 大津波警報 went out"
        rows = [r for r in await reports.channel_table(run.ledger) if r.alert_id in originals]
        assert rows and all(r.accepted == 0 for r in rows)
        # Both end in a final state: the adopted 取消, which had nothing to follow, too.
        states = {(a["msg_type"], a["state"]) for a in await reports.alerts(run.ledger, limit=50)}
        assert states == {("Alert", "done"), ("Cancel", "done")}, states


async def test_a_correction_that_arrives_before_the_original_supersedes_it(tmp_path: Path) -> None:
    async with running_pipeline(make_settings(tmp_path, tenants=TOWNS)) as run:
        await run.submit(_jma("06_vtse41_teisei.xml"))
        await eventually(lambda: _settled(run, 2), timeout=60)
        await run.submit(_jma("02_vtse41_otsunami_keiho.xml"))
        await eventually(lambda: _settled(run, 4), timeout=60)
        await asyncio.sleep(1.0)
        alerts = await reports.alerts(run.ledger, limit=50)
        late = {a["identifier"] for a in alerts if a["msg_type"] == "Alert"}
        sent = [r for r in _outbox(run)]
        assert sent and all(r["msg_type"] == "Update" for r in sent), "only the correction went out"
        assert not {r["alert"] for r in sent} & late


async def test_future_dated_and_wrongly_encoded_input_is_quarantined_and_the_pipeline_goes_on(tmp_path: Path) -> None:
    good = (SAMPLES / "01_vxse51_shindo_sokuho.xml").read_bytes()
    text = good.decode("utf-8")
    future = text.replace("2024-01-01T", "2099-01-01T")
    async with running_pipeline(make_settings(tmp_path, tenants=TOWNS)) as run:
        bad = [
            _jma("", future.encode("utf-8")),  # from the future
            _jma("", text.encode("shift_jis")),  # Shift_JIS bytes under a UTF-8 declaration
            _jma("", text.encode("utf-16")),  # UTF-16 with a BOM
            _jma("", good.replace("震度速報".encode(), b"\xe9\x9c\x87\xff\xfe", 1)),  # broken UTF-8
            _jma("", good[: len(good) // 3]),  # cut off
            RawEvent(source="manual", body="{\"headline\": \"避難\"}".encode("cp932"), tenant="anamizu", submitted_by="officer:anamizu/tanaka"),
            RawEvent(source="manual", body=b'{"status": "Actual", "sent": "2099-12-31T00:00:00+09:00"}', tenant="anamizu", submitted_by="officer:anamizu/tanaka"),
        ]
        for raw in bad:
            await run.submit(raw)
        await run.submit(manual(headline="後から来た正しいお知らせ"))
        await eventually(lambda: _settled(run, 1), timeout=60)
        quarantined = await eventually(lambda: _quarantined(run, len(bad)), timeout=60)
        assert {q["raw_event_id"] for q in quarantined} == {r.id for r in bad}
        reasons = Counter(q["reason"] for q in quarantined)
        assert reasons["future_timestamp"] >= 1 and reasons["bad_encoding"] >= 2, reasons
        assert "parser_crashed" not in reasons
        alerts = await reports.alerts(run.ledger, limit=50)
        assert [a["headline"] for a in alerts] == ["後から来た正しいお知らせ"], "only the good one became an alert"
        assert {r["alert"] for r in _outbox(run)} == {alerts[0]["identifier"]}


async def _raw_status(run: Any, raw_id: str, status: str) -> bool:
    r = t.raw_events
    found = await run.ledger.db.read(lambda c: c.execute(sa.select(r.c.status).where(r.c.id == raw_id)).scalar())
    return bool(found == status)


async def _quarantined(run: Any, n: int) -> list[dict[str, Any]] | None:
    rows = await reports.quarantine(run.ledger)
    return rows if len(rows) >= n else None
