"""The bus contract: keyed, partitioned, durable topics read by consumer groups.

Two implementations fulfil it: an embedded SQLite log for one machine and Kafka for many. Both
give the same guarantees, which the contract suite in tests/contract checks on each:

* ``publish`` returns only once the message is durable; messages with the same key keep their
  order (they land in the same partition).
* A consumer group sees every message of its topics; within a partition it hands them to the
  handler one at a time, in order, and commits a message only after the handler has returned an
  outcome for it (at-least-once: a crash before the commit means redelivery).
* The handler's outcome decides what happens next: ``Ack``; ``Retry(delay)``, which re-queues the
  message on the group's retry topic for the smallest tier not shorter than the delay, so other
  messages of the partition go on meanwhile; ``DeadLetter(reason)``, which moves it to the group's
  dead-letter topic with the reason. Retry and dead-letter topics belong to the group, so another
  group reading the same topic never sees a second copy.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

# Headers the bus itself sets or reads; everything else is the application's.
H_ATTEMPT = "x-attempt"
H_NOT_BEFORE = "x-not-before"  # epoch seconds; a retry record is not handled before
H_ORIGIN_TOPIC = "x-origin-topic"
H_REASON = "x-reason"
H_GROUP = "x-group"


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: str
    value: bytes
    headers: Mapping[str, str]
    timestamp: float  # epoch seconds when the bus stored it

    @property
    def attempt(self) -> int:
        """1 for the first delivery to the handler; each retry adds one."""
        return int(self.headers.get(H_ATTEMPT, "1"))

    @property
    def origin_topic(self) -> str:
        """The topic the message was first published to (not its retry topic)."""
        return self.headers.get(H_ORIGIN_TOPIC, self.topic)


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    value: bytes
    key: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Ack:
    pass


@dataclass(frozen=True, slots=True)
class Retry:
    delay: float
    reason: str


@dataclass(frozen=True, slots=True)
class DeadLetter:
    reason: str


Outcome = Ack | Retry | DeadLetter
Handler = Callable[[Record], Awaitable[Outcome]]


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    retention_hours: float | None = None


class Consumer(Protocol):
    group: str

    async def run(self, handler: Handler) -> None:
        """Consume until `stop` is called; returns after in-flight handlers have finished."""
        ...

    async def stop(self) -> None: ...

    async def ready(self) -> None:
        """Returns once the consumer holds its partitions and is reading (start-up, tests)."""
        ...


class Bus(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def ensure_topics(self, specs: Sequence[TopicSpec]) -> None:
        """Create missing topics; refuse (ConfigError) an existing one with fewer partitions."""
        ...

    async def publish(
        self, topic: str, value: bytes, *, key: str, headers: Mapping[str, str] | None = None
    ) -> None: ...

    async def publish_many(self, messages: Sequence[Outgoing]) -> None:
        """All or, after an error, possibly some: each message is durable when this returns."""
        ...

    def consumer(self, group: str, topics: Sequence[str], *, retry_tiers: Sequence[float]) -> Consumer: ...

    async def lag(self, group: str, topics: Sequence[str]) -> dict[str, int]:
        """Messages not yet committed by the group, per topic (status and metrics)."""
        ...

    async def messages(self, topic: str) -> list[Record]:
        """Every retained message of a topic (dead-letter inspection, tests); small topics only."""
        ...
