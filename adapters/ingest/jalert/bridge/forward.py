"""Forwarding the spool, one message at a time and in order, to the broadcaster's hook.

Each try is signed afresh (new timestamp and nonce; broadcaster/signing.py), so a message that
waited out an outage of hours is as fresh as one sent at once, and a retry after a lost answer
is not mistaken for a replay. A retry after a lost answer may deliver a message twice; the
broadcaster keeps one alert per message id, so residents hear it once.

Answers: 2xx removes the message; 400, 413, 415 and 422 say the message itself is refused, so it
is set aside (rejected/) and the next one goes; anything else (401 and 403 included: a key or a
clock to fix, never a reason to drop a warning) is tried again with back-off. Only the status
travels back over the link: nothing the broadcaster says is acted upon beyond it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from urllib.parse import urlsplit

import aiohttp

from adapters.ingest.jalert.bridge.spool import Spool, Spooled
from broadcaster.logging import get_logger
from broadcaster.signing import sign

log = get_logger(__name__)

REFUSED_CONTENT = frozenset({400, 413, 415, 422})
USER_AGENT = "broadcaster-jalert-bridge/1"


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    REJECTED = "rejected"


@dataclass
class ForwardStatus:
    """What the local hook's /status reports, for the receiver side's monitoring."""

    sent: int = 0
    rejected: int = 0
    failures: int = 0  # consecutive failed tries of the head message
    last_sent: datetime | None = None
    last_error: str | None = None


def _retry_after(value: str | None) -> float | None:
    if value and value.strip().isdigit():
        return float(value.strip())
    return None


class Forwarder:
    def __init__(
        self,
        spool: Spool,
        *,
        endpoint: str,
        key_id: str,
        secret: bytes,
        timeout_s: float,
        backoff_s: Sequence[float],
        ca_file: str | None = None,
        proxy: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.spool = spool
        self.endpoint = endpoint
        self.path = urlsplit(endpoint).path or "/"
        self.key_id = key_id
        self._secret = secret
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.backoff_s = list(backoff_s)
        self._ssl: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
        self._proxy = proxy
        self._clock = clock
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self.status = ForwardStatus()
        self._retry_after: float | None = None

    def wake(self) -> None:
        """A new message is in the spool: stop waiting for the next poll (not for a back-off)."""
        self._wake.set()

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        base = self.backoff_s[min(failures - 1, len(self.backoff_s) - 1)]
        if retry_after is not None:
            base = min(max(base, retry_after), self.backoff_s[-1])
        # A little jitter, so that bridges of several towns recovering together do not stampede.
        return base * random.uniform(0.9, 1.1)  # noqa: S311 - not for security

    def session(self) -> aiohttp.ClientSession:
        """The bridge's one HTTP session (the health reporter shares it)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers={"User-Agent": USER_AGENT})
        return self._session

    async def _client(self) -> aiohttp.ClientSession:
        return self.session()

    @property
    def ssl_context(self) -> ssl.SSLContext | bool:
        return self._ssl

    async def send(self, item: Spooled) -> tuple[Outcome, float | None]:
        """One try; the outcome and, for a retry, the Retry-After the endpoint asked for."""
        headers = sign(
            self._secret, self.key_id, "POST", self.path, item.body, timestamp=int(self._clock()),
            nonce=f"{item.id}.{random.getrandbits(32):08x}",  # unique per try, not secret
        )  # fmt: skip
        headers["Content-Type"] = item.content_type
        session = await self._client()
        try:
            async with session.post(
                self.endpoint, data=item.body, headers=headers, ssl=self._ssl, proxy=self._proxy, allow_redirects=False
            ) as resp:
                await resp.read()
                status = resp.status
                retry_after = _retry_after(resp.headers.get("Retry-After"))
                server_date = resp.headers.get("Date")
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            self.status.last_error = f"{type(e).__name__}: {e}"[:300]
            log.warning("jalert_forward_failed", message=item.id, seq=item.seq, error=self.status.last_error)
            return Outcome.RETRY, None
        if 200 <= status < 300:
            return Outcome.SENT, None
        self.status.last_error = f"HTTP {status}"
        if status in REFUSED_CONTENT:
            return Outcome.REJECTED, None
        # 401 with a stale timestamp is this machine's clock: the server's Date shows by how much.
        log.warning("jalert_forward_refused", message=item.id, seq=item.seq, status=status, server_date=server_date)
        return Outcome.RETRY, retry_after

    async def forward_head(self) -> Outcome | None:
        """Try the oldest waiting message once; None when the spool is empty."""
        item = await asyncio.to_thread(self.spool.head)
        if item is None:
            return None
        outcome, retry_after = await self.send(item)
        if outcome is Outcome.SENT:
            await asyncio.to_thread(self.spool.remove, item)
            self.status.sent += 1
            self.status.failures = 0
            self.status.last_sent = datetime.now(UTC)
            waited = (self.status.last_sent - item.spooled).total_seconds()
            log.info("jalert_forwarded", message=item.id, seq=item.seq, origin=item.origin, waited_s=round(waited, 3))
        elif outcome is Outcome.REJECTED:
            where = await asyncio.to_thread(self.spool.reject, item, self.status.last_error or "refused")
            self.status.rejected += 1
            self.status.failures = 0
            log.error("jalert_message_rejected", message=item.id, seq=item.seq, reason=self.status.last_error, kept=str(where))
        else:
            self.status.failures += 1
            self._retry_after = retry_after
        return outcome

    async def run(self) -> None:
        while not self._stop.is_set():
            # Cleared before looking, so that a message spooled meanwhile is not waited for.
            self._wake.clear()
            try:
                outcome = await self.forward_head()
            except Exception as e:  # the spool's disk: log, wait, try again; never give up
                log.error("jalert_spool_failed", error=f"{type(e).__name__}: {e}"[:300])
                outcome = Outcome.RETRY
                self.status.failures += 1
            if outcome is Outcome.RETRY:
                await self._sleep(self.delay(max(1, self.status.failures), self._retry_after))
            elif outcome is None:
                await self._sleep(1.0, wakeable=True)

    async def _sleep(self, seconds: float, *, wakeable: bool = False) -> None:
        waits = [asyncio.ensure_future(self._stop.wait())]
        if wakeable:
            waits.append(asyncio.ensure_future(self._wake.wait()))
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await w

    async def stop(self) -> None:
        self._stop.set()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
