"""HTTP for the poller: conditional GET of feeds, bounded downloads of telegrams.

Every failure is one of two errors: `TransientError` (connection, timeout, 5xx, a body cut
short: the next poll tries again) or `BodyTooLarge` (more bytes than any JMA document has: never
worth downloading again).
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from broadcaster.errors import PermanentError, TransientError

USER_AGENT = "broadcaster/0.1 (municipal emergency information broadcaster; JMA feed poller)"
_CHUNK = 64 * 1024


class BodyTooLarge(PermanentError):
    def __init__(self, url: str, size: int | None, limit: int) -> None:
        said = f"{size} bytes" if size is not None else "more bytes"
        super().__init__(f"{url}: {said} than the limit of {limit}")
        self.url = url
        self.size = size
        self.limit = limit


@dataclass(frozen=True, slots=True)
class Fetched:
    status: int  # 200, or 304 when the validators still hold
    body: bytes
    etag: str | None
    last_modified: str | None


def _retry_after(resp: aiohttp.ClientResponse) -> float | None:
    value = resp.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


class FeedClient:
    def __init__(self, *, timeout_s: float, user_agent: str = USER_AGENT) -> None:
        # The whole exchange (connect, headers, body) has one deadline, so a server that dribbles
        # bytes cannot hold a poll for longer than a slow one.
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._headers = {"User-Agent": user_agent}
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers=self._headers)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get(
        self, url: str, *, limit: int, etag: str | None = None, last_modified: str | None = None
    ) -> Fetched:
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            async with self._client().get(url, headers=headers, max_redirects=3) as resp:
                if resp.status == 304:
                    return Fetched(304, b"", etag, last_modified)
                if resp.status != 200:
                    raise TransientError(f"{url}: HTTP {resp.status}", retry_after=_retry_after(resp))
                if resp.content_length is not None and resp.content_length > limit:
                    raise BodyTooLarge(url, resp.content_length, limit)
                body = await _read_bounded(resp, url, limit)
                return Fetched(200, body, resp.headers.get("ETag"), resp.headers.get("Last-Modified"))
        except (aiohttp.ClientError, TimeoutError) as e:
            # ClientPayloadError (a body cut short) lands here too: a partial telegram is retried.
            raise TransientError(f"{url}: {type(e).__name__}: {e}") from e


async def _read_bounded(resp: aiohttp.ClientResponse, url: str, limit: int) -> bytes:
    # Counted after decompression, so a small gzip body cannot expand past the limit either.
    parts: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(url, None, limit)
        parts.append(chunk)
    return b"".join(parts)
