"""The town app's push channel: Web Push (RFC 8030) to the residents' PWA, encrypted (RFC 8291,
aes128gcm: encrypt.py) and signed (RFC 8292 VAPID: vapid.py, one token per push service origin).

Recipients are the dispatch's batch of subscriptions (their canonical JSON, as the PWA stored
them). Each gets one POST to its push service; 201 means the service took it. A 404 or 410 says
the subscription is gone: it is reported in SendResult.gone and the channel worker removes it from
the audience. 429, 5xx and timeouts are retried (only those: see adapters/outbound/fanout.py);
other 4xx refuse that one subscription. It never touches the bus or the database.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from adapters.outbound.app_push import encrypt, payload, pool
from adapters.outbound.app_push.subscription import HostPolicy, Subscription, parse_all, parse_subscription
from adapters.outbound.app_push.vapid import VapidSigner, load_private_key, public_key_b64
from adapters.outbound.fanout import Answer, Memory, Outcome, fan_out, retry_after
from adapters.outbound.keepalive import open_connection
from broadcaster.channels import AdapterEnv, Addressing, Delivery, SendResult
from broadcaster.errors import ConfigError, PermanentError
from broadcaster.logging import get_logger, hash_id
from broadcaster.model import now
from broadcaster.settings import ChannelSettings

log = get_logger(__name__)
_RETRIABLE = frozenset({408, 425, 429})
_NOT_REACHABLE = (".local", ".localhost", ".localdomain", ".internal", ".test", ".invalid", ".example")


def contactable(subject: str) -> bool:
    """Whether a push service's operator could reach `subject`. Apple's push service checks this
    and answers 403 BadJwtToken to a token whose subject it cannot use (a localhost address, a
    space or angle brackets): every iPhone then misses every warning while Android still gets it.
    """
    if subject.startswith("mailto:"):
        host = subject.rsplit("@", 1)[-1]
    elif subject.startswith("https://"):
        host = subject[len("https://") :].split("/", 1)[0].split(":", 1)[0]
    else:
        return False
    host = host.lower().rstrip(".")
    return (
        "." in host
        and not host.endswith(_NOT_REACHABLE)
        and not host.replace(".", "").isdigit()
        and not any(c in subject for c in " <>")
    )


class WebPushSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    vapid_private_key: SecretStr
    # Who runs the application server, for the push service's operators (RFC 8292 §2.1).
    subject: str = Field(pattern=r"^(mailto:[^@\s]+@[^@\s]+|https://\S+)$")
    hosts: HostPolicy = HostPolicy()
    concurrency: int = Field(default=100, ge=1, le=1000)
    timeout: float = Field(default=10.0, gt=0, le=120)
    public_url: str = "http://127.0.0.1:8080"
    # Worker processes that encrypt a batch (pool.py); 0: in the event loop.
    encrypt_processes: int = Field(default=0, ge=0, le=256)

    @field_validator("subject")
    @classmethod
    def _reachable(cls, v: str) -> str:
        if not contactable(v):
            raise ValueError(
                f"subject {v!r} is no contact a push service can use (Apple answers 403 BadJwtToken "
                "to a localhost or made-up domain): set options.subject to the town's mailto: "
                "address or https: site"
            )
        return v


class WebPushAdapter:
    name: ClassVar[str] = "app_push"
    addressing: ClassVar[Addressing] = "recipients"
    # Japanese is three bytes a character in UTF-8 and the payload must stay under 3993 bytes
    # with its JSON around it; the payload builder still cuts a longer one.
    max_text_length: ClassVar[int | None] = 1000
    max_recipients_per_request: ClassVar[int | None] = 1000
    required_credentials: ClassVar[tuple[str, ...]] = ("vapid_private_key",)

    def __init__(
        self,
        settings: WebPushSettings,
        *,
        session: aiohttp.ClientSession | None = None,
        origins_file: Path | None = None,
    ) -> None:
        self.settings = settings
        # The push services this town's subscribers use, kept so that the warm-up after a restart
        # knows where to connect (origins only: nothing of any subscriber).
        self.origins_file = origins_file
        # origin → how many connections one send used there at most (its subscriptions, up to the
        # concurrency): what the warm-up opens.
        self._origins: dict[str, int] = _read_origins(origins_file)
        self.signer = VapidSigner(
            load_private_key(settings.vapid_private_key.get_secret_value()), settings.subject
        )
        self._session = session
        self._owns_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=settings.timeout)
        self.memory = Memory()
        self.pool = pool.shared(settings.encrypt_processes) if settings.encrypt_processes else None

    # The web's side of the channel (broadcaster.channels.DeviceSubscriptions): it takes the
    # residents' subscriptions and serves the key, and asks the channel how.
    @classmethod
    def subscription_address(cls, data: Any, options: Mapping[str, Any]) -> str:
        return parse_subscription(data, HostPolicy.from_options(options)).canonical()

    @classmethod
    def application_server_key(cls, private_key: str) -> str:
        return public_key_b64(load_private_key(private_key))

    @classmethod
    def from_settings(cls, channel: str, settings: ChannelSettings, env: AdapterEnv) -> Self:
        """credentials: vapid_private_key. options: subject (a mailto: or https: contact the push
        services' operators can reach; default the public URL when it is https, else required),
        allowed_hosts / extra_hosts / allow_http (which push services may be called),
        concurrency, timeout, encrypt_processes (0, a count, or "auto": one per core)."""
        opts: dict[str, Any] = dict(settings.options)
        subject = opts.pop("subject", None)
        if subject is None:
            if not env.public_url.startswith("https://"):
                raise ConfigError(
                    f"channel {channel} (tenant {env.tenant}): options.subject is required when the "
                    "public URL is not https (the town's mailto: address); push services refuse a "
                    "made-up contact"
                )
            subject = env.public_url
        fields: dict[str, Any] = {
            "vapid_private_key": settings.credentials.get("vapid_private_key"),
            "subject": subject,
            "hosts": HostPolicy.from_options(opts),
            "timeout": min(120.0, settings.timeout_s * 0.9),
            "public_url": env.public_url,
        }
        for k in ("allowed_hosts", "extra_hosts", "allow_http"):
            opts.pop(k, None)
        for k in ("concurrency", "timeout"):
            if k in opts:
                fields[k] = opts.pop(k)
        if "encrypt_processes" in opts:
            try:
                fields["encrypt_processes"] = pool.processes_for(opts.pop("encrypt_processes"))
            except ValueError as e:
                raise ConfigError(f"channel {channel}: options.encrypt_processes: {e}") from e
        if opts:
            raise ConfigError(f"channel {channel}: unknown options {', '.join(sorted(opts))}")
        try:
            return cls(
                WebPushSettings(**fields), origins_file=env.var_dir / "app_push" / channel / f"{env.tenant}.origins.json"
            )
        except ValidationError as e:
            raise ConfigError(f"channel {channel} (tenant {env.tenant}): {e}") from e

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self.settings.concurrency, limit_per_host=self.settings.concurrency
                )
            )
            self._owns_session = True
        return self._session

    async def send(self, delivery: Delivery) -> SendResult:
        alert = delivery.alert
        d = delivery.dispatch
        parsed = parse_all(delivery.recipients, self.settings.hosts)
        language = d.languages[0] if d.languages else "ja"
        # The renderer's link when the text carries one (an e-circular's notice opens the
        # leader's own page); else the alert's page.
        page = f"{self.settings.public_url.rstrip('/')}/alerts/{d.tenant}/{alert.identifier}"
        url = str(delivery.text(language).extra.get("url") or page)
        try:
            data = payload.build(delivery, language, url)
        except ValueError as e:
            raise PermanentError(str(e)) from e
        headers = {"Urgency": payload.urgency(alert), "Topic": payload.topic(d.tenant, alert.event_key)}
        ttl = payload.ttl(alert, now())
        subs = dict(parsed.good)
        refused = set(parsed.refused)
        self._seen(subs)
        request_headers = {
            **headers,
            "TTL": str(ttl),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
        }
        pooled = await self._in_pool(delivery, subs, data, request_headers)

        async def one(address: str) -> Answer:
            answer = pooled.get(address)
            if answer is not None:
                return answer
            sub = subs.get(address)
            if sub is not None:
                return await self._push(sub, data, headers, ttl)
            if address in refused:
                return Answer(Outcome.REFUSED, "push service not allowed by the settings")
            return Answer(Outcome.GONE, "not a valid subscription")

        rnd = await fan_out(
            delivery.idempotency_key,
            delivery.recipients,
            one,
            memory=self.memory,
            concurrency=self.settings.concurrency,
            label=hash_id,
        )
        result = rnd.result(noun="subscriptions", partial_ok=True, ref=f"webpush:{alert.identifier}")
        log.info(
            "push_sent",
            delivered=result.accepted,
            gone=len(result.gone),
            skipped=rnd.skipped,
            urgency=headers["Urgency"],
            ttl=ttl,
        )
        return result

    async def warm(self) -> None:
        """Open a connection to each push service this town's subscribers used, and sign its VAPID
        token, before the first message (broadcaster.channels.Warming)."""
        if self.pool is not None:
            await self.pool.warm()  # spawn the workers now, not on the first large batch
        origins = sorted(self._origins)
        timeout = min(self.settings.timeout, 5.0)
        # One message encrypted for a throwaway key: the crypto library's first use costs more
        # than a message, and the first alert need not pay it.
        encrypt.encrypt(b"-", encrypt.throwaway_public_key(), os.urandom(16))
        for origin in origins:
            self.signer.header(origin)
        results = await asyncio.gather(
            *(
                open_connection(self._client(), origin, within=timeout, count=self._origins[origin])
                for origin in origins
            ),
            return_exceptions=True,
        )
        failed = [f"{o}: {type(r).__name__}: {r}" for o, r in zip(origins, results, strict=True) if isinstance(r, BaseException)]
        if failed:
            raise ConnectionError("; ".join(failed))

    def _seen(self, subs: Mapping[str, Subscription]) -> None:
        """Note the push services of this send and how many of its messages each got at once."""
        per: dict[str, int] = {}
        for sub in subs.values():
            per[sub.origin] = per.get(sub.origin, 0) + 1
        changed = False
        for origin, n in per.items():
            n = min(n, self.settings.concurrency)
            if self._origins.get(origin, 0) < n:
                self._origins[origin] = n
                changed = True
        if not changed or self.origins_file is None:
            return
        try:
            self.origins_file.parent.mkdir(parents=True, exist_ok=True)
            self.origins_file.write_text(json.dumps(dict(sorted(self._origins.items()))), encoding="utf-8")
        except OSError as e:  # only the next restart's warm-up needs it
            log.warning("push_origins_not_kept", error=str(e)[:200])

    async def _in_pool(
        self, delivery: Delivery, subs: Mapping[str, Subscription], data: bytes, headers: dict[str, str]
    ) -> dict[str, Answer]:
        """The answers of this attempt's messages encrypted and posted by the pool's processes,
        when there is a pool and enough of them; else nothing here, and each is sent from the
        event loop. Only what fan_out would send now goes (a retry: those not yet delivered)."""
        if self.pool is None:
            return {}
        todo = [a for a in self.memory.pending(delivery.idempotency_key, delivery.recipients) if a in subs]
        if len(todo) < pool.MIN_BATCH:
            return {}
        items: list[tuple[str, str, str, str]] = []
        sent: list[str] = []
        out: dict[str, Answer] = {}
        for address in todo:
            sub = subs[address]
            try:
                auth = self.signer.header(sub.origin)  # signed here: the key stays in this process
            except ConfigError as e:
                out[address] = Answer(Outcome.REFUSED, str(e))
                continue
            items.append((sub.endpoint, sub.p256dh, sub.auth, auth))
            sent.append(address)
        posted = await self.pool.send(
            data, items, headers, limit_s=self.settings.timeout, concurrency=self.settings.concurrency
        )
        for address, p in zip(sent, posted, strict=True):
            out[address] = self._meaning(p)
        return out

    def _meaning(self, p: pool.Posted) -> Answer:
        """A worker's answer as the adapter reads the push service's (as _answer does)."""
        if p.unusable:
            return Answer(Outcome.GONE, f"cannot encrypt for it: {p.reason}")
        if p.status is None:
            return Answer(Outcome.RETRY, p.reason)
        if p.status in (200, 201, 202):
            return Answer(Outcome.DELIVERED)
        if p.status in (404, 410):
            return Answer(Outcome.GONE, f"HTTP {p.status}")
        if p.status == 403 and p.reason == "BadJwtToken":
            return Answer(Outcome.REFUSED, self._bad_jwt())
        if p.status >= 500 or p.status in _RETRIABLE:
            return Answer(Outcome.RETRY, f"HTTP {p.status}", retry_after=retry_after(p.retry_after))
        return Answer(Outcome.REFUSED, f"HTTP {p.status}")

    def _bad_jwt(self) -> str:
        return (
            f"HTTP 403 BadJwtToken: the push service refused the VAPID token "
            f"(subject {self.settings.subject!r}); set options.subject to a contact it accepts"
        )

    async def _push(self, sub: Subscription, data: bytes, headers: dict[str, str], ttl: int) -> Answer:
        try:
            auth = self.signer.header(sub.origin)
        except ConfigError as e:
            return Answer(Outcome.REFUSED, str(e))
        try:
            body = encrypt.encrypt(data, _b64(sub.p256dh), _b64(sub.auth))
        except (ValueError, binascii.Error) as e:
            # Keys no encryption can use (a stored address that was never proven): never works.
            return Answer(Outcome.GONE, f"cannot encrypt for it: {type(e).__name__}")
        request_headers = {
            **headers,
            "Authorization": auth,
            "TTL": str(ttl),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
        }
        try:
            # One session per adapter: its connector keeps connections to each push service alive
            # between messages and batches, so only the first message pays for the handshake.
            async with self._client().post(
                sub.endpoint,
                data=body,
                headers=request_headers,
                timeout=self._timeout,
            ) as resp:
                return await self._answer(resp)
        except TimeoutError:
            return Answer(Outcome.RETRY, f"no answer within {self.settings.timeout:g} s")
        except aiohttp.ClientError as e:
            return Answer(Outcome.RETRY, f"{type(e).__name__}: {e}")

    async def _answer(self, resp: aiohttp.ClientResponse) -> Answer:
        status = resp.status
        if status in (200, 201, 202):
            return Answer(Outcome.DELIVERED)
        if status in (404, 410):
            return Answer(Outcome.GONE, f"HTTP {status}")
        if status == 403 and await _reason(resp) == "BadJwtToken":
            return Answer(Outcome.REFUSED, self._bad_jwt())
        if status >= 500 or status in _RETRIABLE:
            return Answer(
                Outcome.RETRY, f"HTTP {status}", retry_after=retry_after(resp.headers.get("Retry-After"))
            )
        return Answer(Outcome.REFUSED, f"HTTP {status}")

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None


async def _reason(resp: aiohttp.ClientResponse) -> str:
    """Apple's push service names its refusals in a JSON body ({"reason": "BadJwtToken"})."""
    try:
        data = json.loads((await resp.read())[:4096])
    except (ValueError, aiohttp.ClientError):
        return ""
    return str(data.get("reason", "")) if isinstance(data, dict) else ""


def _read_origins(path: Path | None) -> dict[str, int]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        str(o): max(1, min(int(n), 1000))
        for o, n in data.items()
        if isinstance(o, str) and o.startswith(("https://", "http://")) and isinstance(n, int)
    }


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
