"""The contract between channel workers and outbound adapters (adapters/outbound/*).

An adapter knows one outside system. It takes a rendered Delivery and returns a SendResult with
the provider's reference, or raises TransientError (connection failure, timeout, 429, 5xx; with
retry_after when the provider says) or PermanentError (4xx, a bad recipient). It sends
`delivery.idempotency_key` where the provider honours one. It never touches the bus or the
database: the worker around it records the receipt and acknowledges the message.

Adapters are registered under the entry-point group ``broadcaster.channels``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from broadcaster.model import Alert, Dispatch


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


class SendResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    provider_ref: str | None = None
    # "live" for a real provider, "outbox" when the channel had no credentials and wrote there.
    mode: str = "live"
    accepted: int = 0
    detail: str | None = None


@runtime_checkable
class ChannelAdapter(Protocol):
    name: ClassVar[str]
    # Limits the renderer enforces before an adapter ever sees the text.
    max_text_length: ClassVar[int | None]
    max_recipients_per_request: ClassVar[int | None]

    async def send(self, delivery: Delivery) -> SendResult: ...

    async def close(self) -> None: ...
