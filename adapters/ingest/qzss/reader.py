"""The QZSS reader: a receiver's output (serial device, TCP socket or a recorded file) in, one raw
event per new 災危通報 message out, and the receiver's health on the way.

Each message is broadcast again and again (every few seconds, from each satellite in view, for as
long as it is in force), so the reader hands each on once: a DCR report is new while its bits are
new (they include the report time); a DCX message, which has no time, is new when it was not heard
in the last `DCX_REPEAT_WINDOW`. The ids handed on are kept in the ledger's feed state, so a
restart hands nothing on twice. A copy that fails its CRC (a bit flipped on the way from space) is
counted and dropped: the next copy seconds later is whole.

Health, for `broadcaster status`, metrics and the console (docs/qzss.md): "signal" is refreshed
by any L1S frame or QZSS satellite in a GSV sentence, "messages" by any 災危通報 message (DCX null
messages included). The stale-feed alarm watches "signal": a silent receiver is a fault.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from adapters.ingest.jma_feed.protocols import FeedStateStore, RawSink
from adapters.ingest.qzss import vocabulary as v
from adapters.ingest.qzss.frames import Frame, FrameSplitter
from adapters.ingest.qzss.parser import decode
from broadcaster.errors import BroadcasterError, ParseError
from broadcaster.logging import get_logger
from broadcaster.model import RawEvent, now
from broadcaster.settings import FeedSourceSettings

log = get_logger(__name__)

SIGNAL = "signal"
MESSAGES = "messages"
DCX_REPEAT_WINDOW = timedelta(minutes=30)
# Health is written at most this often: a receiver prints several frames a second.
HEALTH_EVERY = timedelta(seconds=10)
_QZSS_GSV_PRNS = range(193, 203)  # QZSS in $GPGSV (NMEA before 4.10); $GQGSV numbers them 1-10


@dataclass
class Health:
    """What the reader knows of its receiver right now (process-local; the ledger keeps the times)."""

    last_frame: datetime | None = None
    last_signal: datetime | None = None
    last_message: datetime | None = None
    handed_on: int = 0
    repeats: int = 0
    refused: int = 0
    last_refusal: str | None = None
    cn0: dict[str, int] = field(default_factory=dict)  # satellite -> C/N0 in dB-Hz


def parse_device(device: str) -> tuple[str, str, dict[str, str]]:
    """("serial", "/dev/ttyACM0", {"baud": "9600"}), ("tcp", "host:port", {}), ("file", path, {})."""
    parts = urlsplit(device)
    query = {k: vals[-1] for k, vals in parse_qs(parts.query).items()}
    if parts.scheme == "tcp" and parts.hostname and parts.port:
        return "tcp", f"{parts.hostname}:{parts.port}", query
    if parts.scheme in ("serial", "file") and (parts.path or parts.netloc):
        return parts.scheme, parts.netloc + parts.path, query
    raise BroadcasterError(
        f"qzss device {device!r}: use serial:/dev/ttyACM0?baud=9600, tcp://host:port or file:/path/to/log"
    )


def _gsv_cn0(frame: Frame) -> dict[str, int]:
    """C/N0 of the QZSS satellites a GSV sentence lists."""
    talker = frame.nmea_type
    if not talker.endswith("GSV"):
        return {}
    fields = frame.data.split(b"*", 1)[0].decode("ascii", "replace").split(",")
    out: dict[str, int] = {}
    for i in range(4, len(fields) - 3, 4):
        prn, cn0 = fields[i], fields[i + 3]
        if not prn.isdigit() or not cn0.isdigit():
            continue
        n = int(prn)
        if talker.startswith("GQ") or n in _QZSS_GSV_PRNS:
            out[f"QZS{n if talker.startswith('GQ') else n - 192}"] = int(cn0)
    return out


def _gnss_time(frame: Frame) -> datetime | None:
    """The receiver's UTC from a valid RMC (time, status A, date) or ZDA sentence; None otherwise."""
    talker = frame.nmea_type
    fields = frame.data.split(b"*", 1)[0].decode("ascii", "replace").split(",")
    try:
        if talker.endswith("RMC") and len(fields) > 9 and fields[2] == "A" and len(fields[9]) == 6:
            hms, dmy = fields[1], fields[9]
            return datetime(2000 + int(dmy[4:6]), int(dmy[2:4]), int(dmy[0:2]),
                            int(hms[0:2]), int(hms[2:4]), int(hms[4:6]), tzinfo=UTC)
        if talker.endswith("ZDA") and len(fields) > 4 and fields[1] and fields[4]:
            hms = fields[1]
            return datetime(int(fields[4]), int(fields[3]), int(fields[2]),
                            int(hms[0:2]), int(hms[2:4]), int(hms[4:6]), tzinfo=UTC)
    except ValueError:
        return None
    return None


def _ubx_l1s(frame: Frame) -> bool:
    # RXM-SFRBX (0x02 0x13) from QZSS (gnssId 5) on L1S (sigId 1).
    return frame.ubx_id == (0x02, 0x13) and len(frame.data) > 8 and frame.data[6] == 5 and frame.data[8] == 1


def _ubx_dc(frame: Frame) -> bool:
    # The message type sits in bits 8-13 of the first word, which the receiver writes little-endian.
    if not _ubx_l1s(frame) or len(frame.data) < 14 + 4:
        return False
    first_word = frame.data[14:18][::-1]
    return first_word[1] >> 2 in (43, 44)


class QzssReader:
    """Entry point ``qzss`` of ``broadcaster.feeds``: run as stage ``ingest:qzss``."""

    source = v.ORIGIN
    label = "みちびき（QZSS）災危通報"
    default_feeds = (SIGNAL,)
    # Shown in status and metrics, never stale: a message comes only when there is one.
    info_feeds = (MESSAGES,)
    # Needs no internet: while the internet sources are stale and this one is alive, the console
    # says that the town is on its backup (broadcaster/pipeline/feeds.py, backup_only).
    internet = False

    def __init__(
        self,
        config: FeedSourceSettings,
        *,
        sink: RawSink,
        store: FeedStateStore,
        clock: Callable[[], datetime] = now,
    ) -> None:
        device = getattr(config, "device", None)
        if not device:
            raise BroadcasterError("ingest qzss needs device = serial:/dev/…, tcp://host:port or file:/path")
        self.kind, self.where, self.options = parse_device(device)
        self.feeds: tuple[str, ...] = tuple(config.feeds or (SIGNAL,))
        self.tenant = config.tenant
        self.sink = sink
        self.store = store
        self.clock = clock
        self.health = Health()
        self._seen: dict[str, datetime] = {}
        self._written: dict[str, datetime] = {}
        self._task: asyncio.Task[None] | None = None
        self._gnss_offset: timedelta | None = None
        self.finished = asyncio.Event()  # a file was read to its end

    # -- the frames --------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The time of reception: the receiver's own GNSS clock when it prints one (RMC/ZDA), which
        is exact even when the host's is not and is the recording's own time in a replay; else
        the host's clock. A DCR report's year is inferred from it."""
        host = self.clock()
        return host + self._gnss_offset if self._gnss_offset is not None else host

    async def handle(self, frame: Frame) -> None:
        if frame.kind == "nmea":
            gnss = _gnss_time(frame)
            if gnss is not None:
                self._gnss_offset = gnss - self.clock()
        at = self.now()
        self.health.last_frame = at
        message: bytes | None = None
        if frame.kind == "nmea":
            cn0 = _gsv_cn0(frame)
            if cn0:
                self.health.cn0.update(cn0)
                await self._signal(at)
            if frame.nmea_type == "QZQSM":
                message = frame.data
        elif _ubx_l1s(frame):
            await self._signal(at)
            if _ubx_dc(frame):
                message = frame.data
        if message is not None:
            await self._signal(at)
            await self._message(message, frame.kind, at)

    async def _signal(self, at: datetime) -> None:
        self.health.last_signal = at
        await self._health(SIGNAL, at)

    async def _health(self, feed: str, at: datetime) -> None:
        last = self._written.get(feed)
        if last is None or at - last >= HEALTH_EVERY:
            self._written[feed] = at
            await self.store.record_success(feed, at)

    async def _message(self, body: bytes, kind: str, at: datetime) -> None:
        self.health.last_message = at
        await self._health(MESSAGES, at)
        try:
            report = decode(body)
        except ParseError as e:
            self.health.refused += 1
            self.health.last_refusal = e.detail
            log.info("qzss_frame_refused", reason=e.reason, detail=(e.detail or "")[:200])
            return
        if report.message_type == "DCX" and type(report).__name__ not in ("JAlert", "LAlert", "MTInfo"):
            return  # null messages and messages for outside Japan: health only
        entry = await self._entry(report, at)
        if entry is None:
            self.health.repeats += 1
            return
        raw = RawEvent(
            source=v.ORIGIN,
            received=at,
            content_type=v.NMEA if kind == "nmea" else v.UBX,
            body=body,
            tenant=self.tenant,
            submitted_by=f"source:{v.ORIGIN}",
            source_ref=entry,
        )
        await self.sink.submit(raw)
        await self.store.mark_seen(SIGNAL, entry, at=at, raw_event_id=raw.id)
        self._seen[entry] = at
        self.health.handed_on += 1
        log.info("qzss_message_handed_on", entry=entry[:40], raw=raw.id, type=report.message_type)

    async def _entry(self, report: Any, at: datetime) -> str | None:
        """The entry id to hand this message on under, or None when it was handed on already."""
        bits = bytes(report.raw).hex()
        if report.message_type == "DCR":
            candidates = [f"dcr:{bits}"]
        else:
            # Windows of DCX_REPEAT_WINDOW: heard in this one or the last, it is the same message.
            width = DCX_REPEAT_WINDOW.total_seconds()
            bucket = int(at.timestamp() // width)
            candidates = [f"dcx:{bits}@{b}" for b in (bucket, bucket - 1)]
        if any(c in self._seen for c in candidates):
            # Still being broadcast: keep the current window marked so the chain goes on.
            if candidates[0] not in self._seen:
                self._seen[candidates[0]] = at
                await self.store.mark_seen(SIGNAL, candidates[0], at=at)
            return None
        if await self.store.seen(candidates):
            for c in candidates:
                self._seen[c] = at
            await self.store.mark_seen(SIGNAL, candidates[0], at=at)
            return None
        return candidates[0]

    # -- the device --------------------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"qzss-reader-{self.kind}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        backoff = 1.0
        while True:
            try:
                if self.kind == "file":
                    await self.read_file(Path(self.where))
                    self.finished.set()
                    return
                if self.kind == "tcp":
                    await self._read_tcp()
                else:
                    await self._read_serial()
                backoff = 1.0
                log.warning("qzss_receiver_closed", device=self.kind)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a receiver unplugged, a socket reset: open it again
                log.warning("qzss_receiver_failed", device=self.kind, error=str(e)[:200])
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

    async def read_stream(self, read: Callable[[], Any]) -> None:
        splitter = FrameSplitter()
        while True:
            chunk = await read()
            if not chunk:
                return
            for frame in splitter.feed(chunk):
                await self.handle(frame)

    async def read_file(self, path: Path) -> None:
        with path.open("rb") as f:

            async def read() -> bytes:
                return f.read(4096)

            await self.read_stream(read)

    async def _read_tcp(self) -> None:
        host, _, port = self.where.rpartition(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            await self.read_stream(lambda: reader.read(4096))
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _read_serial(self) -> None:
        import serial  # pyserial, which the decoder package brings

        port = serial.Serial(self.where, int(self.options.get("baud", "9600")), timeout=1.0)
        try:

            async def read() -> bytes:
                # A serial read blocks; it runs off the event loop. An empty read is a timeout,
                # not the end: a receiver may be quiet for a moment.
                while True:
                    data: bytes = await asyncio.to_thread(port.read, 4096)
                    if data:
                        return data

            await self.read_stream(read)
        finally:
            port.close()
