"""The pipeline's shared parts (rules, renderer, audiences) as the console needs them."""

from __future__ import annotations

from typing import Any

from broadcaster.pipeline.runtime import Runtime
from broadcaster.web.context import WebContext


def console_runtime(ctx: WebContext) -> Runtime:
    """The running pipeline's Runtime when the web server runs inside it, else one of our own.

    Built once: rule sets and templates reload themselves when their files change.
    """
    rt: Any = ctx.extras.get("runtime")
    if rt is None:
        rt = Runtime.build(ctx.settings, ctx.bus, ctx.ledger)
        ctx.extras["runtime"] = rt
    assert isinstance(rt, Runtime)
    return rt
