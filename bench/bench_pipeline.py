"""The spine's speed: alerts through every stage to every channel (outbox), on one machine.

    python bench/bench_pipeline.py                 # embedded bus, SQLite
    python bench/bench_pipeline.py --quick         # tiny sizes, a smoke run
    python bench/bench_pipeline.py --bus kafka://127.0.0.1:9092

Two phases, in the same run:
* latency: alerts one at a time (each waits for the last to finish), so each is measured on a
  quiet system: ingest-to-send per dispatch (raw received → provider answered), and skew per
  alert (first to last channel's answer);
* throughput: a burst of alerts, timed from the first submit to the last dispatch final.

The pipeline runs in this process, as `broadcaster run` runs it: ingest adapters live in the
same process and wake the stages at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from broadcaster.bus import open_bus  # noqa: E402
from broadcaster.logging import configure  # noqa: E402
from broadcaster.model import RawEvent  # noqa: E402
from broadcaster.pipeline.ingest import submit  # noqa: E402
from broadcaster.pipeline.runner import Pipeline, Runtime, stage_names  # noqa: E402
from broadcaster.settings import Settings, load_settings  # noqa: E402
from broadcaster.store import migrate, tables  # noqa: E402
from broadcaster.store.ledger import Ledger  # noqa: E402

TENANT = {
    "name": "穴水町",
    "geocodes": [{"value_name": "bench/city", "value": "1"}],
    "districts": [{"id": "kawashima", "name": "川島"}],
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


FETCH_WAIT_MS = 50


def bench_settings(
    workdir: Path, bus_url: str | None, db_url: str | None, fetch_wait_ms: int = FETCH_WAIT_MS
) -> Settings:
    return load_settings(
        None,
        var_dir=workdir,
        db_url=db_url or f"sqlite+aiosqlite:///{workdir / 'ledger.sqlite3'}",
        outbox_dir=workdir / "outbox",
        bus={
            "url": bus_url or f"embedded:{workdir / 'bus.sqlite3'}",
            "partitions": 8,
            "poll_interval_s": 0.2,
            # Each phase on its own topics and groups when the broker is shared.
            "prefix": f"b{workdir.name}{time.time_ns()}.",
            "kafka_session_timeout_ms": 6000,
            "kafka_fetch_max_wait_ms": fetch_wait_ms,
        },
        tenants={"anamizu": TENANT},
        # Every channel, on the project's default rules: a notice goes to website, app, LINE and
        # e-mail; an evacuation order to every channel.
        rules_dir=ROOT / "rules",
    )


def raw_alert(n: int) -> RawEvent:
    doc = {
        "status": "Exercise",
        "kind": "tsunami",
        "event": "津波警報",
        "headline": f"ベンチマーク {n}",
        "description": "これは性能測定のための訓練です。" * 5,
        "severity": "Severe",
        "urgency": "Immediate",
    }
    return RawEvent(
        source="manual",
        content_type="application/vnd.broadcaster.manual+json",
        body=json.dumps(doc, ensure_ascii=False).encode(),
        tenant="anamizu",
        submitted_by="officer:anamizu/bench",
    )


def _progress(c: sa.Connection) -> tuple[int, int]:
    count = sa.select(sa.func.count())
    routed = c.execute(count.select_from(tables.alerts).where(tables.alerts.c.state != "received")).scalar()
    open_ = c.execute(
        count.select_from(tables.dispatches).where(
            tables.dispatches.c.state.not_in(["accepted", "dead", "superseded", "recorded"])
        )
    ).scalar()
    return int(routed or 0), int(open_ or 0)


async def _count(ledger: Ledger, table: sa.Table) -> int:
    return await ledger.db.read(
        lambda c: int(c.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0)
    )


async def _wait_done(ledger: Ledger, alerts: int, within: float = 600) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        routed, open_ = await ledger.db.read(_progress)
        if routed == alerts and open_ == 0:
            return
        await asyncio.sleep(0.005)
    raise TimeoutError("the pipeline did not finish")


HOPS = (
    ("received", "normalized"),
    ("normalized", "routed"),
    ("routed", "send_started"),
    ("send_started", "sent"),
)


async def _latencies(ledger: Ledger) -> tuple[list[float], list[float], dict[str, list[float]]]:
    """(ingest-to-send ms per dispatch, skew ms per alert, ms per hop) from the ledger's attempts."""
    from datetime import datetime

    per_alert: dict[str, list[datetime]] = {}
    latencies: list[float] = []
    hops_ms: dict[str, list[float]] = {f"{a}->{b}": [] for a, b in HOPS}
    query = sa.select(tables.attempts.c.alert_id, tables.attempts.c.hops).where(
        tables.attempts.c.status == "accepted"
    )
    rows = await ledger.db.read(lambda c: list(c.execute(query)))
    for alert_id, hops in rows:
        received = datetime.fromisoformat(hops["received"])
        sent = datetime.fromisoformat(hops["sent"])
        latencies.append((sent - received).total_seconds() * 1000)
        per_alert.setdefault(alert_id, []).append(sent)
        for a, b in HOPS:
            if hops.get(a) and hops.get(b):
                delta = datetime.fromisoformat(hops[b]) - datetime.fromisoformat(hops[a])
                hops_ms[f"{a}->{b}"].append(delta.total_seconds() * 1000)
    skews = [(max(v) - min(v)).total_seconds() * 1000 for v in per_alert.values()]
    return latencies, skews, hops_ms


async def run(
    bus_url: str | None, db_url: str | None, latency_n: int, burst_n: int, fetch_wait_ms: int = FETCH_WAIT_MS
) -> dict[str, Any]:
    results: dict[str, Any] = {
        "bus": bus_url or "embedded",
        "db": "sqlite" if not db_url else db_url.split(":")[0],
    }
    with tempfile.TemporaryDirectory() as tmp:
        # Two fresh pipelines: the burst must not count the latency phase's alerts.
        for phase, n in (("latency", latency_n), ("throughput", burst_n)):
            workdir = Path(tmp) / phase
            workdir.mkdir()
            settings = bench_settings(workdir, bus_url, db_url, fetch_wait_ms)
            bus = open_bus(settings.bus)
            await bus.start()
            ledger = Ledger.connect(settings.db_url)
            await migrate.upgrade(ledger.db)
            pipeline = Pipeline(Runtime.build(settings, bus, ledger), stage_names(settings))
            await pipeline.start()
            try:
                await pipeline.ready()
                if phase == "latency":
                    for i in range(n):
                        await submit(bus, raw_alert(i))
                        await _wait_done(ledger, i + 1)
                    lat, skew, hops = await _latencies(ledger)
                    results["hop_p50_ms"] = {k: percentile(v, 0.5) for k, v in hops.items()}
                    results["dispatches_per_alert"] = len(lat) / max(n, 1)
                    results["latency_ms"] = {
                        "p50": percentile(lat, 0.5),
                        "p99": percentile(lat, 0.99),
                        "max": max(lat),
                        "n": len(lat),
                    }
                    results["skew_ms"] = {
                        "p50": percentile(skew, 0.5),
                        "p99": percentile(skew, 0.99),
                        "n": len(skew),
                    }
                else:
                    t0 = time.perf_counter()
                    for i in range(n):
                        await submit(bus, raw_alert(i))
                    await _wait_done(ledger, n)
                    elapsed = time.perf_counter() - t0
                    dispatches = await _count(ledger, tables.dispatches)
                    results["throughput"] = {
                        "alerts": n,
                        "seconds": elapsed,
                        "alerts_per_s": n / elapsed,
                        "dispatches_per_s": dispatches / elapsed,
                    }
            finally:
                await pipeline.stop()
                await ledger.close()
                await bus.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--kafka", default=None, help="also on Kafka: bootstrap servers, or 'auto' to start tansu"
    )
    parser.add_argument("--db", default=None)
    parser.add_argument("--latency-alerts", type=int, default=100)
    parser.add_argument("--burst-alerts", type=int, default=200)
    parser.add_argument(
        "--fetch-wait-ms",
        type=int,
        default=FETCH_WAIT_MS,
        help="Kafka consumers' fetch_max_wait_ms (tansu holds every fetch this long)",
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    configure("ERROR")
    latency_n, burst_n = (5, 10) if args.quick else (args.latency_alerts, args.burst_alerts)
    results = asyncio.run(run_all(args.kafka, args.db, latency_n, burst_n, args.fetch_wait_ms))
    text = json.dumps(results, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text, encoding="utf-8")


async def run_all(
    kafka: str | None, db_url: str | None, latency_n: int, burst_n: int, fetch_wait_ms: int = FETCH_WAIT_MS
) -> dict[str, Any]:
    """The embedded bus, and Kafka when asked, one after the other in the same run."""
    out: dict[str, Any] = {"embedded": await run(None, db_url, latency_n, burst_n)}
    if kafka:
        broker = None
        if kafka == "auto":
            from tests.kafka_broker import KafkaBroker

            broker = KafkaBroker()
            broker.start(Path(tempfile.mkdtemp()))
            kafka = broker.bootstrap
        try:
            out["kafka"] = await run(f"kafka://{kafka}", db_url, latency_n, burst_n, fetch_wait_ms)
            out["kafka"]["fetch_max_wait_ms"] = fetch_wait_ms
        finally:
            if broker is not None:
                broker.stop()
    return out


if __name__ == "__main__":
    main()
