"""Asterisk's REST Interface (ARI): originate a call into our Stasis application, play media, hang
up, and the application's events over its WebSocket.

What the adapter relies on, after Asterisk's ARI reference: ``POST /ari/channels`` with endpoint,
app, appArgs, callerId, timeout and our own channelId creates the call and answers 200 with the
channel (400 for invalid parameters, 409 when the channelId exists already); the channel enters the
application (``StasisStart``) only once it is answered, and an unanswered call ends in
``ChannelDestroyed`` with its Q.850 cause; ``POST /ari/channels/{id}/play?media=…&playbackId=…``
queues media (404 channel gone, 409 not in Stasis, 412 invalid state) and ``PlaybackFinished``
follows; a key pressed is ``ChannelDtmfReceived`` with its digit; ``DELETE /ari/channels/{id}``
hangs up. Authentication is HTTP Basic with an ARI user.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from broadcaster.errors import PermanentError, TransientError

# Q.850 causes of a call that never reached the person, and whether calling again may help.
NO_ANSWER_CAUSES = {18: "no user responding", 19: "no answer", 17: "busy", 34: "no circuit available",
                    38: "network out of order", 41: "temporary failure", 42: "congestion"}
PERMANENT_CAUSES = {1: "unallocated number", 3: "no route", 21: "call rejected", 22: "number changed",
                    27: "destination out of order", 28: "invalid number format"}


def classify(status: int, text: str, what: str) -> Exception:
    if status in (408, 429) or status >= 500:
        return TransientError(f"ARI {what}: {status} {text[:200]}")
    return PermanentError(f"ARI {what}: {status} {text[:200]}")


class Ari:
    def __init__(self, base_url: str, user: str, password: str, app: str, *, timeout_s: float = 10.0) -> None:
        self.base = base_url.rstrip("/")
        self.app = app
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        self._headers = {"Authorization": f"Basic {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout)
        return self._session

    async def _call(self, method: str, path: str, params: dict[str, str], what: str) -> Any:
        try:
            async with self.session.request(method, f"{self.base}/ari{path}", params=params) as r:
                text = await r.text()
                if r.status >= 300:
                    raise classify(r.status, text, what)
                return json.loads(text) if text.strip() else None
        except (aiohttp.ClientError, TimeoutError) as e:
            raise TransientError(f"ARI {what}: {type(e).__name__}: {e}") from e

    async def originate(self, *, endpoint: str, channel_id: str, caller_id: str, timeout_s: int, app_args: str) -> Any:
        params = {
            "endpoint": endpoint,
            "app": self.app,
            "appArgs": app_args,
            "callerId": caller_id,
            "timeout": str(timeout_s),
            "channelId": channel_id,
        }
        return await self._call("POST", "/channels", params, "originate")

    async def play(self, channel_id: str, media: str, playback_id: str) -> Any:
        return await self._call(
            "POST", f"/channels/{channel_id}/play", {"media": media, "playbackId": playback_id}, "play"
        )

    async def hangup(self, channel_id: str) -> None:
        with contextlib.suppress(PermanentError):  # already gone: the person hung up first
            await self._call("DELETE", f"/channels/{channel_id}", {"reason": "normal"}, "hangup")

    async def events(self, ready: asyncio.Event | None = None) -> AsyncIterator[dict[str, Any]]:
        """The application's events, until the socket closes."""
        url = f"{self.base}/ari/events"
        try:
            async with self.session.ws_connect(url, params={"app": self.app}, heartbeat=20.0) as ws:
                if ready is not None:
                    ready.set()
                async for msg in ws:
                    if msg.type is aiohttp.WSMsgType.TEXT:
                        with contextlib.suppress(ValueError):
                            yield json.loads(msg.data)
                    elif msg.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSED):
                        break
        except aiohttp.WSServerHandshakeError as e:
            raise classify(e.status, e.message, "events") from e
        except (aiohttp.ClientError, TimeoutError) as e:
            raise TransientError(f"ARI events: {type(e).__name__}: {e}") from e

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
