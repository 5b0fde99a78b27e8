"""Web Push spread over processes (docs/push.md, "Sending over processes").

Each message costs a fresh P-256 key pair, an ECDH and an AES-GCM (encrypt.py), about 100 µs of
CPU, and none of it can be shared between subscribers (RFC 8291 §3.1); its HTTP request costs as
much again. In one process that CPU shares one GIL with the event loop and every other channel; a
prefecture's 1.1 million app subscribers are some CPU-minutes of it. The pool hands a batch to
worker processes, one chunk per process: `encrypt` has them encrypt and return the bodies, `send`
has them encrypt and post too, each worker on its own event loop with its own kept-alive
connections, and return each push service's answer. The adapter's event loop then only decides
what each answer means.

One pool per process and size, shared by every tenant's adapter (19 tenants must not start 19
pools). Workers are spawned, not forked: the parent runs an event loop and threads, which a fork
would copy half-way. What a worker gets is the plaintext and the subscribers' public keys; the
VAPID private key never leaves the parent (it signs the Authorization header, per push service
origin, and the workers get the header).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import aiohttp

from adapters.outbound.app_push import encrypt

# Below this many messages a batch is encrypted in the event loop: sending the work to another
# process costs more than the work (a few residents, a test).
MIN_BATCH = 64


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encrypt_chunk(plaintext: bytes, keys: list[tuple[str, str]]) -> tuple[list[bytes | None], float]:
    """In a worker: the body for each (p256dh, auth), None for keys no encryption can use, and
    the CPU seconds this took (the benchmark's per-process rate)."""
    cpu0 = time.process_time()
    out: list[bytes | None] = []
    for p256dh, auth in keys:
        try:
            out.append(encrypt.encrypt(plaintext, _b64(p256dh), _b64(auth)))
        except (ValueError, binascii.Error):
            out.append(None)
    return out, time.process_time() - cpu0


def _ready() -> int:
    return os.getpid()


@dataclass(frozen=True, slots=True)
class Posted:
    """A push service's answer to one message, as a worker saw it."""

    status: int | None  # None: no answer (timeout, connection error, keys refused)
    retry_after: str | None = None
    reason: str = ""  # Apple's refusal reason on a 403; the error when there was no answer
    unusable: bool = False  # keys no encryption can use


# The worker's own event loop and session: kept between chunks, so that its connections to each
# push service stay alive as the adapter's one session does in the parent.
_LOOP: asyncio.AbstractEventLoop | None = None
_SESSION: aiohttp.ClientSession | None = None


async def _post_all(
    plaintext: bytes, items: list[tuple[str, str, str, str]], headers: dict[str, str], limit_s: float, concurrency: int
) -> list[Posted]:
    global _SESSION
    if _SESSION is None or _SESSION.closed:
        _SESSION = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency))
    session = _SESSION
    gate = asyncio.Semaphore(concurrency)
    limit = aiohttp.ClientTimeout(total=limit_s)

    async def one(endpoint: str, p256dh: str, auth: str, authorization: str) -> Posted:
        try:
            body = encrypt.encrypt(plaintext, _b64(p256dh), _b64(auth))
        except (ValueError, binascii.Error) as e:
            return Posted(None, reason=type(e).__name__, unusable=True)
        async with gate:
            try:
                async with session.post(
                    endpoint, data=body, headers={**headers, "Authorization": authorization}, timeout=limit
                ) as resp:
                    reason = ""
                    if resp.status == 403:
                        try:
                            data = await resp.json(content_type=None)
                            reason = str(data.get("reason", "")) if isinstance(data, dict) else ""
                        except (ValueError, aiohttp.ClientError):
                            reason = ""
                    return Posted(resp.status, resp.headers.get("Retry-After"), reason)
            except TimeoutError:
                return Posted(None, reason=f"no answer within {limit_s:g} s")
            except aiohttp.ClientError as e:
                return Posted(None, reason=f"{type(e).__name__}: {e}")

    return list(await asyncio.gather(*(one(*item) for item in items)))


def send_chunk(
    plaintext: bytes, items: list[tuple[str, str, str, str]], headers: dict[str, str], limit_s: float, concurrency: int
) -> tuple[list[Posted], float]:
    """In a worker: encrypt and post each (endpoint, p256dh, auth, Authorization header); the
    answers in order and the CPU seconds this took."""
    global _LOOP
    cpu0 = time.process_time()
    if _LOOP is None:
        _LOOP = asyncio.new_event_loop()
    answers = _LOOP.run_until_complete(_post_all(plaintext, items, headers, limit_s, concurrency))
    return answers, time.process_time() - cpu0


class EncryptPool:
    def __init__(self, processes: int) -> None:
        if processes < 1:
            raise ValueError("an encryption pool needs at least one process")
        self.processes = processes
        self.worker_cpu_s = 0.0  # summed over every chunk, for the benchmark
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=self.processes, mp_context=multiprocessing.get_context("spawn")
                )
            return self._executor

    async def warm(self) -> set[int]:
        """Start every worker (a spawned process imports for about a second): at start, not on
        the first alert. Returns the workers' process ids."""
        loop = asyncio.get_running_loop()
        pool = self._pool()
        pids: set[int] = set()
        for _ in range(3):  # the executor starts workers as work arrives; ask until all answered
            pids |= set(
                await asyncio.gather(*(loop.run_in_executor(pool, _ready) for _ in range(self.processes * 2)))
            )
            if len(pids) >= self.processes:
                break
        return pids

    async def encrypt(self, plaintext: bytes, keys: list[tuple[str, str]]) -> list[bytes | None]:
        """Bodies for `keys` in order, one chunk per worker."""
        if not keys:
            return []
        loop = asyncio.get_running_loop()
        pool = self._pool()
        size = max(1, math.ceil(len(keys) / self.processes))
        parts = await asyncio.gather(
            *(
                loop.run_in_executor(pool, encrypt_chunk, plaintext, keys[i : i + size])
                for i in range(0, len(keys), size)
            )
        )
        out: list[bytes | None] = []
        for bodies, cpu in parts:
            out.extend(bodies)
            self.worker_cpu_s += cpu
        return out

    async def send(
        self,
        plaintext: bytes,
        items: list[tuple[str, str, str, str]],
        headers: dict[str, str],
        *,
        limit_s: float,
        concurrency: int,
    ) -> list[Posted]:
        """Encrypt and post in the workers: the answers for `items` in order. `concurrency` is
        the requests in flight of the whole pool, shared out between the workers."""
        if not items:
            return []
        loop = asyncio.get_running_loop()
        pool = self._pool()
        size = max(1, math.ceil(len(items) / self.processes))
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        each = max(1, concurrency // len(chunks))
        parts: list[Any] = await asyncio.gather(
            *(loop.run_in_executor(pool, send_chunk, plaintext, c, headers, limit_s, each) for c in chunks)
        )
        out: list[Posted] = []
        for answers, cpu in parts:
            out.extend(answers)
            self.worker_cpu_s += cpu
        return out

    def close(self) -> None:
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True, cancel_futures=True)
                self._executor = None


_SHARED: dict[int, EncryptPool] = {}
_SHARED_LOCK = threading.Lock()


def processes_for(value: int | str) -> int:
    """The option `encrypt_processes`: 0 (encrypt in the event loop), a count, or "auto" (one
    per core this process may use)."""
    if value == "auto":
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not Linux
            return max(1, os.cpu_count() or 1)
    n = int(value)
    if n < 0:
        raise ValueError("encrypt_processes must be 0, a count or auto")
    return n


def shared(processes: int) -> EncryptPool:
    """The process's pool of that size, made on first use."""
    with _SHARED_LOCK:
        pool = _SHARED.get(processes)
        if pool is None:
            pool = _SHARED[processes] = EncryptPool(processes)
        return pool
