"""A fake L-Alert feed on loopback: a feed document (Atom, RSS, JSON, or one document) and documents.

It answers conditional GETs with 304 when the ETag still holds, records every request with its
headers, and can be scripted to fail the next requests of a path.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from xml.sax.saxutils import escape

from aiohttp import web


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]
    status: int


def atom(entries: list[tuple[str, str, datetime]], base: str) -> bytes:
    """An Atom feed of (entry id, document name, updated), newest first as feeds list them."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Lアラート 穴水町</title><id>urn:test:feed</id><updated>2025-07-10T07:00:00+09:00</updated>"
    ]
    for entry_id, name, updated in sorted(entries, key=lambda e: e[2], reverse=True):
        parts.append(
            f"<entry><id>{escape(entry_id)}</id><title>{escape(name)}</title><updated>{updated.isoformat()}</updated>"
            f'<link rel="alternate" type="application/xml" href="{escape(base)}/docs/{escape(name)}"/></entry>'
        )
    parts.append("</feed>")
    return "".join(parts).encode("utf-8")


@dataclass
class FakeLAlertFeed:
    feed: bytes = b""
    documents: dict[str, bytes] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    url: str = ""
    _script: dict[str, deque[int]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None

    @property
    def feed_url(self) -> str:
        return self.url + "/feed"

    def fail_next(self, path: str, *statuses: int) -> None:
        self._script.setdefault(path, deque()).extend(statuses)

    def downloads(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path == path and r.status == 200)

    def _answer(self, request: web.Request, body: bytes | None, content_type: str) -> web.Response:
        script = self._script.get(request.path)
        if script:
            status = script.popleft()
            self.requests.append(Seen(request.path, dict(request.headers), status))
            return web.Response(status=status, text="scripted")
        if body is None:
            self.requests.append(Seen(request.path, dict(request.headers), 404))
            return web.Response(status=404)
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            self.requests.append(Seen(request.path, dict(request.headers), 304))
            return web.Response(status=304, headers={"ETag": etag})
        self.requests.append(Seen(request.path, dict(request.headers), 200))
        return web.Response(body=body, content_type=content_type, headers={"ETag": etag})

    async def _feed(self, request: web.Request) -> web.StreamResponse:
        kind = "application/json" if self.feed.lstrip()[:1] in (b"{", b"[") else "application/xml"
        return self._answer(request, self.feed, kind)

    async def _document(self, request: web.Request) -> web.StreamResponse:
        return self._answer(request, self.documents.get(request.match_info["name"]), "application/xml")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/feed", self._feed)
        app.router.add_get("/docs/{name}", self._document)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
