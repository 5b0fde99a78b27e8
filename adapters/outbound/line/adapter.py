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

import asyncio
import hashlib
import json
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Self

import aiohttp

# Imported with this module, which the pipeline loads at start-up to learn the channel's limits:
# the SDK's models take a second to import, and the first warning must not wait for that.
import linebot.v3.insight as sdk_insight
import linebot.v3.messaging as sdk
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr, ValidationError

from adapters.outbound.keepalive import open_connection
from adapters.outbound.line.messages import LineMessage, plan
from adapters.outbound.line.pace import Pace
from broadcaster import safety_links
from broadcaster.channels import AdapterEnv, Addressing, Delivery, DeliveryStat, QuotaState, SendResult
from broadcaster.errors import ConfigError, PermanentError, QuotaExceededError, TransientError
from broadcaster.logging import get_logger
from broadcaster.model import JST
from broadcaster.settings import ChannelSettings, Settings

if TYPE_CHECKING:
    from broadcaster.followers import Conversation, FollowerDesk

log = get_logger(__name__)

# Any fixed namespace works; it only has to stay the same, or retried requests would get new keys.
RETRY_KEY_NAMESPACE = uuid.UUID("4f1b6f3e-2c5d-5a8e-9b7c-6d0e1f2a3b4c")
USER_ID = re.compile(r"U[0-9a-f]{32}")
MULTICAST_MAX = 500
QUOTA_NAME = "LINE monthly messages"


# The narrowcast progress errorCode values, as the reference lists them.
NARROWCAST_FAILURES = {
    1: "an internal error at LINE",
    2: "not enough recipients",
    3: "a request already accepted was retried",
    4: "an audience of fewer than 50 people is part of the target",
    5: "canceled so that only part of the audience would not get it",
}
_UNIT = re.compile(r"[^A-Za-z0-9_]")


def aggregation_unit(tenant: str, event_key: str) -> str:
    """The customAggregationUnits name of an event: at most 30 of [A-Za-z0-9_], as LINE requires,
    the same for every send of the event (its updates and cancel), so statistics add up per event."""
    digest = hashlib.sha256(f"{tenant}\x1f{event_key}".encode()).hexdigest()[:20]
    return f"ev_{_UNIT.sub('', tenant)[:6]}_{digest}"[:30]


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
    # How long a send waits for a narrowcast to leave LINE's "waiting"/"sending" phases before it
    # reports it unfinished (and is retried, which asks LINE again under the same retry key).
    narrowcast_wait: float = Field(default=20.0, ge=0, le=300)
    # Multicasts and pushes name an aggregation unit per event, so that open and click
    # statistics can be read per alert (LINE allows 1,000 units a month per channel).
    aggregation_units: bool = True


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


# Endpoints LINE limits per hour (the reference's rate-limit table: 60 requests an hour for
# broadcast and narrowcast), where waiting a second after a 429 only spends another request.
HOURLY_ENDPOINTS = frozenset({"broadcast", "narrowcast"})


def classify(
    status: int, body: str | bytes | None, headers: Mapping[str, str] | None, *, endpoint: str = ""
) -> Exception:
    """The error to raise for a LINE answer that is neither a success nor a replayed retry key."""
    message = _message(body)
    if status == 429:
        # LINE uses 429 for several limits and says which in the message; a request it answers
        # 429 reached nobody and LINE does not retry it
        # (developers.line.biz/en/docs/messaging-api/handling-http-429-errors/).
        lowered = message.lower()
        if "monthly limit" in lowered:
            return QuotaExceededError(
                "LINE monthly message quota is spent (429: "
                f"{message or 'You have reached your monthly limit.'}); nothing more can be sent on "
                "this account until its plan is raised in LINE Official Account Manager or the month turns"
            )
        if "additional messages" in lowered:
            return QuotaExceededError(
                f"LINE target limit for additional messages is reached (429: {message}); raise it in "
                "LINE Official Account Manager"
            )
        if "concurrent" in lowered:
            return TransientError(
                f"LINE concurrent operations limit (429: {message}); another send to this audience "
                "is still being processed",
                retry_after=_retry_after(headers) or 30.0,
            )
        if endpoint in HOURLY_ENDPOINTS:
            return TransientError(
                f"LINE {endpoint} rate limit exceeded (429: {message}); {endpoint} is limited per hour",
                retry_after=_retry_after(headers) or 60.0,
            )
        if "rate limit" in lowered:
            # LINE sends no Retry-After; the per-second buckets refill within a second.
            return TransientError(
                f"LINE rate limit exceeded (429: {message})", retry_after=_retry_after(headers) or 1.0
            )
        return TransientError(
            f"LINE answered 429 for a limit it did not name ({message})",
            retry_after=_retry_after(headers) or 60.0,
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

    @classmethod
    def conversation(cls, settings: Settings, desk: FollowerDesk) -> Conversation:
        """The LINE account's conversation with its followers, for the web's webhook to hand
        events to (broadcaster.followers.Conversation)."""
        from adapters.outbound.line.conversation import LineConversation

        return LineConversation(settings, desk)

    def __init__(self, settings: LineSettings, *, tenant: str, public_url: str) -> None:
        self._settings = settings
        self._tenant = tenant
        self._public_url = public_url.rstrip("/")
        self._client: Any = None  # linebot's AsyncApiClient
        self._insight: Any = None  # the insight API's client (statistics)
        self._pace = Pace(settings.multicast_per_second)

    @classmethod
    def from_settings(cls, channel: str, settings: ChannelSettings, env: AdapterEnv) -> Self:
        """options: base_url, narrowcast {audience: target}, push_single, notification_disabled,
        max_connections, multicast_per_second, narrowcast_wait, aggregation_units."""
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
            "narrowcast_wait",
            "aggregation_units",
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

    async def warm(self) -> None:
        """Open the connection to the Messaging API before the first send (broadcaster.channels.Warming)."""
        self._api()
        await open_connection(
            self._client.rest_client.pool_manager,
            str(self._settings.base_url),
            within=min(self._settings.timeout, 5.0),
        )
        # The SDK's (pydantic v1) models build their validators on first use: built now, for a
        # message like the ones sent, they cost the first alert nothing.
        bubble = {"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": [{"type": "text", "text": "-"}]}}
        messages = [{"type": "text", "text": "-"}, {"type": "flex", "altText": "-", "contents": bubble}]
        sdk.FlexContainer.from_dict(bubble)
        sdk.MulticastRequest.from_dict({"to": ["U" + "0" * 32], "messages": messages})
        sdk.BroadcastRequest.from_dict({"messages": messages})

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
        if out and safety_links.asks(delivery.alert):
            # A safety check: 無事 / 支援が必要 / 避難済み under the last message, one tap each.
            out[-1] = {**out[-1], "quickReply": safety_links.quick_reply(delivery.dispatch.alert_id)}
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
        endpoint = "broadcast"
        unit = aggregation_unit(d.tenant, delivery.alert.event_key)
        addressed = {**common, "customAggregationUnits": [unit]} if self._settings.aggregation_units else common
        try:
            if users:
                if len(users) == 1 and self._settings.push_single:
                    how = endpoint = "push"
                    resp = await self._api().push_message_with_http_info(
                        sdk.PushMessageRequest.from_dict({"to": users[0], **addressed}),
                        x_line_retry_key=key,
                        _request_timeout=self._settings.timeout,
                    )
                else:
                    how, endpoint = f"multicast to {len(users)}", "multicast"
                    await self._pace.wait()
                    resp = await self._api().multicast_with_http_info(
                        sdk.MulticastRequest.from_dict({"to": users, **addressed}),
                        x_line_retry_key=key,
                        _request_timeout=self._settings.timeout,
                    )
                accepted = len(users)
            elif d.audience in self._settings.narrowcast:
                how, endpoint = f"narrowcast to {d.audience}", "narrowcast"
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
                if endpoint == "narrowcast":
                    # A narrowcast's 202 promised nothing: ask how the first request ended.
                    return await self._narrowcast_outcome(
                        headers["x-line-accepted-request-id"],
                        [*notes, "already accepted under this retry key"],
                        how,
                    )
                return SendResult(
                    provider_ref=headers["x-line-accepted-request-id"],
                    accepted=max(1, len(users)),
                    detail="; ".join(
                        [*notes, "already accepted under this retry key; LINE dropped the repeat"]
                    ),
                )
            raise classify(status, e.body, headers, endpoint=endpoint) from e
        except TimeoutError as e:
            raise TransientError(f"LINE did not answer within {self._settings.timeout:g}s") from e
        except aiohttp.ClientError as e:
            raise TransientError(f"LINE unreachable: {type(e).__name__}: {e}") from e
        except (ValueError, TypeError) as e:
            # The SDK's own models refused the request (pydantic.v1's ValidationError is a
            # ValueError): sending it again cannot help.
            raise PermanentError(f"LINE request not valid: {e}") from e
        headers = resp.headers or {}
        if endpoint == "narrowcast" and headers.get("x-line-request-id"):
            return await self._narrowcast_outcome(headers["x-line-request-id"], notes, how, len(messages))
        sent = getattr(resp.data, "sent_messages", None) or []
        ids = ",".join(str(m.id) for m in sent)
        detail = f"{how}, {len(messages)} message(s)" + (f", message ids {ids}" if ids else "")
        if endpoint in ("push", "multicast") and self._settings.aggregation_units:
            detail += f", unit {unit}"
        return SendResult(
            provider_ref=headers.get("x-line-request-id"),
            accepted=accepted,
            detail="; ".join([detail, *notes]),
        )

    async def _narrowcast_outcome(
        self, request_id: str, notes: list[str], how: str, messages: int | None = None
    ) -> SendResult:
        """How a narrowcast ended. LINE answers 202 when it has only queued the request: it may
        still fail (phase ``failed``: an audience under 50 people, too few recipients, an
        internal error), so it is not delivered until the progress endpoint says ``succeeded``
        (developers.line.biz/en/reference/messaging-api/#get-narrowcast-progress-status)."""
        deadline = time.monotonic() + self._settings.narrowcast_wait
        pause = 0.2
        while True:
            try:
                progress = await self._api().get_narrowcast_progress(
                    request_id, _request_timeout=self._settings.timeout
                )
            except sdk.ApiException as e:
                raise classify(int(e.status or 0), e.body, e.headers) from e
            except (TimeoutError, aiohttp.ClientError) as e:
                raise TransientError(
                    f"LINE accepted narrowcast {request_id} but its progress cannot be read: {e}"
                ) from e
            phase = str(progress.phase)
            if phase == "succeeded":
                done = int(progress.success_count or 0)
                target = progress.target_count
                detail = f"{how}" + (f", {messages} message(s)" if messages is not None else "")
                detail += f", {done} reached" + (f" of {target}" if target is not None else "")
                if progress.failure_count:
                    detail += f", {progress.failure_count} failed"
                return SendResult(provider_ref=request_id, accepted=done, detail="; ".join([detail, *notes]))
            if phase == "failed":
                code = progress.error_code
                why = NARROWCAST_FAILURES.get(int(code), "") if code is not None else ""
                raise PermanentError(
                    f"LINE narrowcast {request_id} failed after it was accepted (errorCode {code}"
                    f"{': ' + why if why else ''}; {progress.failed_description or 'no description'})"
                )
            if time.monotonic() + pause > deadline:
                # Still waiting or sending: the retry sends under the same retry key, LINE answers
                # 409 with this request's id, and its progress is read again.
                raise TransientError(
                    f"LINE narrowcast {request_id} still {phase}; its outcome is read again on retry",
                    retry_after=30.0,
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)

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

    async def quota_state(self) -> list[QuotaState]:
        """The month's allowance as LINE's quota endpoints report it (`broadcaster status`)."""
        q = await self.quota()
        return [
            QuotaState(
                name=QUOTA_NAME,
                unit="messages",
                remaining=q.remaining,
                limit=q.limit,
                spent=q.remaining == 0,
                resets="the 1st of next month (JST)",
                detail=f"{q.used} used this month" + ("" if q.limit is not None else "; no monthly limit"),
            )
        ]

    def quota_needed(self, people: int, posts: Sequence[str]) -> dict[str, float]:
        # LINE counts each recipient once per request, whatever the number of message objects.
        return {QUOTA_NAME: float(people)}

    async def statistics(
        self, tenant: str, event_key: str, refs: Sequence[str], since: date
    ) -> list[DeliveryStat]:
        """LINE's insight for broadcasts and narrowcasts (per request id) and for the event's
        multicasts and pushes (per aggregation unit, from `since` to today). LINE computes them
        some time after the send, and answers nothing for a request under 20 people: such a
        figure stays unknown (developers.line.biz/en/reference/messaging-api/#get-insight-message-event)."""
        insight = sdk_insight.AsyncInsight(self._insight_client())
        out: list[DeliveryStat] = []
        for ref in refs:
            try:
                got = await insight.get_message_event(ref, _request_timeout=self._settings.timeout)
            except sdk_insight.ApiException as e:
                if e.status == 404:
                    continue  # not a broadcast or narrowcast id, or not counted yet
                raise classify(int(e.status or 0), e.body, e.headers) from e
            o = got.overview
            out.append(DeliveryStat(ref, "request", o.delivered, o.unique_impression, o.unique_click))
        if self._settings.aggregation_units:
            unit = aggregation_unit(tenant, event_key)
            # LINE takes a period of at most 30 days.
            until = min(datetime.now(JST).date(), since + timedelta(days=30))
            try:
                got = await insight.get_statistics_per_unit(
                    unit, since.strftime("%Y%m%d"), until.strftime("%Y%m%d"), _request_timeout=self._settings.timeout
                )
            except sdk_insight.ApiException as e:
                raise classify(int(e.status or 0), e.body, e.headers) from e
            o = got.overview
            out.append(DeliveryStat(unit, "unit", None, o.unique_impression, o.unique_click))
        return out

    def _insight_client(self) -> Any:
        if self._insight is None:
            config = sdk_insight.Configuration(
                host=str(self._settings.base_url).rstrip("/"),
                access_token=self._settings.token.get_secret_value(),
            )
            self._insight = sdk_insight.AsyncApiClient(config)
        return self._insight

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
        self._client = None
        if self._insight is not None:
            await self._insight.close()
        self._insight = None


def _valid_flex(message: LineMessage) -> bool:
    # The SDK's models are pydantic.v1 ones, whose ValidationError is a ValueError.
    try:
        sdk.FlexContainer.from_dict(dict(message.flex or {}))
    except (ValueError, TypeError, KeyError, AttributeError):
        return False
    return True
