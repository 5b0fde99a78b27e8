"""A stand-in telephone exchange speaking Asterisk's ARI on loopback, for the offline demo, the
benchmarks and the tests: originate, play, hang up, and the application's WebSocket events, as
Asterisk's ARI reference describes them; each number's answer is scripted. It is no telephone
system: nothing leaves the machine.

What it holds to: HTTP Basic auth with the ARI user (401 otherwise); ``POST /ari/channels`` needs
``endpoint`` and ``app`` (400 otherwise), refuses a ``channelId`` it has seen (409) and answers the
channel with state Down; the channel enters the application (StasisStart, state Up) only when the
scripted callee answers, else ends in ChannelDestroyed with the Q.850 cause (19 no answer, 17 busy,
1 unallocated number); ``play`` on an unknown channel is 404, on one not in the application 409;
media ``sound:<prefix><name>`` must be a 16-bit mono WAV file in the media folder, which is read
and measured (what the callee heard); PlaybackStarted and PlaybackFinished follow, at the audio's
length times `speed`; a scripted key arrives as ChannelDtmfReceived while the question plays;
``DELETE`` ends the call (ChannelDestroyed cause 16, StasisEnd).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from adapters.outbound.voice.synth import AudioCheck, measure, read_wav


@dataclass
class Callee:
    """How a number answers: 'answer' (then presses `digit`, or nothing when None), 'no_answer',
    'busy', 'invalid', 'hang_up' (answers, then hangs up while the message plays). `answers` is
    for a callee who picks up only from that call on (1 = the first)."""

    behaviour: str = "answer"
    digit: str | None = "0"
    answers: int = 1


@dataclass
class Call:
    channel_id: str
    number: str
    endpoint: str
    app: str
    caller_id: str
    state: str = "Down"
    played: list[tuple[str, AudioCheck]] = field(default_factory=list)
    digits: list[str] = field(default_factory=list)
    cause: int | None = None
    ended: bool = False


class ExchangeSimulator:
    def __init__(
        self, media_dir: Path, *, user: str = "broadcaster", password: str = "s3cret", speed: float = 0.002  # noqa: S107
    ) -> None:
        self.media_dir = media_dir
        self.user, self.password = user, password
        self.speed = speed
        self.ring_s = 0.02
        self.callees: dict[str, Callee] = {}
        self.calls: list[Call] = []
        self.by_id: dict[str, Call] = {}
        self.tries: dict[str, int] = {}
        self.sockets: dict[str, list[web.WebSocketResponse]] = {}
        self.fail_originate: list[int] = []  # statuses for the next originates
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/ari/channels", self._originate)
        app.router.add_post("/ari/channels/{id}/play", self._play)
        app.router.add_delete("/ari/channels/{id}", self._hangup)
        app.router.add_get("/ari/events", self._events)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for sockets in self.sockets.values():
            for ws in list(sockets):
                await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> ExchangeSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _authorized(self, request: web.Request) -> bool:
        expected = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {expected}"

    def _later(self, delay: float, action: Callable[[], Awaitable[None]]) -> None:
        async def run() -> None:
            await asyncio.sleep(delay)
            await action()

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _emit(self, app: str, event: dict[str, Any]) -> None:
        for ws in list(self.sockets.get(app, [])):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_json(event)

    def _channel(self, call: Call) -> dict[str, Any]:
        return {"id": call.channel_id, "name": call.endpoint, "state": call.state, "caller": {"number": call.caller_id}}

    async def _originate(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"message": "Authentication required"}, status=401)
        if self.fail_originate:
            status = self.fail_originate.pop(0)
            return web.json_response({"message": "Allocation failed"}, status=status)
        q = request.query
        if not q.get("endpoint") or not q.get("app"):
            return web.json_response({"message": "Invalid parameters for originating a channel"}, status=400)
        channel_id = q.get("channelId", f"chan-{len(self.calls)}")
        if channel_id in self.by_id:
            return web.json_response({"message": "Channel with given unique ID already exists"}, status=409)
        number = q["endpoint"].split("/", 1)[-1].split("@", 1)[0]
        call = Call(channel_id, number, q["endpoint"], q["app"], q.get("callerId", ""))
        self.calls.append(call)
        self.by_id[channel_id] = call
        self.tries[number] = self.tries.get(number, 0) + 1
        callee = self.callees.get(number, Callee())
        picks_up = self.tries[number] >= callee.answers
        if callee.behaviour in ("answer", "hang_up") and picks_up:
            self._later(self.ring_s, lambda: self._answer(call))
        else:
            cause = {"busy": 17, "invalid": 1}.get(callee.behaviour, 19)
            self._later(self.ring_s, lambda: self._destroy(call, cause))
        return web.json_response(self._channel(call))

    async def _answer(self, call: Call) -> None:
        call.state = "Up"
        await self._emit(call.app, {"type": "StasisStart", "application": call.app, "args": [], "channel": self._channel(call)})

    async def _destroy(self, call: Call, cause: int) -> None:
        if call.ended:
            return
        call.ended, call.cause = True, cause
        was_up = call.state == "Up"
        call.state = "Down"
        await self._emit(call.app, {"type": "ChannelDestroyed", "cause": cause, "cause_txt": f"cause {cause}", "channel": self._channel(call)})
        if was_up:
            await self._emit(call.app, {"type": "StasisEnd", "channel": self._channel(call)})

    def _media_file(self, media: str) -> Path | None:
        if not media.startswith("sound:"):
            return None
        name = media.removeprefix("sound:").rsplit("/", 1)[-1]
        path = self.media_dir / (name if name.endswith(".wav") else f"{name}.wav")
        return path if path.is_file() else None

    async def _play(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"message": "Authentication required"}, status=401)
        call = self.by_id.get(request.match_info["id"])
        if call is None or call.ended:
            return web.json_response({"message": "Channel not found"}, status=404)
        if call.state != "Up":
            return web.json_response({"message": "Channel not in Stasis application"}, status=409)
        media = request.query.get("media", "")
        path = self._media_file(media)
        if path is None:
            return web.json_response({"message": f"media not found: {media}"}, status=422)
        samples, rate = read_wav(path.read_bytes())
        check = measure(samples, rate)
        call.played.append((media, check))
        playback_id = request.query.get("playbackId", f"pb-{len(call.played)}")
        playback = {"id": playback_id, "media_uri": media, "target_uri": f"channel:{call.channel_id}", "state": "playing"}
        callee = self.callees.get(call.number, Callee())
        duration = check.duration_s * self.speed
        if callee.behaviour == "hang_up":
            self._later(duration / 2, lambda: self._destroy(call, 16))
        else:
            self._later(duration, lambda: self._finished(call, playback))
            if callee.digit is not None and "-prompt-" in playback_id and not call.digits:
                call.digits.append(callee.digit)
                self._later(duration / 2, lambda: self._emit(call.app, {"type": "ChannelDtmfReceived", "digit": callee.digit, "duration_ms": 120, "channel": self._channel(call)}))
        await self._emit(call.app, {"type": "PlaybackStarted", "playback": playback})
        return web.json_response({**playback, "state": "queued"}, status=201)

    async def _finished(self, call: Call, playback: dict[str, Any]) -> None:
        if not call.ended:
            await self._emit(call.app, {"type": "PlaybackFinished", "playback": {**playback, "state": "done"}})

    async def _hangup(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"message": "Authentication required"}, status=401)
        call = self.by_id.get(request.match_info["id"])
        if call is None or call.ended:
            return web.json_response({"message": "Channel not found"}, status=404)
        await self._destroy(call, 16)
        return web.Response(status=204)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response({"message": "Authentication required"}, status=401)
        app = request.query.get("app", "")
        if not app:
            return web.json_response({"message": "Invalid application provided in param [app]."}, status=400)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.setdefault(app, []).append(ws)
        try:
            async for msg in ws:
                if msg.type is WSMsgType.ERROR:
                    break
        finally:
            self.sockets[app].remove(ws)
        return ws

    def calls_to(self, number: str) -> list[Call]:
        return [c for c in self.calls if c.number == number]
