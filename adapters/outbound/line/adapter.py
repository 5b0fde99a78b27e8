"""LINE official account messages through the Messaging API (line-bot-sdk v3, async client).

One dispatch is one request: a dispatch without recipients (audience ``public``) is a broadcast to
every follower, or a narrowcast where the tenant maps the audience to a LINE audience or filter;
a batch of user ids (at most 500, fixed by the route stage) is a multicast, and a batch of one is
a push (a district leader, an officer), whose answer names the message sent. Every request carries
``X-Line-Retry-Key``, a UUID derived from the dispatch's idempotency key: LINE accepts a key once
per day and answers a repeat with 409 and the first request's id, so a retried or redelivered
dispatch is never delivered twice (docs/channels.md).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import aiohttp

# Imported with this module, which the pipeline loads at start-up to learn the channel's limits:
# the SDK's models take a second to import, and the first warning must not wait for that.
import linebot.v3.messaging as sdk
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr, ValidationError

from adapters.outbound.line.messages import LineMessage, plan
from adapters.outbound.line.pace import Pace
from broadcaster.channels import AdapterEnv, Addressing, Delivery, SendResult
from broadcaster.errors import ConfigError, PermanentError, QuotaExceededError, TransientError
from broadcaster.logging import get_logger
from broadcaster.settings import ChannelSettings

log = get_logger(__name__)

# Any fixed namespace works; it only has to stay the same, or retried requests would get new keys.
RETRY_KEY_NAMESPACE = uuid.UUID("4f1b6f3e-2c5d-5a8e-9b7c-6d0e1f2a3b4c")
USER_ID = re.compile(r"U[0-9a-f]{32}")
MULTICAST_MAX = 500


def retry_key(idempotency_key: str) -> str:
    """The X-Line-Retry-Key of a dispatch: LINE wants a UUID, so one is derived from the key."""
    return str(uuid.uuid5(RETRY_KEY_NAMESPACE, idempotency_key))


class LineSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    token: SecretStr
    base_url: HttpUrl = HttpUrl("https://api.line.me")
    timeout: float = Field(default=10.0, gt=0, le=300)
    # audience name → narrowcast target ({"recipient": {...}, "filter": {...}, "limit": {...}} as
    # LINE's narrowcast request has them); used for dispatches without recipients of that audience.
    narrowcast: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # A batch of one user goes out as a push (its answer names the message; replies can quote it).
    push_single: bool = True
    notification_disabled: bool = False
    # The pipeline's partitions bound concurrency; these bound it per process as a second guard.
    max_connections: int = Field(default=32, ge=1, le=1000)
    multicast_per_second: float = Field(default=150.0, gt=0, le=200)


@dataclass(frozen=True, slots=True)
class Quota:
    """The month's message allowance: `limit` None when the plan has none."""

    limit: int | None
    used: int

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)


def _message(body: str | bytes | None) -> str:
    if not body:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except ValueError:
        return text[:200]
    return str(data.get("message", "")) if isinstance(data, dict) else text[:200]


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    value = (headers or {}).get("Retry-After")
    if value is not None and value.strip().isdigit():
        return float(value)
    return None


def classify(status: int, body: str | bytes | None, headers: Mapping[str, str] | None) -> Exception:
    """The error to raise for a LINE answer that is neither a success nor a replayed retry key."""
    message = _message(body)
    if status == 429:
        # One status, two meanings: the month's allowance is spent (nothing helps until the plan
        # is raised or the month turns), or the per-second rate was exceeded (wait and retry).
        if "monthly limit" in message.lower():
            return QuotaExceededError(
                "LINE monthly message quota is spent (429: "
                f"{message or 'You have reached your monthly limit.'}); nothing more can be sent on "
                "this account until its plan is raised in LINE Official Account Manager or the month turns"
            )
        # LINE sends no Retry-After; its buckets refill within a second.
        return TransientError(
            f"LINE rate limit exceeded (429: {message})", retry_after=_retry_after(headers) or 1.0
        )
    if status >= 500 or status == 408:
        return TransientError(f"LINE answered {status}: {message}", retry_after=_retry_after(headers))
    if status == 401:
        return PermanentError(f"LINE refused the channel access token (401: {message}); renew it")
    return PermanentError(f"LINE answered {status}: {message}")


class LineAdapter:
    name: ClassVar[str] = "line"
    addressing: ClassVar[Addressing] = "both"
    # A text message holds 5,000 characters; the renderer splits longer texts into parts.
    max_text_length: ClassVar[int | None] = 5000
    max_recipients_per_request: ClassVar[int | None] = MULTICAST_MAX
    required_credentials: ClassVar[tuple[str, ...]] = ("token",)

    def __init__(self, settings: LineSettings, *, tenant: str, public_url: str) -> None:
        self._settings = settings
        self._tenant = tenant
        self._public_url = public_url.rstrip("/")
        self._client: Any = None  # linebot's AsyncApiClient
        self._pace = Pace(settings.multicast_per_second)

    @classmethod
    def from_settings(cls, channel: str, settings: ChannelSettings, env: AdapterEnv) -> Self:
        """options: base_url, narrowcast {audience: target}, push_single, notification_disabled,
        max_connections, multicast_per_second."""
        opts = dict(settings.options)
        fields: dict[str, Any] = {
            "token": settings.credentials.get("token"),
            # Just under the worker's limit, so that a slow answer is reported here with a reason.
            "timeout": min(300.0, settings.timeout_s * 0.9),
        }
        for name in (
            "base_url",
            "narrowcast",
            "push_single",
            "notification_disabled",
            "max_connections",
            "multicast_per_second",
        ):
            if name in opts:
                fields[name] = opts.pop(name)
        if opts:
            raise ConfigError(f"channel {channel}: unknown options {', '.join(sorted(opts))}")
        try:
            line = LineSettings(**fields)
            # A wrong narrowcast target fails here, at start-up, not with the first warning.
            for target in line.narrowcast.values():
                sdk.NarrowcastRequest.from_dict({"messages": [{"type": "text", "text": "-"}], **target})
        except (ValidationError, ValueError, TypeError) as e:
            raise ConfigError(f"channel {channel} (tenant {env.tenant}): {e}") from e
        return cls(line, tenant=env.tenant, public_url=env.public_url)

    def _api(self) -> Any:
        # Made on first use: the SDK opens its aiohttp session at construction, which needs the loop.
        if self._client is None:
            config = sdk.Configuration(
                host=str(self._settings.base_url).rstrip("/"),
                access_token=self._settings.token.get_secret_value(),
            )
            config.connection_pool_maxsize = self._settings.max_connections
            self._client = sdk.AsyncApiClient(config)
            self._client.user_agent = "broadcaster-line"
        return sdk.AsyncMessagingApi(self._client)

    def _more_url(self, delivery: Delivery) -> str:
        return f"{self._public_url}/alerts/{delivery.dispatch.tenant}/{delivery.alert.identifier}"

    def _messages(self, delivery: Delivery) -> tuple[list[dict[str, Any]], str | None]:
        out: list[dict[str, Any]] = []
        note = None
        for m in plan(delivery.texts, self._more_url(delivery)):
            if m.flex is not None and not _valid_flex(m):
                # The text already went in; a bubble the SDK refuses must not stop the warning.
                note = "flex bubble left out: not a valid Flex container"
                log.warning("line_flex_invalid", language=m.language)
                continue
            out.append(m.as_json())
        return out, note

    async def send(self, delivery: Delivery) -> SendResult:
        d = delivery.dispatch
        messages, note = self._messages(delivery)
        key = retry_key(delivery.idempotency_key)
        common = {"messages": messages, "notificationDisabled": self._settings.notification_disabled}
        notes = [note] if note else []
        users = list(dict.fromkeys(r for r in d.recipients if USER_ID.fullmatch(r)))
        if d.recipients:
            skipped = len(d.recipients) - len(users)
            if skipped:
                # One malformed id would make LINE refuse the whole batch: leave it out and say so.
                notes.append(f"{skipped} recipient(s) not LINE user ids, skipped")
            if not users:
                raise PermanentError("no LINE user id in this batch")
            if len(users) > MULTICAST_MAX:
                raise PermanentError(f"{len(users)} recipients in one batch; LINE takes {MULTICAST_MAX}")
        try:
            if users:
                if len(users) == 1 and self._settings.push_single:
                    how = "push"
                    resp = await self._api().push_message_with_http_info(
                        sdk.PushMessageRequest.from_dict({"to": users[0], **common}),
                        x_line_retry_key=key,
                        _request_timeout=self._settings.timeout,
                    )
                else:
                    how = f"multicast to {len(users)}"
                    await self._pace.wait()
                    resp = await self._api().multicast_with_http_info(
                        sdk.MulticastRequest.from_dict({"to": users, **common}),
                        x_line_retry_key=key,
                        _request_timeout=self._settings.timeout,
                    )
                accepted = len(users)
            elif d.audience in self._settings.narrowcast:
                how = f"narrowcast to {d.audience}"
                resp = await self._api().narrowcast_with_http_info(
                    sdk.NarrowcastRequest.from_dict({**self._settings.narrowcast[d.audience], **common}),
                    x_line_retry_key=key,
                    _request_timeout=self._settings.timeout,
                )
                accepted = 1
            else:
                how = "broadcast"
                resp = await self._api().broadcast_with_http_info(
                    sdk.BroadcastRequest.from_dict(common),
                    x_line_retry_key=key,
                    _request_timeout=self._settings.timeout,
                )
                accepted = 1
        except sdk.ApiException as e:
            status = int(e.status or 0)
            headers = e.headers or {}
            if status == 409 and headers.get("x-line-accepted-request-id"):
                # The same retry key was accepted before (a retry after a lost answer, or a
                # redelivery after a crash): LINE delivered it then and drops this repeat.
                return SendResult(
                    provider_ref=headers["x-line-accepted-request-id"],
                    accepted=max(1, len(users)),
                    detail="; ".join(
                        [*notes, "already accepted under this retry key; LINE dropped the repeat"]
                    ),
                )
            raise classify(status, e.body, headers) from e
        except TimeoutError as e:
            raise TransientError(f"LINE did not answer within {self._settings.timeout:g}s") from e
        except aiohttp.ClientError as e:
            raise TransientError(f"LINE unreachable: {type(e).__name__}: {e}") from e
        except (ValueError, TypeError) as e:
            # The SDK's own models refused the request (pydantic.v1's ValidationError is a
            # ValueError): sending it again cannot help.
            raise PermanentError(f"LINE request not valid: {e}") from e
        headers = resp.headers or {}
        sent = getattr(resp.data, "sent_messages", None) or []
        ids = ",".join(str(m.id) for m in sent)
        detail = f"{how}, {len(messages)} message(s)" + (f", message ids {ids}" if ids else "")
        return SendResult(
            provider_ref=headers.get("x-line-request-id"),
            accepted=accepted,
            detail="; ".join([detail, *notes]),
        )

    async def quota(self) -> Quota:
        """This month's allowance and use (for `broadcaster check` and the officers' dashboard)."""
        api = self._api()
        try:
            q = await api.get_message_quota(_request_timeout=self._settings.timeout)
            used = await api.get_message_quota_consumption(_request_timeout=self._settings.timeout)
        except sdk.ApiException as e:
            raise classify(int(e.status or 0), e.body, e.headers) from e
        except (TimeoutError, aiohttp.ClientError) as e:
            raise TransientError(f"LINE unreachable: {type(e).__name__}: {e}") from e
        limit = int(q.value) if q.type == "limited" and q.value is not None else None
        return Quota(limit=limit, used=int(used.total_usage))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
        self._client = None


def _valid_flex(message: LineMessage) -> bool:
    # The SDK's models are pydantic.v1 ones, whose ValidationError is a ValueError.
    try:
        sdk.FlexContainer.from_dict(dict(message.flex or {}))
    except (ValueError, TypeError, KeyError, AttributeError):
        return False
    return True
