"""Web Push encryption spread over processes (docs/push.md, "Encryption over processes").

Each message costs a fresh P-256 key pair, an ECDH and an AES-GCM (encrypt.py), about 100 µs of
CPU, and none of it can be shared between subscribers (RFC 8291 §3.1). In one process that CPU
shares one GIL with the event loop and every other channel; a prefecture's 1.1 million app
subscribers are about two CPU-minutes of it. The pool encrypts a batch in worker processes, one
chunk per process, and the adapter's event loop only posts the finished bodies.

One pool per process and size, shared by every tenant's adapter (19 tenants must not start 19
pools). Workers are spawned, not forked: the parent runs an event loop and threads, which a fork
would copy half-way. What a worker gets is the plaintext and the subscribers' public keys; the
VAPID private key never leaves the parent.
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
