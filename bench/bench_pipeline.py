"""The spine's speed: alerts through every stage to every channel, on one machine.

    python bench/bench_pipeline.py                       # embedded bus, SQLite, channels on fakes
    python bench/bench_pipeline.py --kafka auto          # and on Kafka (BROADCASTER_BENCH_KAFKA, or tansu started here)
    python bench/bench_pipeline.py --db postgres         # ledger on PostgreSQL (a database per phase)
    python bench/bench_pipeline.py --outbox              # every channel in outbox mode instead
    python bench/bench_pipeline.py --quick               # tiny sizes, a smoke run

Two phases per bus, each on a fresh pipeline and a fresh ledger (a SQLite file, or a PostgreSQL
database created and dropped by the benchmark), so that neither counts the other's alerts:

* latency: alerts one at a time (each waits for the last to finish), so each is measured on a
  quiet system: ingest-to-send per dispatch (raw received → provider answered), skew per alert
  (first to last channel's answer) and the time spent in each hop. One alert first warms the
  pipeline up (templates compiled, adapters connected) and is reported apart, not counted.
* throughput: a burst of alerts, timed from the first submit to the last dispatch final.

The alert is an officer's tsunami warning exercise for 穴水町; the project's own rules send it to
website, app push, LINE, X, Mastodon, Bluesky, e-mail and webhook. With the fakes (the default)
each of those channels is live against its fake in another process (bench/fakes.py), answering at
once; `--outbox` writes every channel to the outbox instead. The pipeline runs in this process as
`broadcaster run` runs it, and the raw event is recorded in the ledger before it is published,
as every real way in does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import (  # noqa: E402
    DATA_KEY,
    add_residents,
    cpu_seconds,
    kafka_broker,
    open_ledger,
    phase_database,
    profiled,
    resolve_db,
    summary,
)
from fakes import LIVE, Fleet  # noqa: E402

from broadcaster.app import open_runtime, serving  # noqa: E402
from broadcaster.bus import Bus, open_bus  # noqa: E402
from broadcaster.bus.topics import ALERTS, INGEST_RAW, RECEIPTS, dispatch_topic  # noqa: E402
from broadcaster.logging import configure  # noqa: E402
from broadcaster.model import RawEvent  # noqa: E402
from broadcaster.pipeline.ingest import submit  # noqa: E402
from broadcaster.pipeline.runner import Pipeline  # noqa: E402
from broadcaster.pipeline.runtime import stage_names  # noqa: E402
from broadcaster.settings import Settings, load_settings  # noqa: E402
from broadcaster.store import migrate, tables  # noqa: E402
from broadcaster.store.ledger import Ledger  # noqa: E402

TENANT = {
    "name": "穴水町",
    "geocodes": [{"value_name": "bench/city", "value": "1"}],
    "districts": [{"id": "kawashima", "name": "川島"}],
}
FETCH_WAIT_MS = 50
# Residents with an app subscription and an e-mail address, so that those channels have an
# audience (one batch each).
RESIDENTS = 20


def bench_settings(
    workdir: Path,
    bus_url: str | None,
    db_url: str,
    fetch_wait_ms: int = FETCH_WAIT_MS,
    channels: dict[str, Any] | None = None,
    partitions: int = 8,
    prefix: str | None = None,
) -> Settings:
    """`prefix` names the run's topics and groups; worker processes of one run share it."""
    return load_settings(
        None,
        var_dir=workdir,
        db_url=db_url,
        outbox_dir=workdir / "outbox",
        bus={
            "url": bus_url or f"embedded:{workdir / 'bus.sqlite3'}",
            "partitions": partitions,
            "poll_interval_s": 0.2,
            # Each phase on its own topics and groups when the broker is shared.
            "prefix": prefix or f"b{workdir.name}{time.time_ns()}.",
            "kafka_session_timeout_ms": 6000,
            "kafka_fetch_max_wait_ms": fetch_wait_ms,
        },
        web={"enabled": False},
        tenants={"anamizu": {**TENANT, "channels": channels or {}}},
        rules_dir=ROOT / "rules",
        privacy={"key": DATA_KEY},
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


async def wait_done(ledger: Ledger, alerts: int, within: float = 600, every: float = 0.005) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        routed, open_ = await ledger.db.read(_progress)
        if routed >= alerts and open_ == 0:
            return
        await asyncio.sleep(every)
    raise TimeoutError(f"the pipeline did not finish {alerts} alerts in {within:g} s")


HOPS = (
    ("received", "normalized"),
    ("normalized", "routed"),
    ("routed", "send_started"),
    ("send_started", "sent"),
)


def _ms(a: str, b: str) -> float:
    return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() * 1000


async def _attempts(ledger: Ledger) -> list[tuple[str, str, str, dict[str, str]]]:
    at = tables.attempts
    query = sa.select(at.c.alert_id, at.c.channel, at.c.mode, at.c.hops).where(at.c.status == "accepted")
    return await ledger.db.read(lambda c: [tuple(r) for r in c.execute(query)])


def latencies(rows: Sequence[tuple[str, str, str, dict[str, str]]], skip: set[str]) -> dict[str, Any]:
    """Ingest-to-send per dispatch, skew per alert, per hop and per channel, from the attempts."""
    per_alert: dict[str, list[datetime]] = {}
    lat: list[float] = []
    hops_ms: dict[str, list[float]] = {f"{a}->{b}": [] for a, b in HOPS}
    channels: dict[str, list[float]] = {}
    modes: dict[str, str] = {}
    for alert_id, channel, mode, hops in rows:
        modes[channel] = mode
        if alert_id in skip:
            continue
        ms = _ms(hops["received"], hops["sent"])
        lat.append(ms)
        channels.setdefault(channel, []).append(ms)
        per_alert.setdefault(alert_id, []).append(datetime.fromisoformat(hops["sent"]))
        for a, b in HOPS:
            if hops.get(a) and hops.get(b):
                hops_ms[f"{a}->{b}"].append(_ms(hops[a], hops[b]))
    skews = [(max(v) - min(v)).total_seconds() * 1000 for v in per_alert.values()]
    return {
        "latency_ms": summary(lat),
        "skew_ms": summary(skews),
        "hop_ms": {k: summary(v) for k, v in hops_ms.items()},
        "channel_latency_ms": {k: summary(v) for k, v in sorted(channels.items())},
        "channel_modes": dict(sorted(modes.items())),
        "dispatches_per_alert": round(len(lat) / max(len(per_alert), 1), 2),
    }


async def message_sizes(bus: Bus, channels: Sequence[str], alerts: int) -> dict[str, Any]:
    """Mean bytes (value + key + headers) and messages per alert of each topic a burst wrote."""
    out: dict[str, Any] = {}
    topics = [INGEST_RAW, ALERTS, *(dispatch_topic(c) for c in channels), RECEIPTS]
    dispatch_sizes: list[int] = []
    for topic in topics:
        records = await bus.messages(topic)
        sizes = [
            len(r.value) + len(r.key.encode()) + sum(len(k) + len(v.encode()) for k, v in r.headers.items())
            for r in records
        ]
        if topic.startswith("dispatch."):
            dispatch_sizes += sizes
            continue
        out[topic] = {"mean_bytes": round(sum(sizes) / max(len(sizes), 1)), "per_alert": len(sizes) / max(alerts, 1)}
    out["dispatch.*"] = {
        "mean_bytes": round(sum(dispatch_sizes) / max(len(dispatch_sizes), 1)),
        "per_alert": len(dispatch_sizes) / max(alerts, 1),
    }
    return out


@asynccontextmanager
async def pipeline_for(
    workdir: Path,
    bus_url: str | None,
    db_url: str,
    fetch_wait_ms: int,
    fleet: Fleet | None,
    residents: int,
) -> AsyncIterator[tuple[Settings, Bus, Ledger, Pipeline]]:
    settings = bench_settings(workdir, bus_url, db_url, fetch_wait_ms, fleet.channels() if fleet else None)
    bus = open_bus(settings.bus)
    await bus.start()
    ledger = open_ledger(settings)
    try:
        await migrate.upgrade(ledger.db)
        await ledger.ensure_tenants([("anamizu", "穴水町")])
        if fleet is not None and residents:
            from bench_webpush import subscriptions

            pushes = subscriptions(fleet.urls["push"], residents)
            await add_residents(
                ledger,
                "anamizu",
                [{"app_push": p, "email": f"r{i}@example.jp"} for i, p in enumerate(pushes)],
            )
        async with open_runtime(settings, bus, ledger) as runtime, serving(runtime, stage_names(settings)) as process:
            await process.pipeline.ready()
            yield settings, bus, ledger, process.pipeline
    finally:
        await ledger.close()
        await bus.close()


async def latency_phase(
    workdir: Path, bus_url: str | None, db_url: str, n: int, fetch_wait_ms: int, fleet: Fleet | None,
    broker_pid: int | None = None, profile: Path | None = None, idle_s: float = 0.0,
) -> dict[str, Any]:
    async with pipeline_for(workdir, bus_url, db_url, fetch_wait_ms, fleet, RESIDENTS) as (_, bus, ledger, _p):
        t0 = time.perf_counter()
        warm = raw_alert(-1)
        await submit(bus, warm, ledger)
        await wait_done(ledger, 1, within=120)
        cold_ms = (time.perf_counter() - t0) * 1000
        warm_id = await ledger.db.read(
            lambda c: {str(r[0]) for r in c.execute(sa.select(tables.alerts.c.identifier))}
        )
        with profiled(profile):
            for i in range(n):
                await submit(bus, raw_alert(i), ledger)
                await wait_done(ledger, i + 2, within=120)
        rows = await _attempts(ledger)
        out = latencies(rows, warm_id)
        out["alerts"] = n
        out["cold_first_alert_ms"] = round(cold_ms, 1)
        # Where the cold alert's time went, per hop and per channel, to set against the warm ones.
        cold = latencies([r for r in rows if r[0] in warm_id], set())
        out["cold_first_alert_breakdown"] = {k: cold[k] for k in ("hop_ms", "channel_latency_ms")}
        if idle_s > 0:
            # The first alert after a quiet spell in a pipeline that has been running: connections
            # may have dropped and caches gone cold (docs/benchmarks.md, *Cold path*). Timed like the
            # cold one, submit to every channel final.
            await asyncio.sleep(idle_s)
            t1 = time.perf_counter()
            await submit(bus, raw_alert(n), ledger)
            await wait_done(ledger, n + 2, within=120)
            out["after_idle_first_alert_ms"] = round((time.perf_counter() - t1) * 1000, 1)
            out["idle_s"] = idle_s
        if bus_url is not None and bus_url.startswith("kafka://"):
            # The pipeline is idle now, its consumers polling: what one bare hop costs on this
            # broker while they do (tansu holds each fetch; see bench_relay.hop_probe).
            from bench_relay import hop_probe

            idle0, broker0, t_idle = cpu_seconds(), cpu_seconds(broker_pid) if broker_pid else 0.0, time.perf_counter()
            await asyncio.sleep(2.0)
            idle_s = time.perf_counter() - t_idle
            out["idle_cpu_share"] = {
                "pipeline_process": round((cpu_seconds() - idle0) / idle_s, 2),
                **({"broker": round((cpu_seconds(broker_pid) - broker0) / idle_s, 2)} if broker_pid else {}),
            }
            out["bare_hop_ms_while_pipeline_idle"] = await hop_probe(
                bus_url.removeprefix("kafka://"), fetch_wait_ms, n=20
            )
    return out


async def throughput_phase(
    workdir: Path, bus_url: str | None, db_url: str, n: int, fetch_wait_ms: int, fleet: Fleet | None,
    broker_pid: int | None = None, sizes: bool = False, profile: Path | None = None,
) -> dict[str, Any]:
    async with pipeline_for(workdir, bus_url, db_url, fetch_wait_ms, fleet, RESIDENTS) as (settings, bus, ledger, _p):
        # One alert first, as in the latency phase: the burst measures a warm pipeline.
        await submit(bus, raw_alert(-1), ledger)
        await wait_done(ledger, 1, within=120)
        before = await _count(ledger, tables.dispatches)
        with profiled(profile):
            cpu0, broker0 = cpu_seconds(), cpu_seconds(broker_pid) if broker_pid else 0.0
            t0 = time.perf_counter()
            for i in range(n):
                await submit(bus, raw_alert(i), ledger)
            submitted = time.perf_counter() - t0
            await wait_done(ledger, n + 1, within=600, every=0.02)
            elapsed = time.perf_counter() - t0
        cpu, broker_cpu = cpu_seconds() - cpu0, (cpu_seconds(broker_pid) - broker0) if broker_pid else None
        dispatches = await _count(ledger, tables.dispatches) - before
        out: dict[str, Any] = {
            "alerts": n,
            "dispatches": dispatches,
            "seconds": round(elapsed, 3),
            "seconds_submitting": round(submitted, 3),
            "alerts_per_s": round(n / elapsed, 2),
            "dispatches_per_s": round(dispatches / elapsed, 1),
            "pipeline_cpu_s": round(cpu, 2),
            "pipeline_cpu_ms_per_alert": round(cpu * 1000 / n, 1),
        }
        if broker_cpu is not None:
            out["broker_cpu_s"] = round(broker_cpu, 2)
        if sizes:
            out["message_sizes"] = await message_sizes(bus, settings.enabled_channels(), n + 1)
    return out


async def run(
    bus_url: str | None,
    db_url: str | None,
    latency_n: int,
    burst_n: int,
    fetch_wait_ms: int = FETCH_WAIT_MS,
    fleet: Fleet | None = None,
    broker_pid: int | None = None,
    phases: Sequence[str] = ("latency", "throughput"),
    profile: Path | None = None,
    idle_s: float = 0.0,
) -> dict[str, Any]:
    """Both phases on one bus; `profile` (a folder) gets py-spy's stacks of each phase; `idle_s`
    of quiet before one more alert, the first after idle."""
    results: dict[str, Any] = {
        "bus": "kafka" if bus_url and bus_url.startswith("kafka://") else "embedded",
        "db": "postgresql" if db_url and db_url.startswith("postgresql") else "sqlite",
        "channels": "live on fakes: " + ", ".join(LIVE) if fleet else "outbox",
    }
    if results["bus"] == "kafka":
        results["fetch_max_wait_ms"] = fetch_wait_ms
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        for phase in phases:
            workdir = Path(tmp) / phase
            workdir.mkdir()
            # A ledger of the phase's own: the burst must not count the latency phase's alerts.
            async with phase_database(db_url, workdir, phase) as phase_db:
                if phase == "latency":
                    results["latency"] = await latency_phase(
                        workdir, bus_url, phase_db, latency_n, fetch_wait_ms, fleet, broker_pid,
                        profile=profile / f"{results['bus']}-latency.txt" if profile else None,
                        idle_s=idle_s,
                    )
                else:
                    results["throughput"] = await throughput_phase(
                        workdir, bus_url, phase_db, burst_n, fetch_wait_ms, fleet, broker_pid,
                        sizes=results["bus"] == "kafka",
                        profile=profile / f"{results['bus']}-throughput.txt" if profile else None,
                    )
    return results


async def run_all(
    kafka: str | None,
    db_url: str | None,
    latency_n: int,
    burst_n: int,
    fetch_wait_ms: int = FETCH_WAIT_MS,
    *,
    fakes: bool = True,
    profile: Path | None = None,
    broker_pid: int | None = None,
    idle_s: float = 0.0,
) -> dict[str, Any]:
    """The embedded bus, and Kafka when asked ('auto' or bootstrap servers), one after the other
    in the same run; `broker_pid` (of a broker given by address) gets its CPU counted."""
    with tempfile.TemporaryDirectory(prefix="bench-fakes-") as tmp:
        fleet = Fleet(Path(tmp)) if fakes else None
        if fleet is not None:
            fleet.start()
        try:
            out: dict[str, Any] = {
                "embedded": await run(
                    None, db_url, latency_n, burst_n, fleet=fleet, profile=profile, idle_s=idle_s
                )
            }
            if kafka:
                with kafka_broker(kafka) as (bootstrap, pid):
                    out["kafka"] = await run(
                        f"kafka://{bootstrap}", db_url, latency_n, burst_n, fetch_wait_ms, fleet, pid or broker_pid,
                        profile=profile, idle_s=idle_s,
                    )
        finally:
            if fleet is not None:
                out_seen = fleet.stop()
        if fleet is not None:
            out["fakes_saw"] = out_seen
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kafka", default=None, help="also on Kafka: bootstrap servers, or 'auto' to start tansu")
    parser.add_argument("--db", default=None, help="sqlite (default), postgres (the test server) or a URL")
    parser.add_argument("--latency-alerts", type=int, default=100)
    parser.add_argument("--burst-alerts", type=int, default=200)
    parser.add_argument(
        "--fetch-wait-ms",
        type=int,
        default=FETCH_WAIT_MS,
        help="Kafka consumers' fetch_max_wait_ms (tansu holds every fetch this long)",
    )
    parser.add_argument("--outbox", action="store_true", help="every channel in outbox mode, no fakes")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--idle-s", type=float, default=0.0, help="seconds of quiet before one more alert, the first after idle (0: none)"
    )
    parser.add_argument("--broker-pid", type=int, default=None, help="the given broker's process, to count its CPU")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument(
        "--profile", type=Path, default=None, help="py-spy each measured phase into this folder (bench/stacks.py reads it)"
    )
    args = parser.parse_args()
    configure("ERROR")
    latency_n, burst_n = (3, 6) if args.quick else (args.latency_alerts, args.burst_alerts)
    results = asyncio.run(
        run_all(
            args.kafka, resolve_db(args.db), latency_n, burst_n, args.fetch_wait_ms,
            fakes=not args.outbox, profile=args.profile, broker_pid=args.broker_pid, idle_s=args.idle_s,
        )
    )
    text = json.dumps(results, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
