"""自動音声電話: the alert read aloud to each resident's phone through Asterisk (ARI), with a key
for "I heard it" and 1 for "I need help" (docs/channels.md, *Voice*).

One send calls the dispatch's batch of numbers, at most `max_calls` at once (the lines of the
town's trunk). Each answered call plays the message, then the question, and waits for a key; no
key, and the message and question are played once more. A call nobody answers (no answer, busy,
no free line) is tried again on the next attempt of the dispatch, after `retry_after_s`, up to
`attempts` calls per number; the worker's retry carries this, and those already reached are not
called again (adapters/outbound/fanout.py keeps who is done). A number the network refuses
(unallocated, rejected) is not called again. Every number's outcome is returned for the ledger
(heard, help, no_key, hung_up, unanswered, busy, invalid), which fallback and coverage read.

The audio is synthesized here (synth.py) from the rendered text made speakable (speech.py), written
as WAV where Asterisk reads it (`media_dir`) and played by `media_prefix` + name: ``sound:name``
for Asterisk's own sounds folder, or ``sound:https://…/`` for a file Asterisk fetches over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.outbound.fanout import Answer, Memory, Outcome, fan_out
from adapters.outbound.voice.ari import NO_ANSWER_CAUSES, PERMANENT_CAUSES, Ari
from adapters.outbound.voice.speech import speakable
from adapters.outbound.voice.synth import Speech, synthesize
from broadcaster.channels import AdapterEnv, Addressing, Delivery, RecipientOutcome, SendResult
from broadcaster.errors import ConfigError, PermanentError, TransientError
from broadcaster.logging import get_logger, hash_id
from broadcaster.settings import ChannelSettings

log = get_logger(__name__)

PROMPT = "このお知らせを聞いた方は、0を、助けが必要な方は、1を押してください。"
THANKS_HEARD = "ありがとうございました。引き続き、身の安全を確保してください。"
THANKS_HELP = "助けが必要なことを、町に伝えました。できるだけ安全な場所で、待っていてください。"
HELP_KEY = "1"

# Audio already synthesized in this process, by digest of its text: the question and the thanks
# are the same in every call, and a message goes to many batches.
_SPEECH: dict[str, Speech] = {}


class VoiceSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ari_url: str = Field(pattern=r"^https?://")
    app: str = Field(default="broadcaster", pattern=r"^[A-Za-z0-9_-]+$")
    # How Asterisk dials a number: {number} is the resident's, e.g. PJSIP/{number}@trunk.
    endpoint: str = "PJSIP/{number}@trunk"
    caller_id: str = "0000000000"
    media_dir: Path
    media_prefix: str = "sound:broadcaster/"
    ring_s: int = Field(default=30, ge=5, le=120)
    dtmf_timeout_s: float = Field(default=10.0, gt=0, le=60)
    attempts: int = Field(default=3, ge=1, le=10)
    retry_after_s: float = Field(default=180.0, ge=0)
    max_calls: int = Field(default=10, ge=1, le=500)
    # How long one call may take at most, answered (ring, message twice, question twice, thanks).
    call_limit_s: float = Field(default=300.0, gt=0)


@dataclass
class _Tries:
    attempts: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, RecipientOutcome] = field(default_factory=dict)


class _Events:
    """One WebSocket to the application; events go to the call waiting on that channel."""

    def __init__(self, ari: Ari) -> None:
        self.ari = ari
        self.queues: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.error: Exception | None = None

    async def ensure(self) -> None:
        if self._task is None or self._task.done():
            self.ready = asyncio.Event()
            self.error = None
            self._task = asyncio.create_task(self._run(), name="ari-events")
            waiter = asyncio.create_task(self.ready.wait())
            await asyncio.wait({waiter, self._task}, timeout=10.0, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if not self.ready.is_set():
                raise self.error or TransientError("ARI events: the WebSocket did not open")

    async def _run(self) -> None:
        try:
            async for event in self.ari.events(self.ready):
                channel = (event.get("channel") or {}).get("id")
                if channel is None and isinstance(event.get("playback"), dict):
                    target = str(event["playback"].get("target_uri", ""))
                    channel = target.removeprefix("channel:") if target.startswith("channel:") else None
                queue = self.queues.get(str(channel)) if channel else None
                if queue is not None:
                    queue.put_nowait(event)
        except Exception as e:  # the next send opens it again
            self.error = e
            log.warning("ari_events_closed", error=str(e)[:200])
        for queue in self.queues.values():
            queue.put_nowait({"type": "_EventsClosed"})

    def register(self, channel_id: str) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.queues[channel_id] = queue
        return queue

    def release(self, channel_id: str) -> None:
        self.queues.pop(channel_id, None)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


class _Hangup(Exception):
    pass


async def _next(queue: asyncio.Queue[dict[str, Any]], types: Iterable[str], wait_s: float) -> dict[str, Any] | None:
    wanted = set(types)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        left = deadline - loop.time()
        if left <= 0:
            return None
        try:
            event = await asyncio.wait_for(queue.get(), left)
        except TimeoutError:
            return None
        kind = event.get("type")
        if kind in ("ChannelDestroyed", "StasisEnd", "ChannelHangupRequest", "_EventsClosed") and kind not in wanted:
            raise _Hangup(str(event.get("cause_txt") or kind))
        if kind in wanted:
            return event


class VoiceAdapter:
    name: ClassVar[str] = "voice"
    addressing: ClassVar[Addressing] = "recipients"
    max_text_length: ClassVar[int | None] = None
    max_recipients_per_request: ClassVar[int | None] = 50
    required_credentials: ClassVar[tuple[str, ...]] = ("ari_user", "ari_password")

    def __init__(self, settings: VoiceSettings, user: str, password: str) -> None:
        self.settings = settings
        self.ari = Ari(settings.ari_url, user, password, settings.app)
        self.events = _Events(self.ari)
        self.memory = Memory()
        self._tries: dict[str, _Tries] = {}
        self._spoken: dict[str, str] = {}  # text digest -> media name
        settings.media_dir.mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_settings(cls, channel: str, settings: ChannelSettings, env: AdapterEnv) -> Self:
        opts: dict[str, Any] = dict(settings.options)
        opts.setdefault("media_dir", str(env.var_dir / "voice"))
        try:
            parsed = VoiceSettings(**opts)
        except ValidationError as e:
            raise ConfigError(f"channel {channel} (tenant {env.tenant}): {e}") from e
        creds = {k: v.get_secret_value() for k, v in settings.credentials.items()}
        return cls(parsed, creds.get("ari_user", ""), creds.get("ari_password", ""))

    # -- audio --------------------------------------------------------------------------------------

    async def media(self, text: str) -> tuple[str, Speech | None]:
        """The media URI that plays `text`; synthesized once per text, off the event loop."""
        spoken = speakable(text)
        digest = hashlib.sha256(spoken.encode("utf-8")).hexdigest()[:20]
        name = self._spoken.get(digest)
        speech: Speech | None = None
        if name is None:
            speech = _SPEECH.get(digest)
            if speech is None:
                speech = await asyncio.to_thread(synthesize, spoken)
                _SPEECH[digest] = speech
                while len(_SPEECH) > 64:
                    _SPEECH.pop(next(iter(_SPEECH)))
            name = f"bc-{digest}"
            path = self.settings.media_dir / f"{name}.wav"
            await asyncio.to_thread(path.write_bytes, speech.wav)
            self._spoken[digest] = name
        prefix = self.settings.media_prefix
        return (f"{prefix}{name}.wav" if "://" in prefix else f"{prefix}{name}"), speech

    # -- one call ---------------------------------------------------------------------------------

    async def _call(self, key: str, number: str, attempt: int, media: dict[str, str]) -> RecipientOutcome:
        s = self.settings
        channel_id = f"bc-{key[:12]}-{hashlib.sha256(number.encode()).hexdigest()[:10]}-{attempt}"
        queue = self.events.register(channel_id)
        try:
            await self.ari.originate(
                endpoint=s.endpoint.format(number=number),
                channel_id=channel_id,
                caller_id=s.caller_id,
                timeout_s=s.ring_s,
                app_args=key[:40],
            )
            try:
                started = await _next(queue, ("StasisStart", "ChannelDestroyed"), s.ring_s + 15)
            except _Hangup as e:
                return RecipientOutcome(recipient=number, outcome="unanswered", reached=False, detail=str(e), attempts=attempt)
            if started is None:
                await self.ari.hangup(channel_id)
                return RecipientOutcome(recipient=number, outcome="unanswered", reached=False, detail="no answer in time", attempts=attempt)
            if started["type"] == "ChannelDestroyed":
                cause = int(started.get("cause", 0) or 0)
                if cause in PERMANENT_CAUSES:
                    return RecipientOutcome(recipient=number, outcome="invalid", reached=False, detail=PERMANENT_CAUSES[cause], attempts=attempt)
                outcome = "busy" if cause == 17 else "unanswered"
                return RecipientOutcome(recipient=number, outcome=outcome, reached=False, detail=NO_ANSWER_CAUSES.get(cause, f"cause {cause}"), attempts=attempt)
            return await asyncio.wait_for(self._answered(channel_id, queue, number, attempt, media), s.call_limit_s)
        except _Hangup as e:
            return RecipientOutcome(recipient=number, outcome="hung_up", reached=True, detail=str(e), attempts=attempt)
        except TimeoutError:
            await self.ari.hangup(channel_id)
            return RecipientOutcome(recipient=number, outcome="no_key", reached=True, detail="call took too long", attempts=attempt)
        finally:
            self.events.release(channel_id)

    async def _answered(
        self, channel_id: str, queue: asyncio.Queue[dict[str, Any]], number: str, attempt: int, media: dict[str, str]
    ) -> RecipientOutcome:
        digit: str | None = None
        for round_ in (1, 2):  # no key after the first reading: once more, then give up
            for part in ("message", "prompt"):
                playback = f"{channel_id}-{part}-{round_}"
                await self.ari.play(channel_id, media[part], playback)
                while digit is None:
                    event = await _next(queue, ("PlaybackFinished", "ChannelDtmfReceived"), 120.0)
                    if event is None or event["type"] == "PlaybackFinished":
                        break
                    digit = str(event.get("digit", ""))
                if digit is not None:
                    break
            if digit is None:
                event = await _next(queue, ("ChannelDtmfReceived",), self.settings.dtmf_timeout_s)
                if event is not None:
                    digit = str(event.get("digit", ""))
            if digit is not None:
                break
        outcome = "no_key" if digit is None else ("help" if digit == HELP_KEY else "heard")
        if digit is not None:
            thanks = media["thanks_help" if outcome == "help" else "thanks"]
            with contextlib.suppress(_Hangup, PermanentError):
                await self.ari.play(channel_id, thanks, f"{channel_id}-thanks")
                await _next(queue, ("PlaybackFinished",), 30.0)
        await self.ari.hangup(channel_id)
        return RecipientOutcome(recipient=number, outcome=outcome, reached=True, detail=f"key {digit}" if digit else "", attempts=attempt)

    # -- a send -----------------------------------------------------------------------------------

    async def send(self, delivery: Delivery) -> SendResult:
        if not delivery.recipients:
            return SendResult(mode="live", accepted=0, detail="no numbers")
        key = delivery.idempotency_key
        text = delivery.text("ja")
        message, speech = await self.media(text.body)
        media = {
            "message": message,
            "prompt": (await self.media(PROMPT))[0],
            "thanks": (await self.media(THANKS_HEARD))[0],
            "thanks_help": (await self.media(THANKS_HELP))[0],
        }
        await self.events.ensure()
        tries = self._tries.setdefault(key, _Tries())
        s = self.settings

        async def one(number: str) -> Answer:
            attempt = tries.attempts.get(number, 0) + 1
            tries.attempts[number] = attempt
            try:
                result = await self._call(key, number, attempt, media)
            except PermanentError as e:
                result = RecipientOutcome(recipient=number, outcome="failed", reached=False, detail=str(e)[:200], attempts=attempt)
            except TransientError as e:
                if attempt >= s.attempts:
                    result = RecipientOutcome(recipient=number, outcome="failed", reached=False, detail=str(e)[:200], attempts=attempt)
                else:
                    return Answer(Outcome.RETRY, str(e)[:200], retry_after=s.retry_after_s)
            tries.outcomes[number] = result
            log.info("voice_call_ended", number=hash_id(number), outcome=result.outcome, attempt=attempt)
            if result.reached:
                return Answer(Outcome.DELIVERED, result.outcome)
            if result.outcome in ("unanswered", "busy") and attempt < s.attempts:
                return Answer(Outcome.RETRY, f"{result.outcome} ({result.detail})", retry_after=s.retry_after_s)
            return Answer(Outcome.REFUSED, f"{result.outcome} after {attempt} call(s)")

        rnd = await fan_out(
            key, delivery.recipients, one, memory=self.memory, concurrency=s.max_calls, label=hash_id
        )
        outcomes = tuple(tries.outcomes[n] for n in dict.fromkeys(delivery.recipients) if n in tries.outcomes)
        try:
            result = rnd.result(noun="numbers", partial_ok=True, ref=key)
        except (TransientError, PermanentError) as e:
            # The worker records them whatever the dispatch's end (broadcaster/pipeline/channel.py).
            setattr(e, "outcomes", outcomes)  # noqa: B010
            raise
        helps = sum(1 for o in outcomes if o.outcome == "help")
        detail = result.detail or ""
        if helps:
            detail += f"; {helps} need help"
        if speech is not None:
            detail += f"; message {speech.check.duration_s:.1f} s"
        return result.model_copy(update={"outcomes": outcomes, "detail": detail})

    async def close(self) -> None:
        await self.events.close()
        await self.ari.close()
