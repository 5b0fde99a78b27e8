"""Scale-out on Kafka: pipeline throughput with 1 and 2 worker processes per stage.

    python bench/bench_scaling.py                       # tansu started here (or BROADCASTER_BENCH_KAFKA)
    python bench/bench_scaling.py --kafka 127.0.0.1:9092 --alerts 200 --workers 1 2
    python bench/bench_scaling.py --quick               # 20 alerts, a smoke run

Each worker process runs every stage (normalize, route, one worker per channel, ledger, re-drive,
scheduler), as `broadcaster run` does on each machine of a deployment; with W processes every
stage's consumer group has W members sharing the topics' partitions (8 here), which is what
`broadcaster worker STAGE` started W times per stage gives, with fewer processes on a small
machine. The processes share one ledger: PostgreSQL when the local test server answers (a fresh
database per measurement, dropped afterwards), else one SQLite file. The channels are live against
the fakes of bench/fakes.py (in a process of their own), as in bench_pipeline; this process only
submits the alerts (as the officer's console does) and watches the ledger.

Per W: a warm-up alert, then a burst of alerts timed from the first submit to the last dispatch
final; alerts per second, and the CPU seconds each process and the broker spent. The projection
beyond 2 (in the output) assumes what the 2-core machine cannot show: a core per worker process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_pipeline import RESIDENTS, _count, bench_settings, raw_alert, wait_done  # noqa: E402
from common import (  # noqa: E402
    POSTGRES_URL,
    add_residents,
    cpu_seconds,
    kafka_broker,
    open_ledger,
    phase_database,
    postgres_reachable,
)
from fakes import Fleet  # noqa: E402

from broadcaster.bus import open_bus  # noqa: E402
from broadcaster.logging import configure  # noqa: E402
from broadcaster.pipeline.ingest import submit  # noqa: E402
from broadcaster.store import migrate, tables  # noqa: E402

FETCH_WAIT_MS = 50
PARTITIONS = 8


_T0 = time.perf_counter()


def _say(what: str) -> None:
    print(f"[scaling {time.perf_counter() - _T0:6.1f} s] {what}", file=sys.stderr, flush=True)


def _worker(conn: Connection, workdir: str, bus_url: str, db_url: str, prefix: str, channels: dict[str, Any]) -> None:
    """One worker process: every stage, until told to stop."""
    from broadcaster.app import open_runtime, serving
    from broadcaster.pipeline.runtime import stage_names

    configure("ERROR")

    async def serve() -> None:
        settings = bench_settings(
            Path(workdir), bus_url, db_url, FETCH_WAIT_MS, channels, partitions=PARTITIONS, prefix=prefix
        )
        bus = open_bus(settings.bus)
        await bus.start()
        ledger = open_ledger(settings)
        try:
            async with open_runtime(settings, bus, ledger) as rt, serving(rt, stage_names(settings)) as process:
                await process.pipeline.ready(within=180)
                conn.send("ready")
                await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        finally:
            await ledger.close()
            await bus.close()

    asyncio.run(serve())


async def measure(
    bootstrap: str, workers: int, alerts: int, db_server: str | None, fleet: Fleet, broker_pid: int | None
) -> dict[str, Any]:
    bus_url = f"kafka://{bootstrap}"
    with tempfile.TemporaryDirectory(prefix=f"bench-scaling-{workers}-") as tmp:
        workdir = Path(tmp)
        prefix = f"s{workers}w{time.time_ns()}."
        async with phase_database(db_server, workdir, f"scaling{workers}") as db_url:
            channels = fleet.channels()
            settings = bench_settings(
                workdir, bus_url, db_url, FETCH_WAIT_MS, channels, partitions=PARTITIONS, prefix=prefix
            )
            bus = open_bus(settings.bus)
            await bus.start()
            ledger = open_ledger(settings)
            ctx = multiprocessing.get_context("spawn")
            procs: list[tuple[Any, Connection]] = []
            try:
                await migrate.upgrade(ledger.db)
                await ledger.ensure_tenants([("anamizu", "穴水町")])
                from bench_webpush import subscriptions

                pushes = subscriptions(fleet.urls["push"], RESIDENTS)
                await add_residents(
                    ledger, "anamizu", [{"app_push": p, "email": f"r{i}@example.jp"} for i, p in enumerate(pushes)]
                )
                for _ in range(workers):
                    parent, child = ctx.Pipe()
                    proc = ctx.Process(target=_worker, args=(child, tmp, bus_url, db_url, prefix, channels), daemon=True)
                    proc.start()
                    procs.append((proc, parent))
                loop = asyncio.get_running_loop()
                _say(f"{workers} worker(s) started")
                for _proc, parent in procs:
                    if not await loop.run_in_executor(None, parent.poll, 240):
                        raise TimeoutError("a worker process did not get its partitions in 240 s")
                    parent.recv()
                _say("workers ready")
                # A warm-up alert through every worker's stages (templates, connections).
                await submit(bus, raw_alert(-1), ledger)
                await wait_done(ledger, 1, within=180)
                before = await _count(ledger, tables.dispatches)
                pids = [p.pid for p, _ in procs]
                cpu0 = [cpu_seconds(pid) for pid in pids]
                broker0 = cpu_seconds(broker_pid) if broker_pid else 0.0
                _say("warm")
                t0 = time.perf_counter()
                for i in range(alerts):
                    await submit(bus, raw_alert(i), ledger)
                await wait_done(ledger, alerts + 1, within=900, every=0.02)
                elapsed = time.perf_counter() - t0
                cpu = [cpu_seconds(pid) - c for pid, c in zip(pids, cpu0, strict=True)]
                broker_cpu = cpu_seconds(broker_pid) - broker0 if broker_pid else None
                dispatches = await _count(ledger, tables.dispatches) - before
            finally:
                for proc, parent in procs:
                    if proc.is_alive():
                        with contextlib.suppress(BrokenPipeError, OSError):
                            parent.send("stop")
                for proc, _ in procs:
                    proc.join(timeout=30)
                    if proc.is_alive():
                        proc.kill()
                        proc.join()
                await ledger.close()
                await bus.close()
    out: dict[str, Any] = {
        "workers_per_stage": workers,
        "alerts": alerts,
        "dispatches": dispatches,
        "seconds": round(elapsed, 3),
        "alerts_per_s": round(alerts / elapsed, 2),
        "worker_cpu_s": [round(c, 2) for c in cpu],
        "worker_cpu_ms_per_alert": round(sum(cpu) * 1000 / alerts, 1),
    }
    if broker_cpu is not None:
        out["broker_cpu_s"] = round(broker_cpu, 2)
        out["broker_cpu_ms_per_alert"] = round(broker_cpu * 1000 / alerts, 1)
    return out


def projection(runs: list[dict[str, Any]], partitions: int = PARTITIONS) -> dict[str, Any]:
    """Throughput beyond the measured worker counts, if each worker process had a core of its own.

    The CPU a worker process spends per alert is what one core buys: 1000 / (CPU ms per alert)
    alerts per core-second. With W processes, each on its own core, throughput grows with W until a
    stage's consumer group has more members than its topic has partitions (they sit idle then),
    or until something shared saturates: the broker, the ledger's database, the fakes. The
    measured speed-up from 1 to 2 processes (on 2 cores shared with the broker, the fakes and the
    submitter) is reported beside it as the efficiency this machine showed."""
    one = next((r for r in runs if r["workers_per_stage"] == 1), None)
    two = next((r for r in runs if r["workers_per_stage"] == 2), None)
    if one is None:
        return {}
    per_core = 1000 / max(one["worker_cpu_ms_per_alert"], 1e-9)
    speedup = round(two["alerts_per_s"] / one["alerts_per_s"], 2) if two else None
    efficiency = (speedup / 2) if speedup else 1.0
    return {
        "alerts_per_core_second": round(per_core, 2),
        "broker_cpu_ms_per_alert": one.get("broker_cpu_ms_per_alert"),
        "measured_speedup_1_to_2": speedup,
        "partitions": partitions,
        "projected_alerts_per_s": {
            str(w): {
                "cpu_bound": round(min(w, partitions) * per_core, 1),
                "at_measured_efficiency": round(min(w, partitions) * per_core * min(efficiency, 1.0), 1),
            }
            for w in (1, 2, 4, 8, 16)
        },
    }


async def run_all(
    kafka: str | None, alerts: int, worker_counts: list[int], db: str | None, broker_pid: int | None = None
) -> dict[str, Any]:
    if db in (None, "auto"):
        db_server = POSTGRES_URL if await postgres_reachable() else None
    elif db == "sqlite":
        db_server = None
    elif db == "postgres":
        db_server = POSTGRES_URL
    else:
        db_server = db
    runs: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-fakes-") as tmp,
        Fleet(Path(tmp)) as fleet,
        kafka_broker(kafka) as (bootstrap, pid),
    ):
        for w in worker_counts:
            runs.append(await measure(bootstrap, w, alerts, db_server, fleet, pid or broker_pid))
    return {
        "bus": "kafka",
        "db": "postgresql" if db_server else "sqlite",
        "partitions": PARTITIONS,
        "fetch_max_wait_ms": FETCH_WAIT_MS,
        "runs": runs,
        "projection": projection(runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--kafka", default="auto", help="bootstrap servers, or 'auto' (BROADCASTER_BENCH_KAFKA, else tansu started here)"
    )
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--db", default="auto", help="auto (PostgreSQL when it answers, else SQLite), sqlite, postgres, or a URL")
    parser.add_argument("--broker-pid", type=int, default=None, help="the given broker's process, to count its CPU")
    parser.add_argument("--quick", action="store_true", help="20 alerts: a smoke run")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    configure("ERROR")
    results = asyncio.run(run_all(args.kafka, 20 if args.quick else args.alerts, args.workers, args.db, args.broker_pid))
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
