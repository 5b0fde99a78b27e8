"""The QZSS reader: a receiver's recorded output, a TCP socket, frames cut anywhere; each message
handed on once (also across a restart), damaged copies dropped, health recorded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.ingest.qzss import encode as e
from adapters.ingest.qzss.frames import FrameSplitter
from adapters.ingest.qzss.reader import MESSAGES, SIGNAL, QzssReader, parse_device
from broadcaster.errors import BroadcasterError
from broadcaster.model import RawEvent
from broadcaster.settings import FeedSourceSettings
from broadcaster.store import migrate
from broadcaster.store.feeds import FeedStore
from broadcaster.store.ledger import Ledger
from tests.qzss_support import QUAKE, noto_messages, receiver_log


class Sink:
    def __init__(self) -> None:
        self.raws: list[RawEvent] = []

    async def submit(self, raw: RawEvent) -> None:
        self.raws.append(raw)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        self.at += timedelta(seconds=1)
        return self.at


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Ledger]:
    led = Ledger.connect(f"sqlite+aiosqlite:///{tmp_path / 'ledger.sqlite3'}")
    await migrate.upgrade(led.db)
    try:
        yield led
    finally:
        await led.close()


def _reader(ledger: Ledger, device: str, sink: Sink, clock: Clock | None = None) -> QzssReader:
    config = FeedSourceSettings(enabled=True, device=device)
    return QzssReader(config, sink=sink, store=FeedStore(ledger.db, "qzss"), clock=clock or Clock(QUAKE))


@pytest.mark.parametrize("ubx", [False, True])
async def test_recorded_log_hands_each_message_on_once(ledger: Ledger, tmp_path: Path, ubx: bool) -> None:
    log = tmp_path / "receiver.log"
    log.write_bytes(receiver_log(noto_messages(), repeats=4, ubx=ubx))
    sink = Sink()
    reader = _reader(ledger, f"file:{log}", sink)
    await reader.start()
    await asyncio.wait_for(reader.finished.wait(), 10)
    await reader.stop()
    assert len(sink.raws) == 2
    assert {r.source for r in sink.raws} == {"qzss"}
    assert all(r.source_ref and r.source_ref.startswith("dcr:") for r in sink.raws)
    assert reader.health.repeats == 2 * 4 * 2 - 2
    store = FeedStore(ledger.db, "qzss")
    assert await store.last_success(SIGNAL) is not None
    assert await store.last_success(MESSAGES) is not None
    if not ubx:
        assert reader.health.cn0 == {"QZS1": 42, "QZS2": 39}

    # A restart reads the same log again: nothing is handed on twice.
    again = Sink()
    second = _reader(ledger, f"file:{log}", again)
    await second.start()
    await asyncio.wait_for(second.finished.wait(), 10)
    await second.stop()
    assert again.raws == []


async def test_damaged_copy_is_dropped_and_counted_and_the_next_copy_goes_on(ledger: Ledger, tmp_path: Path) -> None:
    msg = noto_messages()[0]
    good = e.nmea(msg)
    body, _, _ = good.partition("*")
    flipped = body[:30] + ("0" if body[30] != "0" else "1") + body[31:]
    checksum = 0
    for ch in flipped[1:]:
        checksum ^= ord(ch)
    log = tmp_path / "receiver.log"
    log.write_text(f"{flipped}*{checksum:02X}\r\n{good}\r\n")
    sink = Sink()
    reader = _reader(ledger, f"file:{log}", sink)
    await reader.read_file(log)
    assert reader.health.refused == 1 and "CRC" in (reader.health.last_refusal or "")
    assert len(sink.raws) == 1


async def test_dcx_heard_again_after_its_window_is_a_new_message(ledger: Ledger, tmp_path: Path) -> None:
    msg = e.Dcx(provider=e.A3_FDMA, hazard=8, instruction=128, prefectures=(16,)).message()
    log = tmp_path / "receiver.log"
    log.write_bytes(receiver_log([msg], repeats=3))
    sink = Sink()
    clock = Clock(QUAKE)
    reader = _reader(ledger, f"file:{log}", sink, clock)
    await reader.read_file(log)
    assert len(sink.raws) == 1
    clock.at += timedelta(hours=2)  # a launch the next morning, word for word the same message
    await reader.read_file(log)
    assert len(sink.raws) == 2 and sink.raws[0].source_ref != sink.raws[1].source_ref


async def test_dcx_null_messages_count_as_signal_but_are_not_handed_on(ledger: Ledger, tmp_path: Path) -> None:
    null = e.Dcx(provider=0, hazard=0, instruction=0).message()
    log = tmp_path / "receiver.log"
    log.write_bytes(receiver_log([null], repeats=2))
    sink = Sink()
    reader = _reader(ledger, f"file:{log}", sink)
    await reader.read_file(log)
    assert sink.raws == [] and reader.health.last_message is not None


async def test_tcp_receiver_is_read_and_reconnected(ledger: Ledger) -> None:
    messages = noto_messages()
    served = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal served
        served += 1
        # The first connection drops after one message; the reader must come back for the second.
        payload = receiver_log(messages[:1] if served == 1 else messages, repeats=1, noise=False)
        writer.write(payload)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sink = Sink()
    reader = _reader(ledger, f"tcp://127.0.0.1:{port}", sink)
    await reader.start()
    try:
        for _ in range(100):
            if len(sink.raws) >= 2:
                break
            await asyncio.sleep(0.05)
    finally:
        await reader.stop()
        server.close()
        await server.wait_closed()
    assert len(sink.raws) == 2 and served >= 2


def test_device_forms() -> None:
    assert parse_device("serial:/dev/ttyACM0?baud=115200") == ("serial", "/dev/ttyACM0", {"baud": "115200"})
    assert parse_device("tcp://127.0.0.1:2101") == ("tcp", "127.0.0.1:2101", {})
    assert parse_device("file:/var/log/qzss.log")[:2] == ("file", "/var/log/qzss.log")
    with pytest.raises(BroadcasterError, match="serial:"):
        parse_device("http://example.invalid/")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=40))
def test_frames_survive_any_chunking(cuts: list[int]) -> None:
    stream = receiver_log(noto_messages(), repeats=2, ubx=False) + receiver_log(noto_messages(), repeats=1, ubx=True)
    whole = [(f.kind, f.data) for f in FrameSplitter().feed(stream)]
    splitter = FrameSplitter()
    pieces: list[tuple[str, bytes]] = []
    pos, i = 0, 0
    while pos < len(stream):
        step = cuts[i % len(cuts)]
        pieces += [(f.kind, f.data) for f in splitter.feed(stream[pos : pos + step])]
        pos += step
        i += 1
    assert pieces == whole
    assert sum(1 for k, d in whole if k == "nmea" and d.startswith(b"$QZQSM")) == 8
    assert sum(1 for k, _ in whole if k == "ubx") == 4



async def test_the_receivers_own_clock_dates_a_replayed_recording(ledger: Ledger, tmp_path: Path) -> None:
    from adapters.ingest.qzss import QzssParser

    log = tmp_path / "receiver.log"
    log.write_bytes(receiver_log(noto_messages(), repeats=2, start=QUAKE + timedelta(minutes=13)))
    sink = Sink()
    # The host's clock says 2026; the recording's RMC sentences say 2024-01-01.
    reader = _reader(ledger, f"file:{log}", sink, Clock(datetime(2026, 12, 7, 15, 0, tzinfo=UTC)))
    await reader.read_file(log)
    assert [r.received.year for r in sink.raws] == [2024, 2024]
    # A DCR report carries month, day and time only: its year comes from the time of reception.
    alerts = [a for raw in sink.raws for a in QzssParser().parse(raw)]
    assert {a.sent.year for a in alerts} == {2024}
    assert min(a.sent for a in alerts) == QUAKE + timedelta(minutes=2)
