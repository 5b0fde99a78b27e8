"""The contract between channel workers and outbound adapters (adapters/outbound/*).

An adapter knows one outside system. It takes a rendered Delivery and returns a SendResult with
the provider's reference, or raises TransientError (connection failure, timeout, 429, 5xx; with
retry_after when the provider says) or PermanentError (4xx, a bad recipient). It sends
`delivery.idempotency_key` where the provider honours one. It never touches the bus or the
database: the worker around it records the receipt and acknowledges the message.

Adapters are registered under the entry-point group ``broadcaster.channels``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, Self, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from broadcaster.model import Alert, Dispatch
from broadcaster.settings import ChannelSettings

# How a channel reaches people: "broadcast" channels reach their whole audience at once (a web
# page, an SNS account, a webhook), "recipients" channels need each address (e-mail, web push),
# "both" can do either (LINE: broadcast to every follower, or multicast to a district's).
# "topics": the provider fans out by topic (FCM topics); a dispatch's recipients are the
# audience's device topics (broadcaster/audience.py), never people.
Addressing = Literal["broadcast", "recipients", "both", "topics"]


@dataclass(frozen=True, slots=True)
class ChannelProfile:
    addressing: Addressing
    max_text_length: int | None
    max_recipients_per_request: int | None
    # The only kinds the channel may carry (None: any). Routing leaves the channel out for other
    # kinds whatever a rule says (緊急速報メール: evacuation, shelter and damage only).
    kinds: frozenset[str] | None = None


AREA_MAIL_KINDS = frozenset({"evacuation", "shelter", "damage"})

# Profiles of the standard channels, used while a channel has no live adapter installed (it then
# runs in outbox mode, but routing and rendering must already treat it as the real thing).
STANDARD_PROFILES: dict[str, ChannelProfile] = {
    "website": ChannelProfile("broadcast", None, None),
    "app_push": ChannelProfile("recipients", 4000, 1000),
    # The town's native app through FCM: a 4096-byte payload, Japanese three bytes a character.
    "fcm": ChannelProfile("recipients", 1000, 500),
    "line": ChannelProfile("both", 5000, 500),
    # Each social network is a channel of its own, so that one's rate limit never delays another.
    # X weighs a Japanese character as two of its 280, so 140 characters fill a post.
    "x": ChannelProfile("broadcast", 140, None),
    "mastodon": ChannelProfile("broadcast", 500, None),
    "bluesky": ChannelProfile("broadcast", 300, None),
    "email": ChannelProfile("recipients", None, 50),
    "circular": ChannelProfile("recipients", None, 100),
    "webhook": ChannelProfile("broadcast", None, None),
    "lalert_out": ChannelProfile("broadcast", None, None),
    # 緊急速報メール, one channel per carrier (adapters/outbound/area_mail): a 200-character text,
    # and only the town's own disaster and evacuation information.
    **{
        f"area_mail_{carrier}": ChannelProfile("broadcast", 200, None, AREA_MAIL_KINDS)
        for carrier in ("docomo", "kddi", "softbank", "rakuten")
    },
    # One number at a time: an SMS gateway takes one recipient per request (70 UCS-2 characters a
    # segment, three segments), a call is one person.
    "sms": ChannelProfile("recipients", None, 100),
    "voice": ChannelProfile("recipients", None, 50),
}
DEFAULT_PROFILE = ChannelProfile("broadcast", None, None)


def channel_family(channel: str) -> str | None:
    """The family whose templates and limits a channel shares: each carrier's 緊急速報メール
    channel (area_mail_docomo …) is written and measured as `area_mail`."""
    return "area_mail" if channel.startswith("area_mail_") else None


@dataclass(frozen=True, slots=True)
class AdapterEnv:
    """What an adapter may know of the deployment: where to write, how it is reached."""

    tenant: str
    tenant_name: str
    outbox_dir: Path
    var_dir: Path
    public_url: str
    # The tenant's districts as (id, name), for channels that show them (the website's pages).
    districts: tuple[tuple[str, str], ...] = ()
    # The names the tenant's settings give for readers of other languages (name_en): the town's,
    # and the districts' as (id, name); pages in other languages show them (docs/website.md).
    tenant_name_en: str = ""
    districts_en: tuple[tuple[str, str], ...] = ()
    # The tenant's municipality codes (JIS X 0402, six digits), for channels whose area is the
    # municipality itself (緊急速報メール).
    municipality_codes: tuple[str, ...] = ()
    # The zone the tenant's times are shown in (tenants.time_zone; docs/configuration.md).
    time_zone: str = "Asia/Tokyo"
    # The deployment's key for unsubscribe links (broadcaster/unsubscribe.py); None in tests that
    # need none, where e-mail makes one for itself.
    unsubscribe_key: bytes | None = None


class RenderedText(BaseModel):
    """One language's message for one channel, already inside the channel's limits."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    language: str
    kind: str  # template kind: "earthquake", "evacuation", "cancel", ...
    title: str = ""
    body: str
    # The body split to fit the channel (an X thread, LINE's 5 messages, SMS segments); one
    # element when it fits. A cut is always marked in the text itself.
    parts: tuple[str, ...] = ()
    html: str | None = None
    # Channel-specific structures (a LINE Flex bubble, push options) built by the renderer.
    extra: Mapping[str, Any] = Field(default_factory=dict)


class Delivery(BaseModel):
    """Everything an adapter needs for one send. Recipients are the dispatch's fixed batch."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dispatch: Dispatch
    alert: Alert
    texts: tuple[RenderedText, ...] = Field(min_length=1)
    attempt: int = 1

    @property
    def idempotency_key(self) -> str:
        return self.dispatch.key

    @property
    def recipients(self) -> tuple[str, ...]:
        return self.dispatch.recipients

    def text(self, language: str = "ja") -> RenderedText:
        for t in self.texts:
            if t.language == language:
                return t
        return self.texts[0]


class HandOff(BaseModel):
    """A text the channel cannot send itself, handed to the officers to send by hand.

    The channel worker records it (broadcaster/store/handoffs.py) before the dispatch counts as
    done; the console shows it, exactly as it must be entered, until an officer confirms it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    target: str  # what it goes to: "株式会社NTTドコモ 緊急速報「エリアメール」"
    where: str  # what the officer opens to send it
    area: str
    title: str
    body: str
    # What fitting changed (characters replaced, text cut), for the officer to see beside it.
    notes: tuple[str, ...] = ()


class RecipientOutcome(BaseModel):
    """What became of one recipient of a send, where the provider tells (a call answered and the key
    pressed, an SMS delivery receipt). The channel worker records it in the ledger per resident: it
    is what fallback to the resident's next channel and the coverage count read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    recipient: str
    # "heard", "help" (voice: 1 = I need help), "no_key", "unanswered", "busy", "invalid",
    # "delivered", "undelivered", "failed", "sent" (accepted, receipt pending) ...
    outcome: str
    reached: bool
    detail: str = ""
    attempts: int = 1


class SendResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    provider_ref: str | None = None
    # "live" for a real provider, "outbox" when the channel had no credentials and wrote there.
    mode: str = "live"
    accepted: int = 0
    detail: str | None = None
    # Recipients the provider says are gone for good (a push subscription answered 404/410, an
    # unregistered FCM token): the channel worker removes them from the audience.
    gone: tuple[str, ...] = ()
    # Set by a channel in hand-off mode (mode "handoff"): what an officer must send by hand.
    handoff: HandOff | None = None
    # Per recipient, for channels whose provider says (voice, SMS); () for the others.
    outcomes: tuple[RecipientOutcome, ...] = ()


@dataclass(frozen=True, slots=True)
class QuotaState:
    """What a provider's quota leaves for one channel of one town, as the provider last said it.

    `remaining` and `limit` count `unit` (messages, points, US dollars); None when the provider
    does not say. `spent` is true when the quota refuses every send now (a QuotaExceededError is
    what the next send would meet)."""

    name: str  # "LINE monthly messages", "X credits", "Bluesky writes"
    unit: str
    remaining: float | None = None
    limit: float | None = None
    spent: bool = False
    resets: str | None = None  # when it refills, as the provider says it (ISO time or words)
    detail: str = ""

    def refuses(self, needed: float) -> bool:
        """Whether a send needing `needed` units would be refused."""
        return self.spent or (self.remaining is not None and needed > self.remaining)


@runtime_checkable
class QuotaReporting(Protocol):
    """An adapter whose provider has a quota it can report (LINE, X, Bluesky)."""

    async def quota_state(self) -> list[QuotaState]: ...

    def quota_needed(self, people: int, posts: Sequence[str]) -> dict[str, float]:
        """Units of each quota (by name) one send of `posts` (its messages or posts) to `people`
        spends."""
        ...


class DeviceSubscriptions(Protocol):
    """A channel whose addresses the residents' own devices hand in through the web (the town
    app's Web Push, docs/push.md). The web takes sign-ups and serves the key to subscribe with,
    but what a subscription must look like and which key that is are the channel's to say."""

    def subscription_address(self, data: Any, options: Mapping[str, Any]) -> str:
        """The address to keep for the subscription `data` (JSON as the browser sent it), checked
        against the channel's `options`; ValueError, with a reason, when it cannot be kept."""
        ...

    def application_server_key(self, private_key: str) -> str:
        """The public key browsers subscribe with, from the channel's private key credential;
        ConfigError when that key is unusable."""
        ...


@dataclass(frozen=True, slots=True)
class DeliveryStat:
    """What a provider reports of one request or aggregation unit after the send."""

    ref: str  # the request id, or the aggregation unit
    kind: str  # "request" or "unit"
    delivered: int | None = None
    opened: int | None = None  # unique people who opened it (LINE's uniqueImpression)
    clicked: int | None = None


@runtime_checkable
class StatisticsReporting(Protocol):
    """An adapter whose provider reports what became of a send (LINE's insight)."""

    async def statistics(self, tenant: str, event_key: str, refs: Sequence[str], since: date) -> list[DeliveryStat]:
        """The figures of the requests `refs` and of the event's own aggregation unit, if any."""
        ...


class Carried(BaseModel):
    """What one surface of a medium shows of an event now, read back from the medium itself.

    The consistency guard compares it with what the ledger says the medium should show
    (docs/consistency.md). `facts` holds only what the surface says of the message, under the
    names of broadcaster/consistency/facts.py; a list (the banner, the current-alerts API) says
    less than a page.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    surface: str  # "website", "banner", "app_api", "cap_feed", "lalert_out"
    # The event's message the surface shows (None: nothing of the event).
    alert_id: str | None = None
    # For a list of what is in force: whether the event is listed; None for a page or a document.
    listed: bool | None = None
    facts: Mapping[str, str] = Field(default_factory=dict)
    where: str = ""  # the file or address read, for the officer


@runtime_checkable
class MediumReading(Protocol):
    """An adapter that can read back what its medium shows (the website's files, the L-Alert
    document as sent). Channels without it are judged by the provider's accepted record."""

    async def carried(self, event_ids: Sequence[str]) -> list[Carried]:
        """What each surface shows of an event whose messages are `event_ids`, oldest first."""
        ...


@runtime_checkable
class Warming(Protocol):
    """An adapter that can open its provider connections before the first send (optional).

    The channel worker calls `warm` when it starts and again on an idle timer, before a kept-alive
    connection would lapse, so that the first alert after a restart or a quiet week does not pay
    for TCP, TLS and a login on the way out (docs/benchmarks.md, *Cold path*). It sends nothing
    anyone sees; it may raise, and the worker only logs it: a provider that is down at warm-up
    is met again, with the usual retries, by the send itself."""

    async def warm(self) -> None: ...


@runtime_checkable
class ChannelAdapter(Protocol):
    name: ClassVar[str]
    addressing: ClassVar[Addressing]
    # Limits the renderer enforces before an adapter ever sees the text.
    max_text_length: ClassVar[int | None]
    max_recipients_per_request: ClassVar[int | None]
    # Credential names without which the channel runs in outbox mode.
    required_credentials: ClassVar[tuple[str, ...]]

    @classmethod
    def from_settings(cls, channel: str, settings: ChannelSettings, env: AdapterEnv) -> Self: ...

    async def send(self, delivery: Delivery) -> SendResult: ...

    async def close(self) -> None: ...


class Adapters(Protocol):
    """Where a part finds a town's adapter of a channel: the process's pool
    (broadcaster/pipeline/adapters.py, AdapterPool), named here so that the core parts that send
    (the e-circulars' notifier) take it without importing the pipeline."""

    def get(self, tenant: str, channel: str) -> ChannelAdapter: ...
