"""Receiver health: when each receiver last said anything, and the report that tells the broadcaster.

A J-Alert receiver speaks rarely: the national tests come a few times a year, real messages when
they come. A receiver (or its mail settings, or its contact wiring) that has gone quiet is a fault
nobody notices until the day it matters. The bridge therefore records, per receiver, when it was
last heard by any way in (mail, contact, the output folder), when last by a test, and how many
mails were quarantined, in a small file in the spool folder; and it reports this, signed, every
`health_interval_s` to the broadcaster (POST <endpoint>/health), which shows it in `broadcaster
status`, the metrics and the console (docs/jalert.md, *Receiver health*).

The report is a status, not a message: it is not spooled, the next one replaces it, and only the
HTTP status comes back over the one-way link.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from broadcaster.logging import get_logger
from broadcaster.signing import sign

log = get_logger(__name__)

HEALTH_FORMAT = "jalert-health/1"


@dataclass
class ReceiverState:
    name: str
    last_heard: str | None = None  # ISO 8601
    last_via: str | None = None  # mail, contact, file
    last_test: str | None = None
    heard: int = 0
    quarantined: int = 0
    refused: int = 0  # mails from its network by an address not configured
    expect_within_h: float = 2400.0


class HealthLog:
    """Per receiver, what was last heard; kept on disk so a restart does not forget it."""

    def __init__(self, path: Path, receivers: Mapping[str, float]) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.receivers: dict[str, ReceiverState] = {
            name: ReceiverState(name, expect_within_h=hours) for name, hours in receivers.items()
        }
        with contextlib.suppress(OSError, ValueError, TypeError):
            for name, saved in json.loads(path.read_text(encoding="utf-8")).items():
                if name in self.receivers and isinstance(saved, dict):
                    state = self.receivers[name]
                    for field in ("last_heard", "last_via", "last_test"):
                        if isinstance(saved.get(field), str):
                            setattr(state, field, saved[field])
                    for field in ("heard", "quarantined", "refused"):
                        if isinstance(saved.get(field), int):
                            setattr(state, field, saved[field])
        self.mail_refused = 0

    def heard(self, receiver: str, via: str, *, test: bool = False, quarantined: bool = False) -> None:
        at = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock:
            state = self.receivers.setdefault(receiver, ReceiverState(receiver))
            state.last_heard = at
            state.last_via = via
            state.heard += 1
            if test:
                state.last_test = at
            if quarantined:
                state.quarantined += 1
            self._save()

    def refused(self, receiver: str | None) -> None:
        with self._lock:
            self.mail_refused += 1
            if receiver is not None and receiver in self.receivers:
                self.receivers[receiver].refused += 1
                self._save()

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(s) for s in self.receivers.values()]

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        data = {name: asdict(s) for name, s in self.receivers.items()}
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


def health_endpoint(endpoint: str) -> str:
    return endpoint.rstrip("/") + "/health"


class HealthReporter:
    """Every `interval_s`, the signed health report to the broadcaster; failures only logged."""

    def __init__(
        self,
        log_: HealthLog,
        *,
        endpoint: str,
        key_id: str,
        secret: bytes,
        interval_s: float,
        spool_status: Callable[[], Mapping[str, Any]],
        session: Callable[[], aiohttp.ClientSession],
        ssl: Any = True,
        proxy: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.log = log_
        self.endpoint = health_endpoint(endpoint)
        self.path = urlsplit(self.endpoint).path
        self.key_id = key_id
        self._secret = secret
        self.interval_s = interval_s
        self.spool_status = spool_status
        self._session = session
        self._ssl = ssl
        self._proxy = proxy
        self._clock = clock
        self._stop = asyncio.Event()
        self.started = datetime.now(UTC)
        self.last_status: int | None = None
        self.last_error: str | None = None

    def report(self) -> bytes:
        return json.dumps(
            {
                "format": HEALTH_FORMAT,
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
                "started": self.started.isoformat(timespec="seconds"),
                "receivers": self.log.snapshot(),
                "mail_refused": self.log.mail_refused,
                "spool": dict(self.spool_status()),
            },
            ensure_ascii=False,
        ).encode("utf-8")

    async def send_once(self) -> int | None:
        body = await asyncio.to_thread(self.report)  # reads the spool folder: off the event loop
        headers = sign(
            self._secret, self.key_id, "POST", self.path, body, timestamp=int(self._clock()),
            nonce=f"health.{random.getrandbits(64):016x}",  # unique per report, not secret
        )  # fmt: skip
        headers["Content-Type"] = "application/json"
        try:
            async with self._session().post(
                self.endpoint, data=body, headers=headers, ssl=self._ssl, proxy=self._proxy, allow_redirects=False
            ) as resp:
                await resp.read()
                self.last_status = resp.status
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            self.last_error = f"{type(e).__name__}: {e}"[:300]
            log.warning("jalert_health_report_failed", error=self.last_error)
            return None
        if resp.status >= 300:
            self.last_error = f"HTTP {resp.status}"
            log.warning("jalert_health_report_refused", status=resp.status)
        return resp.status

    async def run(self) -> None:
        while not self._stop.is_set():
            await self.send_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.interval_s)

    async def stop(self) -> None:
        self._stop.set()
