"""What the web app opened for itself is closed when it stops (a web server without the pipeline
builds its own Runtime and circulars: their scheduler client and adapters must not outlive it)."""

from __future__ import annotations

from pathlib import Path

from broadcaster.circulars.wiring import shared_scheduler
from broadcaster.web.circular_web import circulars
from broadcaster.web.console.runtime import console_runtime
from broadcaster.web.keys import CONTEXT
from tests.web_helpers import web_env


async def test_a_runtime_the_web_built_itself_is_closed_with_the_app(tmp_path: Path) -> None:
    async with web_env(tmp_path) as env:
        ctx = env.app[CONTEXT]
        rt = console_runtime(ctx)
        assert console_runtime(ctx) is rt, "built once"
        service = shared_scheduler(rt)
        service._client()  # the scheduler client, as a schedules page makes it
        own = circulars(ctx)
        assert own.scheduler is service, "the circulars share the runtime's scheduler client"
        assert ctx.circulars is own and circulars(ctx) is own, "kept typed on the context, built once"
        assert "circulars" not in ctx.extras
    assert "scheduler" not in rt.services, "the scheduler client was left open"
    assert service._store.engine.pool.checkedout() == 0
    assert ctx.closers == []
