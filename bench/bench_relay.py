"""The baseline for Kafka throughput: a bare aiokafka relay chain, and what one hop costs.

    python bench/bench_relay.py --kafka auto             # BROADCASTER_BENCH_KAFKA, or tansu started here
    python bench/bench_relay.py --kafka 127.0.0.1:9092 --alerts 200 --fanout 8

The chain has the pipeline's hops and fan-out with no work in them: stage 1 consumes `raw` and
produces one `alerts` message; stage 2 consumes `alerts` and produces `fanout` messages, one to each
of `fanout` dispatch topics; one relay per dispatch topic consumes it and produces one `receipts`
message; the last stage consumes `receipts`. Four consuming hops (normalize, route, channel,
ledger), every consumer in its own group (assigned every partition of its topic, committing
its group's offsets), as the pipeline's stages are. Message sizes are given
(bench_pipeline measures the pipeline's own and passes them here), producers use acks=all and
linger 0, and every relay commits what it consumed before taking more, as the pipeline does (the
pipeline commits each record; the relay each fetched batch, which is the cheapest honest relay).
Timed from the first input produced to the last receipt consumed: alerts per second.

`hop_probe` measures one bare hop (produce → a consumer's fetch returns it) on a broker: on
tansu, which holds every fetch for fetch_max_wait_ms, this is the latency floor of each hop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import kafka_broker, percentile, summary  # noqa: E402

# The pipeline's measured sizes on this project's alert (bench_pipeline, Kafka burst), used when
# none are given: bytes of value + key + headers.
DEFAULT_SIZES = {"raw": 1100, "alerts": 2600, "dispatch": 5200, "receipts": 900}


async def _topics(bootstrap: str, names: list[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
        for _ in range(50):
            if set(names) <= set(await admin.list_topics()):
                return
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


def _consumer(bootstrap: str, topic: str, group: str, fetch_wait_ms: int) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=fetch_wait_ms,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
    )
    consumer._bench_topic = topic  # type: ignore[attr-defined]
    return consumer


async def _start(consumers: list[AIOKafkaConsumer], partitions: int) -> None:
    """Start each consumer on every partition of its topic. Assigned, not subscribed: a group's
    first join takes seconds on tansu, and the steady state (fetch, produce, commit the group's
    offsets) is the same either way."""
    for c in consumers:
        await c.start()
        c.assign([TopicPartition(c._bench_topic, p) for p in range(partitions)])  # type: ignore[attr-defined]


async def relay_chain(
    bootstrap: str,
    alerts: int,
    fanout: int,
    sizes: dict[str, int] | None = None,
    *,
    partitions: int = 8,
    fetch_wait_ms: int = 50,
    commit_each: bool = False,
) -> dict[str, Any]:
    """alerts through the chain; `commit_each` commits every record after its produce (as the
    pipeline's consumers do) instead of every fetched batch."""
    sizes = {**DEFAULT_SIZES, **(sizes or {})}
    run = f"relay{uuid.uuid4().hex[:8]}."
    raw, alerts_t, receipts = run + "raw", run + "alerts", run + "receipts"
    dispatch = [f"{run}dispatch.{i}" for i in range(fanout)]
    await _topics(bootstrap, [raw, alerts_t, receipts, *dispatch], partitions)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0, max_request_size=4 * 1024 * 1024)
    await producer.start()
    payload = {k: os.urandom(max(1, v - 40)) for k, v in sizes.items()}

    # (consumer, what to produce for each consumed message)
    stages: list[tuple[AIOKafkaConsumer, list[tuple[str, bytes]]]] = [
        (_consumer(bootstrap, raw, run + "normalize", fetch_wait_ms), [(alerts_t, payload["alerts"])]),
        (
            _consumer(bootstrap, alerts_t, run + "route", fetch_wait_ms),
            [(t, payload["dispatch"]) for t in dispatch],
        ),
        *(
            (_consumer(bootstrap, t, f"{run}channel.{i}", fetch_wait_ms), [(receipts, payload["receipts"])])
            for i, t in enumerate(dispatch)
        ),
    ]
    sink = _consumer(bootstrap, receipts, run + "ledger", fetch_wait_ms)
    consumers = [c for c, _ in stages] + [sink]
    await _start(consumers, partitions)
    done = asyncio.Event()
    received = 0
    expected = alerts * fanout

    async def relay(consumer: AIOKafkaConsumer, outputs: list[tuple[str, bytes]]) -> None:
        while not done.is_set():
            batch = await consumer.getmany(timeout_ms=100, max_records=500)
            if not batch:
                continue
            if commit_each:
                await asyncio.gather(*(each(consumer, tp, msgs, outputs) for tp, msgs in batch.items()))
                continue
            futures = []
            for msgs in batch.values():
                for m in msgs:
                    for topic, value in outputs:
                        futures.append(await producer.send(topic, value, key=m.key))
            await asyncio.gather(*futures)
            await consumer.commit({tp: msgs[-1].offset + 1 for tp, msgs in batch.items()})

    async def each(consumer: AIOKafkaConsumer, tp: TopicPartition, msgs: list[Any], outputs: list[tuple[str, bytes]]) -> None:
        # Partitions in parallel, each in order: produce, wait for the acks, commit, next.
        for m in msgs:
            futures = [await producer.send(topic, value, key=m.key) for topic, value in outputs]
            await asyncio.gather(*futures)
            await consumer.commit({tp: m.offset + 1})

    async def drain() -> None:
        nonlocal received
        while received < expected:
            batch = await sink.getmany(timeout_ms=100, max_records=500)
            for tp, msgs in batch.items():
                received += len(msgs)
                await sink.commit({tp: msgs[-1].offset + 1})
        done.set()

    try:
        tasks = [asyncio.create_task(relay(c, outs)) for c, outs in stages]
        sink_task = asyncio.create_task(drain())
        t0 = time.perf_counter()
        for i in range(alerts):
            # One at a time, as the pipeline's ingest publishes (each durable before the next).
            await producer.send_and_wait(raw, payload["raw"], key=f"anamizu|manual{i % 7}".encode())
        await asyncio.wait_for(sink_task, timeout=600)
        elapsed = time.perf_counter() - t0
        done.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        done.set()
        for c in consumers:
            await c.stop()
        await producer.stop()
    return {
        "alerts": alerts,
        "fanout": fanout,
        "hops": 4,
        "commit": "each record" if commit_each else "each fetched batch",
        "message_bytes": sizes,
        "seconds": round(elapsed, 3),
        "alerts_per_s": round(alerts / elapsed, 2),
        "messages_per_s": round(alerts * (2 + 2 * fanout) / elapsed, 1),
    }


async def hop_probe(bootstrap: str, fetch_wait_ms: int, n: int = 30, size: int = 1000) -> dict[str, Any]:
    """One hop, n times: produce (acks=all), then a consumer's fetch returns the message."""
    topic = f"probe{uuid.uuid4().hex[:8]}"
    await _topics(bootstrap, [topic], 8)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    consumer = _consumer(bootstrap, topic, topic + ".g", fetch_wait_ms)
    await producer.start()
    try:
        await _start([consumer], 8)
        hops: list[float] = []
        produce: list[float] = []
        for i in range(n):
            # Off the fetch cycle's phase, so the probe samples every point of it.
            await asyncio.sleep(0.007 * (i % 7))
            t0 = time.perf_counter()
            await producer.send_and_wait(topic, os.urandom(size), key=str(i).encode())
            t1 = time.perf_counter()
            while not (batch := await consumer.getmany(timeout_ms=2000)):
                pass
            hops.append((time.perf_counter() - t0) * 1000)
            produce.append((t1 - t0) * 1000)
            await consumer.commit({tp: m[-1].offset + 1 for tp, m in batch.items()})
        return {"fetch_max_wait_ms": fetch_wait_ms, **summary(hops), "produce_p50": round(percentile(produce, 0.5), 1)}
    finally:
        await consumer.stop()
        await producer.stop()


async def _main(
    kafka: str, alerts: int, fanout: int, fetch_wait_ms: int, sizes: dict[str, int] | None, partitions: int
) -> dict[str, Any]:
    with kafka_broker(kafka) as (bootstrap, _pid):
        return {
            "hop": await hop_probe(bootstrap, fetch_wait_ms),
            "relay": await relay_chain(
                bootstrap, alerts, fanout, sizes, partitions=partitions, fetch_wait_ms=fetch_wait_ms
            ),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--kafka", default="auto", help="bootstrap servers, or 'auto' (BROADCASTER_BENCH_KAFKA, else tansu started here)"
    )
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--fanout", type=int, default=8)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--fetch-wait-ms", type=int, default=50)
    parser.add_argument(
        "--sizes", default=None, help='message bytes as JSON, e.g. \'{"raw": 900, "alerts": 1400, "dispatch": 2600, "receipts": 600}\''
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    alerts = 10 if args.quick else args.alerts
    sizes = json.loads(args.sizes) if args.sizes else None
    results = asyncio.run(_main(args.kafka, alerts, args.fanout, args.fetch_wait_ms, sizes, args.partitions))
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
