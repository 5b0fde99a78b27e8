"""Blocking work off the event loop, on a thread of its own (docs/architecture.md, *Off the event loop*).

One event loop runs every stage of a process: a parse of a 5 MB telegram, a template walk or a
directory scan done on it holds up every other consumer, web request and heartbeat for as long
as it takes. Such work runs on a `Lane`: one thread, so that what it runs (lxml parsers, the
renderer's caches) is never used by two threads at once, and in the order it was asked.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class Lane:
    """One worker thread, started on first use; the caller's context variables (the log's bound
    fields) travel with each call."""

    def __init__(self, name: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        ctx = contextvars.copy_context()
        call = functools.partial(ctx.run, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    def close(self) -> None:
        self._pool.shutdown(wait=False)
