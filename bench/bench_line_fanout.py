"""LINE fan-out: one alert to a district of 100,000 LINE followers, through the real pipeline.

    python bench/bench_line_fanout.py              # 100,000 followers, 200 multicasts, 50 ms each
    python bench/bench_line_fanout.py --quick      # 5,000 followers, a smoke run
    python bench/bench_line_fanout.py --latency-ms 200 --partitions 16

The pipeline runs in this process as `broadcaster run` runs it (embedded bus, SQLite ledger), with
the LINE channel live against the fake Messaging API on loopback (tests/fakes/line.py), which
answers each request after the given latency. Every other channel is disabled, so the figure is
LINE's alone. Timed from the officer's submit to the last multicast accepted in the ledger; the
fake then checks that every follower got the message exactly once.
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
from broadcaster.model import now  # noqa: E402
from broadcaster.pipeline.ingest import submit  # noqa: E402
from broadcaster.pipeline.runner import Pipeline, Runtime, stage_names  # noqa: E402
from broadcaster.settings import DEFAULT_CHANNELS, load_settings  # noqa: E402
from broadcaster.store import migrate, tables  # noqa: E402
from broadcaster.store.audiences import address_hash  # noqa: E402
from broadcaster.store.ledger import Ledger  # noqa: E402
from tests.fakes.line import FakeLine  # noqa: E402
from tests.helpers import manual  # noqa: E402

TOKEN = "bench-line-token"


def _followers(ledger: Ledger, n: int) -> Any:
    """n residents of 川島 with a LINE user id each, in one transaction (the roster import's way)."""
    stamp = now()

    def work(c: sa.Connection) -> None:
        first = c.execute(sa.select(sa.func.coalesce(sa.func.max(tables.subscribers.c.id), 0))).scalar() or 0
        ids = range(first + 1, first + n + 1)
        c.execute(
            tables.subscribers.insert(),
            [
                {
                    "id": i,
                    "tenant": "anamizu",
                    "kind": "resident",
                    "language": "ja",
                    "topics": [],
                    "active": True,
                    "created": stamp,
                    "updated": stamp,
                }
                for i in ids
            ],
        )
        c.execute(
            tables.subscriber_districts.insert(), [{"subscriber_id": i, "district": "kawashima"} for i in ids]
        )
        c.execute(
            tables.subscriber_endpoints.insert(),
            [
                {
                    "subscriber_id": i,
                    "channel": "line",
                    "address": f"U{i:032x}",
                    "address_hash": address_hash("line", f"U{i:032x}"),
                }
                for i in ids
            ],
        )

    return ledger.db.write(work)


def _line_progress(c: sa.Connection) -> tuple[int, int, int]:
    d = tables.dispatches
    rows = c.execute(
        sa.select(d.c.state, sa.func.count()).where(d.c.channel == "line").group_by(d.c.state)
    ).all()
    states = {str(s): int(n) for s, n in rows}
    return sum(states.values()), states.get("accepted", 0), states.get("dead", 0)


async def run(followers: int, latency_ms: float, partitions: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        async with FakeLine(token=TOKEN, latency=latency_ms / 1000) as fake:
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
                                "options": {"base_url": fake.url},
                                "timeout_s": 30,
                            }
                        },
                    }
                },
                rules_dir=ROOT / "rules",
            )
            bus = open_bus(settings.bus)
            await bus.start()
            ledger = Ledger.connect(settings.db_url)
            await migrate.upgrade(ledger.db)
            pipeline = Pipeline(Runtime.build(settings, bus, ledger), stage_names(settings))
            await pipeline.start()
            try:
                await pipeline.ready()
                await ledger.ensure_tenants([("anamizu", "穴水町")])
                loaded = time.perf_counter()
                await _followers(ledger, followers)
                load_s = time.perf_counter() - loaded
                expected = -(-followers // 500)

                t0 = time.perf_counter()
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
                elapsed = time.perf_counter() - t0
            finally:
                await pipeline.stop()
                await ledger.close()
                await bus.close()

            delivered = fake.recipients()
            return {
                "followers": followers,
                "multicasts": total,
                "accepted": accepted,
                "dead": dead,
                "latency_ms_per_request": latency_ms,
                "partitions": partitions,
                "seconds_submit_to_all_accepted": round(elapsed, 3),
                "seconds_submit_to_all_routed": round((routed_at or t0) - t0, 3),
                "requests_seen_by_fake": len(fake.requests),
                "delivered_messages": len(delivered),
                "distinct_recipients": len(set(delivered)),
                "everyone_exactly_once": len(delivered) == len(set(delivered)) == followers,
                "seconds_loading_roster": round(load_s, 3),
            }


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
    results = asyncio.run(run(followers, args.latency_ms, args.partitions))
    text = json.dumps(results, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text, encoding="utf-8")
    if not results["everyone_exactly_once"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
