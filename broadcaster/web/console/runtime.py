"""The pipeline's shared parts (rules, renderer, audiences) as the console needs them."""

from __future__ import annotations

from broadcaster.pipeline.runtime import Runtime
from broadcaster.web.context import WebContext


def console_runtime(ctx: WebContext) -> Runtime:
    """The running pipeline's Runtime when the web server runs inside it, else one of our own.

    Built once: rule sets and templates reload themselves when their files change.
    """
    if ctx.runtime is None:
        ctx.runtime = Runtime.build(ctx.settings, ctx.bus, ctx.ledger)
        # Ours, so ours to close when the app stops (its adapters, scheduler client, threads).
        ctx.closers.append(ctx.runtime.aclose)
    return ctx.runtime
