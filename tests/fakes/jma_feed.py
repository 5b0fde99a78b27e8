"""A fake of JMA's PULL feeds on loopback: Atom feeds and the telegrams they point to.

It serves /developer/xml/feed/<name>.xml (high-frequency and long feeds, written here from what a
test publishes) and /developer/xml/data/<file>, honours If-None-Match and If-Modified-Since with
304 as a careful static server does, and records every request with its headers. Tests script
what the next requests of a path get: an error status, a hang, other bytes (garbled or cut-short
XML), or a body that breaks off mid-transfer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from aiohttp import web

FEED_PATH = "/developer/xml/feed/"
DATA_PATH = "/developer/xml/data/"

FEED_TITLES = {"regular": "高頻度（定時）", "extra": "高頻度（随時）", "eqvol": "高頻度（地震火山）", "other": "高頻度（その他）"}


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]
    status: int


@dataclass
class Entry:
    file: str
    title: str
    updated: datetime
    author: str = "気象庁"


@dataclass(frozen=True)
class _Script:
    status: int = 200
    hang_s: float = 0.0
    body: bytes | None = None
    break_off: bool = False  # promise the whole body, send part, close the connection


def control_title(body: bytes) -> str:
    m = re.search(rb"<Control>.*?<Title>([^<]*)</Title>", body, re.S)
    return m.group(1).decode("utf-8") if m else "不明"


@dataclass
class FakeJmaFeed:
    requests: list[Seen] = field(default_factory=list)
    # 200 answers per path: what JMA would count as downloads.
    downloads: Counter[str] = field(default_factory=Counter)
    url: str = ""
    _entries: dict[str, list[Entry]] = field(default_factory=dict)  # document -> newest first
    _changed: dict[str, datetime] = field(default_factory=dict)
    _files: dict[str, bytes] = field(default_factory=dict)
    _script: dict[str, deque[_Script]] = field(default_factory=dict)
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    # --- content -----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """What the poller is configured with (base_url)."""
        return self.url + FEED_PATH

    def data_url(self, file: str) -> str:
        return self.url + DATA_PATH + file

    def put_file(self, file: str, body: bytes) -> None:
        self._files[file] = body

    def publish(
        self,
        feed: str,
        file: str,
        body: bytes,
        *,
        updated: datetime | None = None,
        short: bool = True,
        long: bool = True,
        title: str | None = None,
    ) -> str:
        """A new telegram on a feed (its high-frequency and long documents); returns the entry id."""
        self._files[file] = body
        entry = Entry(file, title or control_title(body), updated or datetime.now(UTC))
        for document, wanted in ((feed, short), (f"{feed}_l", long)):
            if wanted:
                self._entries.setdefault(document, []).insert(0, entry)
                self._changed[document] = datetime.now(UTC).replace(microsecond=0)
        return self.data_url(file)

    def publish_sample(self, feed: str, path: Path, **kw: object) -> str:
        return self.publish(feed, path.name, path.read_bytes(), **kw)  # type: ignore[arg-type]

    def drop(self, feed: str, file: str) -> None:
        """The entry rolls off the high-frequency feed (it stays on the long one)."""
        self._entries[feed] = [e for e in self._entries.get(feed, []) if e.file != file]
        self._changed[feed] = datetime.now(UTC).replace(microsecond=0)

    def render(self, document: str) -> bytes:
        short = document.removesuffix("_l")
        entries = self._entries.get(document, [])
        updated = (self._changed.get(document) or datetime(2024, 1, 1, tzinfo=UTC)).isoformat()
        parts = [
            '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" lang="ja">',
            f"<title>{escape(FEED_TITLES.get(short, short))}</title><subtitle>JMAXML publishing feed</subtitle>",
            f"<updated>{updated}</updated><id>{escape(self.base_url + document)}.xml</id>",
            f'<link rel="self" href={quoteattr(self.base_url + document + ".xml")}/>',
        ]
        for e in entries:
            url = self.data_url(e.file)
            parts.append(
                f"<entry><title>{escape(e.title)}</title><id>{escape(url)}</id>"
                f"<updated>{e.updated.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}</updated>"
                f"<author><name>{escape(e.author)}</name></author>"
                f'<link type="application/xml" href={quoteattr(url)}/>'
                f'<content type="text">【{escape(e.title)}】</content></entry>'
            )
        parts.append("</feed>")
        return "\n".join(parts).encode("utf-8")

    # --- scripting ---------------------------------------------------------------------------
    def _next(self, path: str, script: _Script, times: int) -> None:
        for _ in range(times):
            self._script.setdefault(path, deque()).append(script)

    def fail_next(self, path: str, status: int = 503, *, times: int = 1) -> None:
        self._next(path, _Script(status=status), times)

    def hang_next(self, path: str, seconds: float = 3600.0, *, times: int = 1) -> None:
        self._next(path, _Script(hang_s=seconds), times)

    def serve_next(self, path: str, body: bytes, *, times: int = 1) -> None:
        """Other bytes than the real document (garbage, a feed cut short), with status 200."""
        self._next(path, _Script(body=body), times)

    def break_off_next(self, path: str, *, times: int = 1) -> None:
        self._next(path, _Script(break_off=True), times)

    def feed_path(self, document: str) -> str:
        return f"{FEED_PATH}{document}.xml"

    def data_path(self, file: str) -> str:
        return DATA_PATH + file

    def fetched(self, path: str) -> int:
        return self.downloads[path]

    def requests_to(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    # --- serving -----------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        headers = dict(request.headers)
        script = self._script.get(path)
        step = script.popleft() if script else _Script()
        if step.hang_s:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), step.hang_s)
        if step.status != 200:
            return self._answer(path, headers, web.Response(status=step.status, text="maintenance"))
        if path.startswith(FEED_PATH) and path.endswith(".xml"):
            document = path[len(FEED_PATH) : -len(".xml")]
            if document not in self._entries and document.removesuffix("_l") not in FEED_TITLES:
                return self._answer(path, headers, web.Response(status=404))
            body = self.render(document)
            changed = self._changed.get(document) or datetime(2024, 1, 1, tzinfo=UTC)
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            validators = {"ETag": etag, "Last-Modified": format_datetime(changed, usegmt=True)}
            if step.body is None and self._not_modified(request, etag, changed):
                return self._answer(path, headers, web.Response(status=304, headers=validators))
        elif path.startswith(DATA_PATH) and path[len(DATA_PATH) :] in self._files:
            body = self._files[path[len(DATA_PATH) :]]
            validators = {}
        else:
            return self._answer(path, headers, web.Response(status=404))
        if step.body is not None:
            body = step.body
        if step.break_off:
            resp = web.StreamResponse(status=200, headers={"Content-Type": "application/xml"})
            resp.content_length = len(body)
            await resp.prepare(request)
            await resp.write(body[: len(body) // 2])
            assert request.transport is not None
            request.transport.close()
            self.requests.append(Seen(path, headers, 200))
            return resp
        self.downloads[path] += 1
        return self._answer(
            path, headers, web.Response(status=200, body=body, content_type="application/xml", headers=validators)
        )

    @staticmethod
    def _not_modified(request: web.Request, etag: str, changed: datetime) -> bool:
        # As RFC 9110 says: If-None-Match decides when present; else If-Modified-Since.
        if "If-None-Match" in request.headers:
            return etag in [t.strip() for t in request.headers["If-None-Match"].split(",")]
        since = request.headers.get("If-Modified-Since")
        if since:
            try:
                return changed <= parsedate_to_datetime(since)
            except (TypeError, ValueError):
                return False
        return False

    def _answer(self, path: str, headers: dict[str, str], resp: web.Response) -> web.Response:
        self.requests.append(Seen(path, headers, resp.status))
        return resp

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def close(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
