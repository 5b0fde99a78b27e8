"""HTTP for the L-Alert poller: conditional GET, a bearer token when configured, bounded bodies."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from broadcaster.errors import PermanentError, TransientError

USER_AGENT = "broadcaster/0.1 (municipal emergency information broadcaster; L-Alert poller)"
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Fetched:
    status: int  # 200, or 304 when the validators still hold
    body: bytes
    etag: str | None
    last_modified: str | None


class TooLarge(PermanentError):
    pass


class Client:
    def __init__(self, *, timeout_s: float, token: str | None = None) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._headers = {"User-Agent": USER_AGENT}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers=self._headers)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get(self, url: str, *, limit: int, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            # No redirects: the token must not follow a redirect to another site.
            async with self._client().get(url, headers=headers, allow_redirects=False) as resp:
                if resp.status == 304:
                    return Fetched(304, b"", etag, last_modified)
                if resp.status != 200:
                    raise TransientError(f"{url}: HTTP {resp.status}")
                if resp.content_length is not None and resp.content_length > limit:
                    raise TooLarge(f"{url}: {resp.content_length} bytes, limit {limit}")
                parts: list[bytes] = []
                size = 0
                async for chunk in resp.content.iter_chunked(_CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge(f"{url}: more than {limit} bytes")
                    parts.append(chunk)
                return Fetched(200, b"".join(parts), resp.headers.get("ETag"), resp.headers.get("Last-Modified"))
        except (aiohttp.ClientError, TimeoutError) as e:
            raise TransientError(f"{url}: {type(e).__name__}: {e}") from e
