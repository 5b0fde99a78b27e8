"""The bus contract, run unchanged against every bus implementation (see conftest `any_bus`)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable

import pytest

from broadcaster.bus import Ack, Bus, DeadLetter, Outcome, Outgoing, Record, Retry, TopicSpec
from broadcaster.bus.protocol import H_ATTEMPT, H_ORIGIN_TOPIC, H_REASON
from broadcaster.bus.topics import dead_letter_topic
from broadcaster.errors import ConfigError

TIERS = [0.5, 2.0]


def _topic() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def _group() -> str:
    return f"g{uuid.uuid4().hex[:10]}"


class Running:
    """A consumer running in the background with a handler; stop() waits for it to finish."""

    def __init__(
        self, bus: Bus, group: str, topics: list[str], handler: Callable[[Record], Awaitable[Outcome]]
    ):
        self.consumer = bus.consumer(group, topics, retry_tiers=TIERS)
        self.task = asyncio.create_task(self.consumer.run(handler))

    async def stop(self) -> None:
        await self.consumer.stop()
        await asyncio.wait_for(self.task, timeout=60)


async def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def test_order_is_kept_per_key(any_bus: Bus) -> None:
    topic = _topic()
    await any_bus.ensure_topics([TopicSpec(topic, 4)])
    keys = [f"k{i}" for i in range(6)]
    sent: dict[str, list[int]] = defaultdict(list)
    batch = []
    for n in range(300):
        key = keys[n % len(keys)]
        sent[key].append(n)
        batch.append(Outgoing(topic, str(n).encode(), key))
    await any_bus.publish_many(batch[:150])
    for m in batch[150:]:
        await any_bus.publish(m.topic, m.value, key=m.key)

    seen: dict[str, list[int]] = defaultdict(list)
    partitions: dict[str, set[int]] = defaultdict(set)

    async def handle(r: Record) -> Outcome:
        seen[r.key].append(int(r.value))
        partitions[r.key].add(r.partition)
        return Ack()

    run = Running(any_bus, _group(), [topic], handle)
    await wait_for(lambda: sum(map(len, seen.values())) == 300)
    await run.stop()
    assert dict(seen) == dict(sent)
    assert all(len(p) == 1 for p in partitions.values()), "one key, one partition"


async def test_unacknowledged_message_is_redelivered(any_bus: Bus) -> None:
    topic, group = _topic(), _group()
    await any_bus.ensure_topics([TopicSpec(topic, 1)])
    for n in range(5):
        await any_bus.publish(topic, str(n).encode(), key="same")

    first: list[int] = []
    stuck = asyncio.Event()

    async def crash_on_third(r: Record) -> Outcome:
        n = int(r.value)
        if n == 2:
            stuck.set()
            await asyncio.Event().wait()  # the process "dies" in the middle of this message
        first.append(n)
        return Ack()

    run = Running(any_bus, group, [topic], crash_on_third)
    await asyncio.wait_for(stuck.wait(), 30)
    run.task.cancel()  # no graceful stop: nothing more is committed
    with pytest.raises(asyncio.CancelledError):
        await run.task
    assert first == [0, 1]

    second: list[int] = []

    async def handle(r: Record) -> Outcome:
        second.append(int(r.value))
        return Ack()

    run2 = Running(any_bus, group, [topic], handle)
    await wait_for(lambda: len(second) >= 3)
    await run2.stop()
    # The message in hand at the crash comes back; the acknowledged ones do not.
    assert second == [2, 3, 4]


async def test_retry_comes_back_after_its_delay_without_blocking_others(any_bus: Bus) -> None:
    topic = _topic()
    await any_bus.ensure_topics([TopicSpec(topic, 1)])
    await any_bus.publish(topic, b"flaky", key="k")
    await any_bus.publish(topic, b"fine", key="k")
    handled: list[tuple[str, int, float]] = []

    async def handle(r: Record) -> Outcome:
        handled.append((r.value.decode(), r.attempt, time.monotonic()))
        if r.value == b"flaky" and r.attempt == 1:
            return Retry(0.4, "provider said 503")
        return Ack()

    run = Running(any_bus, _group(), [topic], handle)
    await wait_for(lambda: len(handled) == 3)
    await run.stop()
    names = [(v, a) for v, a, _ in handled]
    assert names == [("flaky", 1), ("fine", 1), ("flaky", 2)], "the retry waits on its own topic"
    assert handled[2][2] - handled[0][2] >= 0.45, "delay rounded up to the 0.5 s tier"


async def test_dead_letter_keeps_the_message_and_the_reason(any_bus: Bus) -> None:
    topic, group = _topic(), _group()
    await any_bus.ensure_topics([TopicSpec(topic, 2)])
    await any_bus.publish(topic, b"poison", key="p", headers={"x-trace": "abc"})
    await any_bus.publish(topic, b"good", key="g")
    handled: list[bytes] = []

    async def handle(r: Record) -> Outcome:
        handled.append(r.value)
        return DeadLetter("template missing") if r.value == b"poison" else Ack()

    run = Running(any_bus, group, [topic], handle)
    await wait_for(lambda: len(handled) == 2)
    dead: list[Record] = []
    for _ in range(100):
        dead = await any_bus.messages(dead_letter_topic(group))
        if dead:
            break
        await asyncio.sleep(0.1)
    await run.stop()
    assert len(dead) == 1
    assert dead[0].value == b"poison"
    assert dead[0].headers[H_REASON] == "template missing"
    assert dead[0].headers[H_ORIGIN_TOPIC] == topic
    assert dead[0].headers["x-trace"] == "abc"
    assert sorted(handled) == [b"good", b"poison"], "a dead letter is not handled again"


async def test_two_groups_each_see_everything_and_only_their_own_retries(any_bus: Bus) -> None:
    topic = _topic()
    await any_bus.ensure_topics([TopicSpec(topic, 2)])
    for n in range(10):
        await any_bus.publish(topic, str(n).encode(), key=f"k{n}")
    a: list[tuple[int, int]] = []
    b: list[tuple[int, int]] = []

    async def handle_a(r: Record) -> Outcome:
        a.append((int(r.value), r.attempt))
        return Retry(0.1, "once more") if r.attempt == 1 and int(r.value) == 3 else Ack()

    async def handle_b(r: Record) -> Outcome:
        b.append((int(r.value), r.attempt))
        return Ack()

    run_a = Running(any_bus, _group(), [topic], handle_a)
    run_b = Running(any_bus, _group(), [topic], handle_b)
    await wait_for(lambda: len(a) == 11 and len(b) == 10)
    await asyncio.sleep(0.8)  # a retry leaking into group b would show up by now
    await run_a.stop()
    await run_b.stop()
    assert sorted(v for v, _ in b) == list(range(10))
    assert all(att == 1 for _, att in b)
    assert sorted(a) == sorted([(n, 1) for n in range(10)] + [(3, 2)])


async def test_handler_exception_is_retried_not_lost(any_bus: Bus) -> None:
    topic = _topic()
    await any_bus.ensure_topics([TopicSpec(topic, 1)])
    await any_bus.publish(topic, b"x", key="k")
    attempts: list[int] = []

    async def handle(r: Record) -> Outcome:
        attempts.append(r.attempt)
        if r.attempt == 1:
            raise RuntimeError("a bug on the first try")
        return Ack()

    run = Running(any_bus, _group(), [topic], handle)
    await wait_for(lambda: len(attempts) == 2)
    await run.stop()
    assert attempts == [1, 2]


async def test_headers_and_attempts_travel_with_the_message(any_bus: Bus) -> None:
    topic = _topic()
    await any_bus.ensure_topics([TopicSpec(topic, 1)])
    await any_bus.publish(topic, "日本語の本文".encode(), key="鍵", headers={"x-tenant": "anamizu"})
    got: list[Record] = []

    async def handle(r: Record) -> Outcome:
        got.append(r)
        return Ack()

    run = Running(any_bus, _group(), [topic], handle)
    await wait_for(lambda: len(got) == 1)
    await run.stop()
    assert got[0].value.decode() == "日本語の本文"
    assert got[0].key == "鍵"
    assert got[0].headers["x-tenant"] == "anamizu"
    assert H_ATTEMPT not in got[0].headers
    assert got[0].attempt == 1


async def test_topic_cannot_shrink_or_grow_silently(any_bus: Bus) -> None:
    topic = _topic()
    await any_bus.ensure_topics([TopicSpec(topic, 3)])
    await any_bus.ensure_topics([TopicSpec(topic, 3)])  # the same spec again is fine
    with pytest.raises(ConfigError):
        await any_bus.ensure_topics([TopicSpec(topic, 5)])


async def test_lag_counts_what_a_group_has_not_committed(any_bus: Bus) -> None:
    topic, group = _topic(), _group()
    await any_bus.ensure_topics([TopicSpec(topic, 2)])
    for n in range(7):
        await any_bus.publish(topic, b"m", key=f"k{n}")
    assert (await any_bus.lag(group, [topic]))[topic] == 7
    count = 0

    async def handle(r: Record) -> Outcome:
        nonlocal count
        count += 1
        return Ack()

    run = Running(any_bus, group, [topic], handle)
    await wait_for(lambda: count == 7)
    await run.stop()
    assert (await any_bus.lag(group, [topic]))[topic] == 0
