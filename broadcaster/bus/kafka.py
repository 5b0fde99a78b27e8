"""The Kafka bus (aiokafka): the same contract as the embedded bus, for many machines.

* Producing: acks=all, so a publish returns once the in-sync replicas have it. The idempotent
  producer is a setting, off by default (it needs InitProducerId, which some Kafka-protocol
  brokers lack; the ledger's idempotency keys make it unnecessary for correctness).
* Consuming: manual commits of offset + 1 after the handler decided. One fetch loop per consumer
  feeds one worker per assigned partition, so partitions proceed in parallel and each stays in
  order; a partition whose worker falls behind is paused instead of buffering without end.
* Rebalancing: when partitions are revoked, their workers finish the record in hand and commit
  it before the group moves on, so nothing handled is handled again by the next owner.
* Retry and dead-letter topics are the group's own (topics.py); the consumer creates them when
  missing and reads its retry topics like any other, waiting for each head record to come due.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from broadcaster.bus.protocol import Ack, DeadLetter, Handler, Outcome, Outgoing, Record, Retry, TopicSpec
from broadcaster.bus.topics import (
    dead_letter_message,
    dead_letter_topic,
    is_retry_topic,
    not_before,
    retry_message,
    tier_topics,
)
from broadcaster.errors import ConfigError, TransientError
from broadcaster.logging import get_logger

log = get_logger(__name__)

MAX_UNEXPECTED_ATTEMPTS = 10
# A partition whose worker has this many records waiting is paused until it catches up.
PAUSE_AT = 200


def _headers(raw: Sequence[tuple[str, bytes]] | None) -> dict[str, str]:
    return {k: v.decode("utf-8", "replace") for k, v in (raw or ())}


class KafkaBus:
    def __init__(
        self,
        bootstrap: str,
        *,
        partitions: int = 8,
        replication: int = 1,
        client_id: str = "broadcaster",
        idempotent: bool = False,
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 1_000,
        prefix: str = "",
        fetch_max_wait_ms: int = 50,
    ) -> None:
        self.bootstrap = bootstrap
        # Every topic and group name on the cluster starts with this, so that several
        # deployments (a staging and a live one, two prefectures) can share one cluster.
        self.prefix = prefix
        # How long the broker may hold a fetch when nothing is there. Brokers answer at once
        # when data arrives, but some Kafka-protocol brokers wait the full time, so this bounds
        # the latency each hop may add.
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.default_partitions = partitions
        self.replication = replication
        self.client_id = client_id
        self.idempotent = idempotent
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self._producer: AIOKafkaProducer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._known: dict[str, int] = {}
        self._topic_lock = asyncio.Lock()

    async def start(self) -> None:
        if self._producer is not None:
            return
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=f"{self.client_id}-admin")
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            client_id=self.client_id,
            acks="all",
            enable_idempotence=self.idempotent,
            linger_ms=0,
            # A raw telegram travels base64 in JSON (4/3 of its size): room for the hooks'
            # 1 MB bodies. Topics need max.message.bytes to match (deploy/kafka/topics.yaml).
            max_request_size=4 * 1024 * 1024,
        )
        try:
            await admin.start()
            await producer.start()
        except KafkaError as e:
            await producer.stop()
            await admin.close()
            raise TransientError(f"Kafka at {self.bootstrap} is not reachable: {e}") from e
        self._admin, self._producer = admin, producer

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
        if self._admin is not None:
            await self._admin.close()
            self._admin = None

    # -- topics -------------------------------------------------------------------------------

    def wire(self, name: str) -> str:
        """The name of a topic or group on the cluster."""
        return self.prefix + name

    def unwire(self, name: str) -> str:
        return name[len(self.prefix) :] if self.prefix and name.startswith(self.prefix) else name

    async def _partitions(self, names: Sequence[str]) -> dict[str, int]:
        assert self._admin is not None
        existing = set(await self._admin.list_topics())
        wanted = [self.wire(n) for n in names if self.wire(n) in existing]
        if not wanted:
            return {}
        described = await self._admin.describe_topics(wanted)
        return {self.unwire(d["topic"]): len(d["partitions"]) for d in described if not d.get("error_code")}

    async def ensure_topics(self, specs: Sequence[TopicSpec]) -> None:
        assert self._admin is not None
        async with self._topic_lock:
            have = await self._partitions([s.name for s in specs])
            for spec in specs:
                if spec.name in have and have[spec.name] != spec.partitions:
                    raise ConfigError(
                        f"Kafka topic {spec.name} has {have[spec.name]} partitions, settings ask for "
                        f"{spec.partitions}; change one of them (adding partitions moves keys between them)"
                    )
            missing = [s for s in specs if s.name not in have]
            if missing:
                result = await self._admin.create_topics(
                    [NewTopic(self.wire(s.name), s.partitions, self.replication) for s in missing]
                )
                for name, code, message in getattr(result, "topic_errors", []):
                    if code not in (0, TopicAlreadyExistsError.errno):
                        raise ConfigError(f"cannot create Kafka topic {name}: {message} (error {code})")
            # A topic just created may take a moment to appear in metadata everywhere.
            for _ in range(50):
                have = await self._partitions([s.name for s in specs])
                if all(s.name in have for s in specs):
                    break
                await asyncio.sleep(0.1)
            self._known.update(have)

    async def _ensure_default(self, names: Sequence[str]) -> None:
        unknown = [n for n in names if n not in self._known]
        if unknown:
            await self.ensure_topics([TopicSpec(n, self.default_partitions) for n in unknown])

    # -- producing ----------------------------------------------------------------------------

    async def publish(self, topic: str, value: bytes, *, key: str, headers: Mapping[str, str] | None = None) -> None:
        await self.publish_many([Outgoing(topic, value, key, dict(headers or {}))])

    async def publish_many(self, messages: Sequence[Outgoing]) -> None:
        if not messages:
            return
        if self._producer is None:
            raise RuntimeError("the bus is not started")
        await self._ensure_default(sorted({m.topic for m in messages}))
        try:
            futures = [
                await self._producer.send(
                    self.wire(m.topic),
                    m.value,
                    key=m.key.encode("utf-8"),
                    headers=[(k, v.encode("utf-8")) for k, v in m.headers.items()],
                )
                for m in messages
            ]
            await asyncio.gather(*futures)
        except KafkaError as e:
            raise TransientError(f"Kafka publish failed: {e}") from e

    # -- consuming ----------------------------------------------------------------------------

    def consumer(self, group: str, topics: Sequence[str], *, retry_tiers: Sequence[float]) -> KafkaConsumer:
        return KafkaConsumer(self, group, list(topics), list(retry_tiers) or [1.0])

    def _new_consumer(self, group: str | None, **extra: Any) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            client_id=f"{self.client_id}-{group or 'reader'}",
            group_id=self.wire(group) if group else None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=self.session_timeout_ms,
            heartbeat_interval_ms=self.heartbeat_interval_ms,
            # Handlers run beside the fetch loop, so polling never stalls; the limit only has to
            # outlast a slow metadata refresh.
            max_poll_interval_ms=300_000,
            fetch_max_wait_ms=self.fetch_max_wait_ms,
            **extra,
        )

    async def lag(self, group: str, topics: Sequence[str]) -> dict[str, int]:
        reader = self._new_consumer(group)
        await reader.start()
        try:
            out: dict[str, int] = {}
            for topic in topics:
                parts = reader.partitions_for_topic(self.wire(topic)) or set()
                tps = [TopicPartition(self.wire(topic), p) for p in sorted(parts)]
                if not tps:
                    out[topic] = 0
                    continue
                ends = await reader.end_offsets(tps)
                total = 0
                for tp in tps:
                    committed = await reader.committed(tp)
                    total += max(0, ends[tp] - (committed or 0))
                out[topic] = total
            return out
        finally:
            await reader.stop()

    async def messages(self, topic: str) -> list[Record]:
        reader = self._new_consumer(None)
        await reader.start()
        try:
            parts = reader.partitions_for_topic(self.wire(topic))
            if not parts:
                return []
            tps = [TopicPartition(self.wire(topic), p) for p in sorted(parts)]
            reader.assign(tps)
            await reader.seek_to_beginning(*tps)
            ends = await reader.end_offsets(tps)
            out: list[Record] = []
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                behind = [tp for tp in tps if await reader.position(tp) < ends[tp]]
                if not behind:
                    break
                batch = await reader.getmany(timeout_ms=200)
                for msgs in batch.values():
                    out.extend(_record(m, self.prefix) for m in msgs)
            return sorted(out, key=lambda r: (r.timestamp, r.partition, r.offset))
        finally:
            with contextlib.suppress(Exception):
                await reader.stop()


def _record(m: Any, prefix: str) -> Record:
    return Record(
        topic=m.topic[len(prefix) :] if prefix else m.topic,
        partition=m.partition,
        offset=m.offset,
        key=(m.key or b"").decode("utf-8", "replace"),
        value=m.value or b"",
        headers=_headers(m.headers),
        timestamp=(m.timestamp or 0) / 1000,
    )


class _PartitionWorker:
    """Handles one partition's records in order; commits each after its outcome."""

    def __init__(self, owner: KafkaConsumer, tp: TopicPartition) -> None:
        self.owner = owner
        self.tp = tp
        self.queue: asyncio.Queue[Record] = asyncio.Queue()
        self.paused = False
        self._stopping = asyncio.Event()
        self.task = asyncio.create_task(self._run(), name=f"kafka:{owner.group}:{tp.topic}:{tp.partition}")

    async def stop(self) -> None:
        """Finish the record in hand (with its commit), drop the rest: they stay uncommitted."""
        self._stopping.set()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    async def _run(self) -> None:
        retry = is_retry_topic(self.tp.topic)
        while not self._stopping.is_set():
            get = asyncio.ensure_future(self.queue.get())
            stop = asyncio.ensure_future(self._stopping.wait())
            done, _ = await asyncio.wait({get, stop}, return_when=asyncio.FIRST_COMPLETED)
            if get not in done:
                get.cancel()
                stop.cancel()
                return
            stop.cancel()
            record = get.result()
            if retry:
                due = not_before(record.headers) - time.time()
                if due > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), timeout=due)
                    if self._stopping.is_set():
                        return
            await self.owner._handle(record)
            if self.paused and self.queue.qsize() < PAUSE_AT // 2:
                self.owner._resume(self)


class KafkaConsumer(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, bus: KafkaBus, group: str, topics: list[str], retry_tiers: list[float]) -> None:
        self.bus = bus
        self.group = group
        self.topics = topics
        self.retry_tiers = retry_tiers
        self._stop = asyncio.Event()
        self._ready = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._workers: dict[TopicPartition, _PartitionWorker] = {}
        self._handler: Handler | None = None
        self.member = uuid.uuid4().hex[:8]

    async def run(self, handler: Handler) -> None:
        self._handler = handler
        own = tier_topics(self.group, self.retry_tiers)
        await self.bus._ensure_default([*self.topics, *own, dead_letter_topic(self.group)])
        consumer = self.bus._new_consumer(self.group)
        self._consumer = consumer
        await consumer.start()
        consumer.subscribe([self.bus.wire(t) for t in (*self.topics, *own)], listener=self)
        try:
            while not self._stop.is_set():
                batch = await consumer.getmany(timeout_ms=200, max_records=500)
                for tp, messages in batch.items():
                    worker = self._workers.get(tp)
                    if worker is None:  # assigned between the listener and this fetch
                        worker = self._workers[tp] = _PartitionWorker(self, tp)
                    for m in messages:
                        worker.queue.put_nowait(_record(m, self.bus.prefix))
                    if not worker.paused and worker.queue.qsize() >= PAUSE_AT:
                        consumer.pause(tp)
                        worker.paused = True
        except asyncio.CancelledError:
            # Cancelled from outside: stop at once, like a crash; nothing more is committed.
            for w in self._workers.values():
                w.task.cancel()
            await asyncio.gather(*(w.task for w in self._workers.values()), return_exceptions=True)
            with contextlib.suppress(Exception):
                await consumer.stop()
            raise
        await asyncio.gather(*(w.stop() for w in list(self._workers.values())))
        self._workers.clear()
        await consumer.stop()

    async def stop(self) -> None:
        self._stop.set()

    async def ready(self) -> None:
        await self._ready.wait()

    def _resume(self, worker: _PartitionWorker) -> None:
        if self._consumer is not None and worker.tp in self._consumer.assignment():
            self._consumer.resume(worker.tp)
        worker.paused = False

    # ConsumerRebalanceListener: aiokafka awaits these during a rebalance.
    async def on_partitions_revoked(self, revoked: Any) -> None:
        workers = [self._workers.pop(tp) for tp in revoked if tp in self._workers]
        await asyncio.gather(*(w.stop() for w in workers))
        if workers:
            log.info("partitions_revoked", group=self.group, member=self.member, count=len(workers))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        for tp in assigned:
            if tp not in self._workers:
                self._workers[tp] = _PartitionWorker(self, tp)
        log.info("partitions_assigned", group=self.group, member=self.member, count=len(assigned))
        self._ready.set()

    async def _handle(self, record: Record) -> None:
        assert self._handler is not None
        assert self._consumer is not None
        try:
            outcome: Outcome = await self._handler(record)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.exception("handler_crashed", group=self.group, topic=record.topic, offset=record.offset)
            reason = f"unexpected {type(e).__name__}: {e}"
            outcome = (
                DeadLetter(reason)
                if record.attempt >= MAX_UNEXPECTED_ATTEMPTS
                else Retry(min(2.0**record.attempt, 60.0), reason)
            )
        follow: list[Outgoing] = []
        if isinstance(outcome, Retry):
            follow.append(retry_message(record, self.group, outcome.delay, outcome.reason, self.retry_tiers))
        elif isinstance(outcome, DeadLetter):
            follow.append(dead_letter_message(record, self.group, outcome.reason))
        else:
            assert isinstance(outcome, Ack)
        while True:
            try:
                # The retry or dead letter is durable before the original is committed: a crash
                # between the two repeats the record, it never loses it.
                await self.bus.publish_many(follow)
                tp = TopicPartition(self.bus.wire(record.topic), record.partition)
                await self._consumer.commit({tp: record.offset + 1})
                return
            except (KafkaError, TransientError) as e:
                if record_partition_gone(self._consumer, record, self.bus.prefix):
                    # Revoked meanwhile: the next owner will see it again (at-least-once).
                    log.warning("commit_after_revoke", group=self.group, error=str(e))
                    return
                log.error("bus_commit_failed", group=self.group, error=str(e))
                await asyncio.sleep(1.0)


def record_partition_gone(consumer: AIOKafkaConsumer, record: Record, prefix: str) -> bool:
    return TopicPartition(prefix + record.topic, record.partition) not in consumer.assignment()
