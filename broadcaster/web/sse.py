"""Server-sent events for the pages residents and district leaders keep open: the town's site
(docs/website.md, *Live pages*) and a leader's circular (docs/circulars.md).

One rule for every such stream: the handler names a *probe*, a cheap function that says what the
reader's page shows right now (the site's release, the circular's state); when its answer changes,
the page hears one ``change`` event and fetches itself again. The event carries only that answer
and an aware time, never anything about a person. A stream lasts a few minutes, then the browser
reconnects (``retry``), so a link revoked or a server restarted is noticed on reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from datetime import tzinfo

from aiohttp import web

from broadcaster.model import JST, now
from broadcaster.web.keys import CLOSING

Probe = Callable[[], Awaitable[str | None]]

# Open streams in this process: past this many, a reader is told to come back later (503). Each
# stream is an idle socket and a sleeping task; the cap keeps a flood of them from taking the
# descriptors the officers' console and the channel workers need. Pages still work without it.
MAX_STREAMS = 5000
_open = 0


def _event(name: str, payload: dict[str, str]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()


async def stream(
    request: web.Request,
    probe: Probe,
    *,
    every: float = 2.0,
    lifetime: float = 600.0,
    keepalive: float = 20.0,
    cors: bool = False,
    tz: tzinfo = JST,
    hello: Callable[[], dict[str, str]] | None = None,
) -> web.StreamResponse:
    """Send ``change`` whenever ``probe()`` answers something new; ``gone`` (and end) when it
    answers None (the page no longer exists for this reader). Times are aware, in ``tz``: the
    town's zone (settings: tenants.time_zone), as every time a person reads. ``hello`` adds
    fields to the first event (public facts about the state, never about a person)."""
    global _open
    # Sent at prepare(), before the security middleware sees the response: what it would add
    # and matters for a stream is set here.
    headers = {
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-store",
        "X-Accel-Buffering": "no",  # a reverse proxy passes each event on at once
        "X-Content-Type-Options": "nosniff",
    }
    if cors:
        # Public data only (a release number and a time): a town whose CMS serves the site may open
        # the stream from its own origin.
        headers["Access-Control-Allow-Origin"] = "*"
    if _open >= MAX_STREAMS:
        return web.Response(status=503, headers={"Retry-After": "60", "Cache-Control": "no-store"})
    seen = await probe()
    if seen is None:
        return web.Response(status=404, headers={"Cache-Control": "no-store"})
    _open += 1
    try:
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        # The first event names the state the stream started from: a page drawn before it (the
        # reader opened it a while ago, a reconnect after a change) compares and catches up.
        first = {"at": now().astimezone(tz).isoformat(), "state": seen} | (hello() if hello else {})
        await response.write(b"retry: 5000\n\n" + _event("hello", first))
        closing = request.app[CLOSING]
        loop = asyncio.get_running_loop()
        start = quiet = loop.time()
        while loop.time() - start < lifetime:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(closing.wait(), timeout=every)
            if closing.is_set():
                break
            current = await probe()
            at = now().astimezone(tz).isoformat()
            if current is None:
                await response.write(_event("gone", {"at": at}))
                break
            if current != seen:
                seen = current
                await response.write(_event("change", {"at": at, "state": current}))
                quiet = loop.time()
            elif loop.time() - quiet >= keepalive:
                # A comment keeps proxies from closing an idle connection.
                await response.write(b": keep-alive\n\n")
                quiet = loop.time()
    except ConnectionResetError:
        pass  # the reader went away
    finally:
        _open -= 1
    return response
