"""The spine end to end, on both buses (SQLite ledger): input → every channel → ledger."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

import pytest

from broadcaster.channels import Delivery, SendResult
from broadcaster.errors import PermanentError
from broadcaster.model import RawEvent
from broadcaster.store import reports
from tests.helpers import eventually, make_settings, manual, running_pipeline


@pytest.fixture(params=["embedded", pytest.param("kafka", marks=pytest.mark.kafka)])
def bus_kind(request: pytest.FixtureRequest) -> str | None:
    """None for the embedded bus, else the bootstrap address of the test broker."""
    if request.param == "kafka":
        return str(request.getfixturevalue("kafka").bootstrap)
    return None

EVERY_WEB_CHANNEL = {"website", "app_push", "line", "x", "mastodon", "bluesky", "email", "webhook", "lalert_out"}


async def _final(run: Any, alert_prefix: str = "") -> list[reports.ChannelRow]:
    rows = await reports.channel_table(run.ledger)
    rows = [r for r in rows if r.alert_id.startswith(alert_prefix)]
    return rows if rows and all(r.waiting == 0 and r.failed == 0 for r in rows) else []


async def test_manual_alert_reaches_every_channel_with_a_receipt(tmp_path: Path, bus_kind: str | None) -> None:
    settings = make_settings(tmp_path, kafka=bus_kind)
    async with running_pipeline(settings) as run:
        await run.ledger.ensure_tenants([("anamizu", "穴水町")])
        await run.runtime.audiences.add(
            "anamizu", name="区長 山田", kind="leader", districts=["kawashima"], endpoints={"circular": "leader-1"}
        )
        for n in range(3):
            await run.runtime.audiences.add(
                "anamizu",
                districts=["kawashima"],
                endpoints={"email": f"r{n}@example.jp", "app_push": f"sub-{n}", "line": f"U{n:032x}"},
            )
        raw = manual(
            kind="shelter",
            event="避難所開設",
            headline="川島地区に避難所を開設しました",
            districts=["kawashima"],
            status="Exercise",
        )
        await run.submit(raw)
        rows = await eventually(lambda: _final(run))
        by_channel = {r.channel: r for r in rows}
        assert set(by_channel) == EVERY_WEB_CHANNEL | {"circular"}
        assert all(r.accepted == r.dispatches for r in rows)
        assert by_channel["email"].recipients == 3
        assert by_channel["circular"].recipients == 1
        assert all(r.mode == "outbox" for r in rows), "no credentials: every channel says outbox"
        # Each dispatch is in its channel's outbox exactly once, labelled as a drill.
        for channel in by_channel:
            records = run.outbox("anamizu", channel)
            assert len(records) == by_channel[channel].dispatches
            for rec in records:
                assert rec["status"] == "Exercise"
                for text in rec["texts"]:
                    assert text["body"].startswith("【訓練】"), text["body"][:40]
        # The ledger agrees with the outbox: one accepted attempt per dispatch, latencies set.
        states = await reports.dispatch_states(run.ledger)
        assert states == {"accepted": sum(r.dispatches for r in rows)}
        attempts = await reports.attempts(run.ledger)
        assert len(attempts) == sum(r.dispatches for r in rows)
        assert all(a["status"] == "accepted" and a["hops"]["received"] for a in attempts)
        assert all(r.latency_p50_ms is not None and r.latency_p50_ms >= 0 for r in rows)
        await eventually(lambda: _alert_state(run, "done"))


async def _alert_state(run: Any, state: str) -> bool:
    return all(a["state"] == state for a in await reports.alerts(run.ledger))


async def test_alert_of_a_shared_source_reaches_only_the_tenants_it_covers(tmp_path: Path, bus_kind: str | None) -> None:
    settings = make_settings(tmp_path, kafka=bus_kind)
    async with running_pipeline(settings, parsers=[TestCodeParser()]) as run:
        await run.submit(RawEvent(source="test", body=b"1720400", submitted_by="feed:test"))
        rows = await eventually(lambda: _final(run))
        assert {r.tenant for r in rows} == {"wajima"}
        await run.submit(RawEvent(source="test", body=b"170020", submitted_by="feed:test"))
        await eventually(lambda: _tenants_with_alerts(run, {"wajima", "anamizu"}))
        await run.submit(RawEvent(source="test", body=b"0110000", submitted_by="feed:test"))
        await asyncio.sleep(0.5)
        assert len(await reports.alerts(run.ledger)) == 3, "a telegram for nobody here makes no alert"


async def _tenants_with_alerts(run: Any, want: set[str]) -> bool:
    return {a["tenant"] for a in await reports.alerts(run.ledger)} == want


class TestCodeParser:
    """A stand-in source whose body is just an area code (the JMA parser has its own tests)."""

    name: ClassVar[str] = "test"

    def accepts(self, raw: RawEvent) -> bool:
        return raw.source == "test"

    def parse(self, raw: RawEvent) -> list[Any]:
        from broadcaster.model import KIND, Alert, Area, Info, NamedValue

        code = raw.body.decode()
        if code == "CRASH":
            raise RuntimeError("parser bug")
        return [
            Alert(
                identifier=f"test-{raw.id}",
                sender="test",
                sent=raw.received,
                status="Actual",
                msg_type="Alert",
                event_key=f"test|{code}",
                origin="test",
                info=(
                    Info(
                        category=("Met",),
                        event="大雨警報",
                        urgency="Expected",
                        severity="Severe",
                        certainty="Likely",
                        event_code=(NamedValue(value_name=KIND, value="weather_warning"),),
                        headline="大雨警報が発表されました",
                        area=(
                            Area(area_desc="x", geocode=(NamedValue(value_name="test/region" if len(code) == 6 else "test/city", value=code),)),
                        ),
                    ),
                ),
            )
        ]


async def test_bad_input_is_quarantined_and_the_pipeline_goes_on(tmp_path: Path, bus_kind: str | None) -> None:
    settings = make_settings(tmp_path, kafka=bus_kind)
    async with running_pipeline(settings, parsers=[TestCodeParser()]) as run:
        await run.submit(RawEvent(source="nobody-knows", body=b"\x00\xffgarbage", submitted_by="feed:x"))
        await run.submit(RawEvent(source="test", body=b"CRASH", submitted_by="feed:test"))
        await run.submit(RawEvent(source="manual", body=b"{not json", tenant="anamizu", submitted_by="officer:anamizu/x"))
        await run.submit(manual(status="Actual", msgType="Cancel", references=["m-anamizu-doesnotexist"]))
        await run.submit(manual(headline="これは届く"))
        rows = await eventually(lambda: _final(run))
        assert rows, "the good alert after the bad ones still goes out"
        quarantined = await eventually(lambda: _quarantine_reasons(run, 4))
        # Different sources travel on different partitions: no order between them is promised.
        assert sorted(quarantined) == ["malformed_json", "no_parser", "parser_crashed", "unknown_reference"]


async def _quarantine_reasons(run: Any, n: int) -> list[str] | None:
    rows = await reports.quarantine(run.ledger)
    return [r["reason"] for r in reversed(rows)] if len(rows) >= n else None


class HangingAdapter:
    name: ClassVar[str] = "hang"
    addressing: ClassVar[str] = "broadcast"
    max_text_length: ClassVar[int | None] = None
    max_recipients_per_request: ClassVar[int | None] = None
    required_credentials: ClassVar[tuple[str, ...]] = ()
    release = asyncio.Event()

    @classmethod
    def from_settings(cls, channel: str, settings: Any, env: Any) -> HangingAdapter:
        return cls()

    async def send(self, delivery: Delivery) -> SendResult:
        await asyncio.sleep(3600)
        return SendResult()

    async def close(self) -> None:
        pass


class RefusingAdapter(HangingAdapter):
    async def send(self, delivery: Delivery) -> SendResult:
        raise PermanentError("400 invalid recipient")


async def test_a_hanging_channel_does_not_delay_the_others(tmp_path: Path, bus_kind: str | None) -> None:
    off = {"enabled": False}
    settings = make_settings(
        tmp_path,
        kafka=bus_kind,
        channels={
            "x": {"timeout_s": 1.0, "max_attempts": 2},
            **{c: off for c in ("app_push", "email", "circular", "lalert_out", "mastodon", "bluesky")},
        },
    )
    async with running_pipeline(settings, adapters={"x": HangingAdapter, "webhook": RefusingAdapter}) as run:
        await run.submit(manual(kind="evacuation", event="避難指示", headline="避難指示", level=4, status="Exercise"))

        async def others_done() -> list[Any]:
            rows = await reports.channel_table(run.ledger)
            fine = [r for r in rows if r.channel in ("website", "line") and r.accepted == r.dispatches]
            return fine if len(fine) == 2 else []

        rows = await eventually(others_done, timeout=10)
        assert all((r.latency_max_ms or 0) < 1000 for r in rows), "the others did not wait for the hung one"
        table = {r.channel: r for r in await eventually(lambda: _settled(run, {"x", "webhook"}), timeout=20)}
        assert table["webhook"].dead == 1, "a permanent error is dead at once"
        assert table["x"].dead == 1, "the hung one gave up after its attempts"
        x_attempts = [a for a in await reports.attempts(run.ledger) if a["channel"] == "x"]
        assert [a["status"] for a in x_attempts] == ["failed", "dead"]
        assert "no answer within 1 s" in (x_attempts[0]["error"] or "")


async def _settled(run: Any, channels: set[str]) -> list[Any]:
    rows = [r for r in await reports.channel_table(run.ledger) if r.channel in channels]
    return rows if len(rows) == len(channels) and all(r.waiting == 0 and r.failed == 0 for r in rows) else []
