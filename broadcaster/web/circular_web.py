"""What the circular pages share: the circulars' services as the web process has them, time fields."""

from __future__ import annotations

from datetime import datetime, tzinfo

from aiohttp import web

from broadcaster.circulars.service import Circulars
from broadcaster.model import JST
from broadcaster.model.timeutil import shown
from broadcaster.web.context import WebContext
from broadcaster.web.keys import CONTEXT


def circulars(ctx: WebContext) -> Circulars:
    """The process's circulars (broadcaster/app.py): the same scheduler client and adapters as
    its stages. A web server without the scheduler stage only ever adds jobs to the shared store:
    the scheduler stage of some `broadcaster run` or `broadcaster worker scheduler` runs them."""
    return ctx.runtime.circulars


def of(request: web.Request) -> Circulars:
    return circulars(request.app[CONTEXT])


def parse_local(value: str, tz: tzinfo = JST) -> datetime | None:
    """A datetime-local field (the town's clock, as the officer reads it) or an ISO time with
    offset."""
    text = value.strip()
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError as e:
        raise ValueError(f"日時の形式が正しくありません: {text[:40]}") from e
    return at if at.tzinfo is not None else at.replace(tzinfo=tz)


def local_time(at: datetime | None, tz: tzinfo = JST, fmt: str = "%m/%d %H:%M") -> str:
    """A time on a leader's page: the town's clock with its label (decision 8)."""
    return shown(at, tz, fmt)
