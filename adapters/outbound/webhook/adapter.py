"""The generic webhook channel: one signed JSON POST per subscriber (docs/webhook.md).

Every subscriber (options.subscribers: name and URL) gets the same body: the alert as
CAP-aligned JSON (``Alert.model_dump(by_alias=True)``), the channel's rendered text and the
dispatch's identity, with the idempotency key as a header and an HMAC-SHA256 signature over the
timestamp and the body (signing.py) made with that subscriber's own secret.

Several subscribers, one dispatch: a subscriber that fails must not make the others receive the
message twice. The adapter sends to each subscriber once per dispatch and remembers who has it
(adapters/outbound/fanout.py); a retry of the dispatch (5xx, 429, a timeout) goes only to the
subscribers still missing. A subscriber that refuses (another 4xx) is given up while the others
are still sent to; the dispatch then ends dead naming it, so the officers see it. After a crash
the memory is lost and a retry may reach a subscriber again with the same Idempotency-Key, which
receivers must use to drop the repeat (docs/decisions.md, decision 2).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, ClassVar, Self

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr, ValidationError

from adapters.outbound.fanout import Answer, Memory, Outcome, fan_out, retry_after
from adapters.outbound.keepalive import open_connection
from adapters.outbound.webhook import signing
from broadcaster.channels import AdapterEnv, Addressing, Delivery, SendResult
from broadcaster.errors import ConfigError
from broadcaster.logging import get_logger
from broadcaster.model import MsgType, Status
from broadcaster.settings import ChannelSettings

log = get_logger(__name__)
_RETRIABLE = frozenset({408, 425, 429})
FORMAT_VERSION = 1


class Subscriber(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9_-]{1,64}$")
    url: HttpUrl
    secret: SecretStr


class WebhookSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    subscribers: tuple[Subscriber, ...] = Field(min_length=1)
    timeout: float = Field(default=10.0, gt=0, le=120)
    tenant_name: str = ""
    public_url: str = "http://127.0.0.1:8080"


def body_of(delivery: Delivery, *, tenant_name: str, public_url: str) -> bytes:
    """The JSON every subscriber receives; the same bytes on every attempt."""
    alert, d = delivery.alert, delivery.dispatch
    data: dict[str, Any] = {
        "version": FORMAT_VERSION,
        "type": alert.msg_type.value.lower(),
        "idempotency_key": delivery.idempotency_key,
        "tenant": d.tenant,
        "tenant_name": tenant_name,
        "drill": alert.status is not Status.ACTUAL,
        "url": f"{public_url.rstrip('/')}/alerts/{d.tenant}/{alert.identifier}",
        "dispatch": {
            "alert_id": d.alert_id,
            "event_key": d.event_key,
            "audience": d.audience,
            "batch": d.batch,
            "revision": d.revision,
            "priority": d.priority.value,
        },
        "texts": [
            {"language": t.language, "title": t.title, "body": t.body, "parts": list(t.parts)}
            for t in delivery.texts
        ],
        "alert": alert.model_dump(mode="json", by_alias=True, exclude_none=True),
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class WebhookAdapter:
    name: ClassVar[str] = "webhook"
    addressing: ClassVar[Addressing] = "broadcast"
    max_text_length: ClassVar[int | None] = None
    max_recipients_per_request: ClassVar[int | None] = None
    # The signing secret of every subscriber without its own (credentials.secret_<name>); without
    # it the channel runs in outbox mode.
    required_credentials: ClassVar[tuple[str, ...]] = ("secret",)

    def __init__(self, settings: WebhookSettings, *, session: aiohttp.ClientSession | None = None) -> None:
        self.settings = settings
        self._by_name = {s.name: s for s in settings.subscribers}
        self._session = session
        self._owns_session = session is None
        self.memory = Memory()

    @classmethod
    def from_settings(cls, channel: str, settings: ChannelSettings, env: AdapterEnv) -> Self:
        """options: subscribers = [{name, url}, ...], timeout. credentials: secret (default for all)
        and secret_<name> (one subscriber's own)."""
        opts: dict[str, Any] = dict(settings.options)
        raw = opts.pop("subscribers", None)
        if not isinstance(raw, list) or not raw:
            raise ConfigError(f"channel {channel}: options.subscribers must list at least one {{name, url}}")
        subscribers = []
        for item in raw:
            if not isinstance(item, dict):
                raise ConfigError(f"channel {channel}: each subscriber is a table with name and url")
            name = str(item.get("name", ""))
            secret = settings.credentials.get(f"secret_{name}") or settings.credentials.get("secret")
            subscribers.append({**item, "secret": secret})
        fields: dict[str, Any] = {
            "subscribers": subscribers,
            "timeout": min(120.0, settings.timeout_s * 0.9),
            "tenant_name": env.tenant_name,
            "public_url": env.public_url,
        }
        if "timeout" in opts:
            fields["timeout"] = opts.pop("timeout")
        if opts:
            raise ConfigError(f"channel {channel}: unknown options {', '.join(sorted(opts))}")
        names = [str(s.get("name")) for s in subscribers]
        if len(set(names)) != len(names):
            raise ConfigError(f"channel {channel}: subscriber names must be unique")
        try:
            return cls(WebhookSettings(**fields))
        except ValidationError as e:
            raise ConfigError(f"channel {channel} (tenant {env.tenant}): {e}") from e

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
            self._owns_session = True
        return self._session

    async def send(self, delivery: Delivery) -> SendResult:
        body = body_of(delivery, tenant_name=self.settings.tenant_name, public_url=self.settings.public_url)
        event = (
            "cancel" if delivery.alert.msg_type is MsgType.CANCEL else delivery.alert.msg_type.value.lower()
        )

        async def one(name: str) -> Answer:
            return await self._post(self._by_name[name], body, delivery.idempotency_key, event)

        rnd = await fan_out(
            delivery.idempotency_key,
            list(self._by_name),
            one,
            memory=self.memory,
            concurrency=len(self._by_name),
        )
        result = rnd.result(noun="subscribers", partial_ok=False, ref=f"webhook:{delivery.idempotency_key}")
        log.info("webhook_sent", delivered=result.accepted, skipped=rnd.skipped)
        return result

    async def _post(self, sub: Subscriber, body: bytes, key: str, event: str) -> Answer:
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": f"broadcaster-webhook/{FORMAT_VERSION}",
            "Idempotency-Key": key,
            "X-Broadcaster-Event": event,
            signing.HEADER: signing.header(sub.secret.get_secret_value().encode("utf-8"), timestamp, body),
        }
        try:
            async with self._client().post(
                str(sub.url),
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout),
            ) as resp:
                status = resp.status
                wait = retry_after(resp.headers.get("Retry-After"))
                await resp.content.read(4096)
        except TimeoutError:
            return Answer(Outcome.RETRY, f"{sub.name}: no answer within {self.settings.timeout:g} s")
        except aiohttp.ClientError as e:
            return Answer(Outcome.RETRY, f"{sub.name}: {type(e).__name__}: {e}")
        if 200 <= status < 300:
            return Answer(Outcome.DELIVERED)
        if status >= 500 or status in _RETRIABLE:
            return Answer(Outcome.RETRY, f"{sub.name}: HTTP {status}", retry_after=wait)
        return Answer(Outcome.REFUSED, f"HTTP {status}")

    async def warm(self) -> None:
        """Open a connection to every subscriber before the first event (concurrently; one
        subscriber down fails the warm-up, which is only logged, and leaves the others open)."""
        timeout = min(self.settings.timeout, 5.0)
        session = self._client()
        results = await asyncio.gather(
            *(open_connection(session, str(s.url), within=timeout) for s in self._by_name.values()),
            return_exceptions=True,
        )
        failed = [f"{name}: {type(r).__name__}: {r}" for name, r in zip(self._by_name, results, strict=True) if isinstance(r, BaseException)]
        if failed:
            raise ConnectionError("; ".join(failed))

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None
