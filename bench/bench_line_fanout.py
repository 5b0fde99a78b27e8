"""LINE fan-out: one alert to a district of 100,000 LINE followers, through the real pipeline.

    python bench/bench_line_fanout.py              # 100,000 followers, 200 multicasts, 50 ms each
    python bench/bench_line_fanout.py --quick      # 5,000 followers, a smoke run
    python bench/bench_line_fanout.py --latency-ms 200 --partitions 16

The pipeline runs in this process as `broadcaster run` runs it (embedded bus, SQLite ledger), with
the LINE channel live against the fake Messaging API on loopback (tests/fakes/line.py), which
answers each request after the given latency. The fake runs in a process of its own, as LINE is
another machine: its JSON parsing must not be counted as the pipeline's. Every other channel is
disabled, so the figure is LINE's alone. Timed from the officer's submit to the last multicast
accepted in the ledger; the fake then reports whether every follower got the message exactly once.
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
sys.path.insert(0, str(ROOT / "bench"))

from common import DATA_KEY, add_residents, cpu_seconds, started_pipeline  # noqa: E402
from fakes import LINE_TOKEN as TOKEN  # noqa: E402
from fakes import LineFake  # noqa: E402

from broadcaster.logging import configure  # noqa: E402
from broadcaster.pipeline.ingest import submit  # noqa: E402
from broadcaster.settings import DEFAULT_CHANNELS, load_settings  # noqa: E402
from broadcaster.store import tables  # noqa: E402
from broadcaster.store.ledger import Ledger  # noqa: E402
from tests.helpers import manual  # noqa: E402


async def _followers(ledger: Ledger, n: int) -> None:
    """n residents of 川島 with a LINE user id each, in one transaction (the roster import's way)."""
    await add_residents(ledger, "anamizu", [{"line": f"U{i:032x}"} for i in range(1, n + 1)])


def _hops(c: sa.Connection) -> dict[str, Any]:
    """Where each accepted send spent its time: waiting for its turn, then LINE's answer."""
    from datetime import datetime

    at = tables.attempts
    rows = c.execute(sa.select(at.c.hops).where(at.c.channel == "line", at.c.status == "accepted")).all()
    waits, sends, starts, ends = [], [], [], []
    for (hops,) in rows:
        routed, started, sent = (datetime.fromisoformat(hops[k]) for k in ("routed", "send_started", "sent"))
        waits.append((started - routed).total_seconds() * 1000)
        sends.append((sent - started).total_seconds() * 1000)
        starts.append(started)
        ends.append(sent)
    if not rows:
        return {}
    events = sorted([(t, 1) for t in starts] + [(t, -1) for t in ends])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    waits.sort()
    sends.sort()
    return {
        "routed_to_send_started_ms": {"p50": round(waits[len(waits) // 2], 1), "max": round(waits[-1], 1)},
        "send_started_to_answer_ms": {"p50": round(sends[len(sends) // 2], 1), "max": round(sends[-1], 1)},
        "peak_concurrent_sends": peak,
    }


def _line_progress(c: sa.Connection) -> tuple[int, int, int]:
    d = tables.dispatches
    rows = c.execute(
        sa.select(d.c.state, sa.func.count()).where(d.c.channel == "line").group_by(d.c.state)
    ).all()
    states = {str(s): int(n) for s, n in rows}
    return sum(states.values()), states.get("accepted", 0), states.get("dead", 0)


async def run(followers: int, latency_ms: float, partitions: int, fake: LineFake) -> dict[str, Any]:
    fake_url = fake.url
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if True:
            settings = load_settings(
                None,
                var_dir=workdir,
                db_url=f"sqlite+aiosqlite:///{workdir / 'ledger.sqlite3'}",
                outbox_dir=workdir / "outbox",
                bus={
                    "url": f"embedded:{workdir / 'bus.sqlite3'}",
                    "partitions": partitions,
                    "poll_interval_s": 0.2,
                },
                channels={name: {"enabled": name == "line"} for name in DEFAULT_CHANNELS},
                tenants={
                    "anamizu": {
                        "name": "穴水町",
                        "districts": [{"id": "kawashima", "name": "川島"}],
                        "channels": {
                            "line": {
                                "credentials": {"token": TOKEN},
                                "options": {"base_url": fake_url},
                                "timeout_s": 30,
                            }
                        },
                    }
                },
                rules_dir=ROOT / "rules",
                privacy={"key": DATA_KEY},
            )
            async with started_pipeline(settings) as (bus, ledger):
                await ledger.ensure_tenants([("anamizu", "穴水町")])
                loaded = time.perf_counter()
                await _followers(ledger, followers)
                load_s = time.perf_counter() - loaded
                expected = -(-followers // 500)

                t0, cpu0 = time.perf_counter(), cpu_seconds()
                await submit(
                    bus,
                    manual(kind="shelter", event="避難所開設", districts=["kawashima"], status="Exercise"),
                )
                routed_at: float | None = None
                while True:
                    total, accepted, dead = await ledger.db.read(_line_progress)
                    if routed_at is None and total >= expected:
                        routed_at = time.perf_counter()
                    if total >= expected and accepted + dead == total:
                        break
                    if time.perf_counter() - t0 > 600:
                        raise TimeoutError(f"not done in 600 s: {accepted}/{total} accepted")
                    await asyncio.sleep(0.01)
                elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
                where = await ledger.db.read(_hops)

            seen = await asyncio.get_running_loop().run_in_executor(None, fake.report)
            return {
                "followers": followers,
                "multicasts": total,
                "accepted": accepted,
                "dead": dead,
                "latency_ms_per_request": latency_ms,
                "partitions": partitions,
                "seconds_submit_to_all_accepted": round(elapsed, 3),
                "seconds_submit_to_all_routed": round((routed_at or t0) - t0, 3),
                "pipeline_cpu_s": round(cpu, 2),
                "requests_seen_by_fake": seen["requests"],
                "answers_of_fake": seen["statuses"],
                "delivered_messages": seen["delivered"],
                "distinct_recipients": seen["distinct"],
                "everyone_exactly_once": seen["delivered"] == seen["distinct"] == followers,
                "seconds_loading_roster": round(load_s, 3),
                **where,
            }


def measure(followers: int = 100_000, latency_ms: float = 50.0, partitions: int = 8) -> dict[str, Any]:
    """The fake LINE API in a process of its own (LINE is another machine), the pipeline here."""
    with LineFake(latency_ms / 1000) as fake:
        return asyncio.run(run(followers, latency_ms, partitions, fake))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--followers", type=int, default=100_000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="5,000 followers: a smoke run")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    configure("ERROR")
    followers = 5_000 if args.quick else args.followers
    results = measure(followers, args.latency_ms, args.partitions)
    text = json.dumps(results, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text, encoding="utf-8")
    if not results["everyone_exactly_once"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
