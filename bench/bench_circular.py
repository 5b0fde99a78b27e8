"""E-circular fan-out: an evacuation order's circular to 1,000 district leaders, with their links.

    python bench/bench_circular.py              # 1,000 leaders, LINE answering in 50 ms
    python bench/bench_circular.py --quick      # 50 leaders, a smoke run

The pipeline runs in this process as `broadcaster run` runs it (embedded bus, SQLite ledger), with
the circular channel live (a link key is set) and every other channel off, so the figure is the
circular's alone. Each leader has a LINE user id, the channel the circular's notifier sends their
personal link on; LINE is the fake Messaging API in a process of its own, answering each request
after the given latency (tests/fakes/line.py). An officer's 避難指示 (level 4) for the whole town,
as an exercise (the rules send a drill like the real order, without holding it for a second
officer), is submitted; timed from the submit to every leader's delivery recorded (the circular
dispatches accepted) and to every leader's link sent (the notices; those that did not fit in the
dispatch's time go with the circular's scheduled job, which runs in this process too).

The circular channel was being rebuilt while this benchmark was written: it measures the channel
as it stood then (broadcaster/circulars).
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

from common import DATA_KEY, cpu_seconds, started_pipeline  # noqa: E402
from fakes import LINE_TOKEN, LineFake  # noqa: E402

from broadcaster.logging import configure  # noqa: E402
from broadcaster.pipeline.ingest import submit  # noqa: E402
from broadcaster.settings import DEFAULT_CHANNELS, load_settings  # noqa: E402
from broadcaster.store import tables  # noqa: E402
from broadcaster.store.audiences import Audiences, Person  # noqa: E402
from tests.helpers import manual  # noqa: E402

DISTRICTS = 20


def _states(c: sa.Connection) -> dict[str, Any]:
    d, n, cd = tables.dispatches, tables.circular_notices, tables.circular_deliveries
    dispatches = dict(
        c.execute(sa.select(d.c.state, sa.func.count()).where(d.c.channel == "circular").group_by(d.c.state)).all()
    )
    notices = dict(c.execute(sa.select(n.c.state, sa.func.count()).group_by(n.c.state)).all())
    deliveries = int(c.execute(sa.select(sa.func.count()).select_from(cd)).scalar() or 0)
    return {"dispatches": dispatches, "notices": notices, "deliveries": deliveries}


async def run(leaders: int, latency_ms: float, fake: LineFake) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-circular-") as tmp:
        workdir = Path(tmp)
        settings = load_settings(
            None,
            var_dir=workdir,
            db_url=f"sqlite+aiosqlite:///{workdir / 'ledger.sqlite3'}",
            outbox_dir=workdir / "outbox",
            bus={"url": f"embedded:{workdir / 'bus.sqlite3'}", "partitions": 8, "poll_interval_s": 0.2},
            web={"enabled": False, "public_url": "https://bousai.town.anamizu.example"},
            channels={name: {"enabled": name == "circular"} for name in DEFAULT_CHANNELS},
            circulars={"link_key": "b" * 40, "notify_channels": ["line"]},
            tenants={
                "anamizu": {
                    "name": "穴水町",
                    "districts": [{"id": f"d{i:02d}", "name": f"地区{i}"} for i in range(DISTRICTS)],
                    "channels": {
                        "line": {
                            "credentials": {"token": LINE_TOKEN},
                            "options": {"base_url": fake.url},
                            "timeout_s": 30,
                        }
                    },
                }
            },
            rules_dir=ROOT / "rules",
            privacy={"key": DATA_KEY},
        )
        async with started_pipeline(settings) as (bus, ledger):
            people = [
                Person(
                    external_id=f"L{i:05d}",
                    kind="leader",
                    name=f"区長{i}",
                    title="区長",
                    districts=(f"d{i % DISTRICTS:02d}",),
                    endpoints=(("circular", f"L{i:05d}"), ("line", f"U{i:032x}")),
                )
                for i in range(leaders)
            ]
            await Audiences(ledger.db).import_people("anamizu", people)
            raw = manual(
                kind="evacuation",
                level=4,
                event="避難指示",
                headline="町内全域に避難指示",
                description="これは性能測定のための訓練です。",
                status="Exercise",
                urgency="Immediate",
                severity="Severe",
            )
            # An exercise: the rules send it like the real order, without holding it for a second
            # officer (only Actual officers' alerts wait), so the time is the pipeline's alone.
            t0, cpu0 = time.perf_counter(), cpu_seconds()
            await submit(bus, raw, ledger)
            recorded_at: float | None = None
            while True:
                s = await ledger.db.read(_states)
                dispatches = sum(s["dispatches"].values())
                final = sum(v for k, v in s["dispatches"].items() if k in ("accepted", "dead"))
                if recorded_at is None and dispatches and final == dispatches:
                    recorded_at = time.perf_counter()
                notices = sum(s["notices"].values())
                if recorded_at is not None and notices >= leaders and s["notices"].get("sent", 0) + s[
                    "notices"
                ].get("dead", 0) >= leaders:
                    break
                if time.perf_counter() - t0 > 600:
                    raise TimeoutError(f"not done in 600 s: {s}")
                await asyncio.sleep(0.02)
            elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    seen = fake.report()
    return {
        "leaders": leaders,
        "latency_ms_per_request": latency_ms,
        "circular_dispatches": s["dispatches"],
        "deliveries_recorded": s["deliveries"],
        "notices": s["notices"],
        "seconds_submit_to_all_recorded": round((recorded_at or t0) - t0, 3),
        "seconds_submit_to_all_links_sent": round(elapsed, 3),
        "pipeline_cpu_s": round(cpu, 2),
        "line_pushes_seen_by_fake": seen["pushes"],
        "answers_of_fake": seen["statuses"],
        "every_leader_once": seen["delivered"] == seen["distinct"] == leaders,
    }


def measure(leaders: int = 1_000, latency_ms: float = 50.0) -> dict[str, Any]:
    with LineFake(latency_ms / 1000) as fake:
        return asyncio.run(run(leaders, latency_ms, fake))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leaders", type=int, default=1_000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--quick", action="store_true", help="50 leaders: a smoke run")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    configure("ERROR")
    results = measure(50 if args.quick else args.leaders, args.latency_ms)
    text = json.dumps(results, indent=1, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text, encoding="utf-8")
    if not results["every_leader_once"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
