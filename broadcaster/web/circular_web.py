"""What the circular pages share: the circulars' services as the web process has them, time fields."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from broadcaster.circulars.service import Circulars
from broadcaster.model import JST
from broadcaster.web.context import WebContext
from broadcaster.web.keys import CONTEXT


def circulars(ctx: WebContext) -> Circulars:
    """The running pipeline's circulars (same scheduler client and adapters), else our own.

    A web server without the pipeline only ever adds jobs to the shared store: the scheduler
    stage of some `broadcaster run` or `broadcaster worker scheduler` runs them.
    """
    svc = ctx.circulars
    if svc is None:
        runtime = ctx.runtime
        if runtime is not None:
            from broadcaster.circulars.wiring import circulars_of

            svc = circulars_of(runtime)
        else:
            from broadcaster.pipeline.adapters import AdapterPool
            from broadcaster.scheduler import SchedulerService

            pool, scheduler = AdapterPool(ctx.settings), SchedulerService(ctx.ledger.db)
            svc = Circulars(ctx.settings, ctx.ledger, ctx.bus, pool, scheduler)
            # Ours, so ours to close when the app stops.
            ctx.closers += [pool.close, scheduler.stop]
        ctx.circulars = svc
    return svc


def of(request: web.Request) -> Circulars:
    return circulars(request.app[CONTEXT])


def parse_local(value: str) -> datetime | None:
    """A datetime-local field (JST, as the officer reads the clock) or an ISO time with offset."""
    text = value.strip()
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError as e:
        raise ValueError(f"日時の形式が正しくありません: {text[:40]}") from e
    return at if at.tzinfo is not None else at.replace(tzinfo=JST)


def jst(at: datetime | None, fmt: str = "%m/%d %H:%M") -> str:
    return "" if at is None else at.astimezone(JST).strftime(fmt)
