"""What one send costs each live channel adapter: wall and CPU milliseconds, against its fake.

    python bench/bench_adapters.py            # 30 sends per channel
    python bench/bench_adapters.py --quick    # 3 sends per channel

Every channel the latency benchmark runs live (bench/fakes.py) sends the same tsunami-warning
exercise, rendered by the project's renderer for that channel, one send at a time, each a new
alert (so no adapter answers from its memory of an earlier one). App push and e-mail go to 20
recipients, as in the pipeline benchmark. In one process all channel workers share one event loop:
the CPU of one alert's sends, summed over the channels, is the least skew that alert can have.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_pipeline import RESIDENTS, bench_settings  # noqa: E402
from common import summary  # noqa: E402
from fakes import LIVE, Fleet  # noqa: E402

from broadcaster.channels import Delivery  # noqa: E402
from broadcaster.logging import configure  # noqa: E402
from broadcaster.model import Dispatch, Explanation, Priority, now  # noqa: E402
from broadcaster.pipeline.adapters import AdapterPool, profile_of  # noqa: E402
from broadcaster.render.renderer import Renderer  # noqa: E402
from tests.fakes.lalert import town_alert  # noqa: E402


async def measure(fleet: Fleet, workdir: Path, sends: int) -> dict[str, Any]:
    from bench_webpush import subscriptions

    settings = bench_settings(workdir, None, f"sqlite:///{workdir / 'unused.sqlite3'}", channels=fleet.channels())
    pool = AdapterPool(settings)
    renderer = Renderer(ROOT / "templates", check_interval_s=0)
    recipients = {
        "app_push": tuple(subscriptions(fleet.urls["push"], RESIDENTS)),
        "email": tuple(f"r{i}@example.jp" for i in range(RESIDENTS)),
    }
    out: dict[str, Any] = {}
    try:
        for channel in LIVE:
            profile = profile_of(settings, channel)
            adapter = pool.get("anamizu", channel)
            walls: list[float] = []
            cpus: list[float] = []
            for i in range(sends + 1):  # the first send connects and warms up: not counted
                ident = f"bench-{channel}-{i}-{time.time_ns()}"
                # Each alert its own event, as the pipeline benchmark's officer alerts are.
                alert = town_alert(identifier=ident, sent=now()).model_copy(update={"event_key": f"manual|{ident}"})
                created = now()
                d = Dispatch(
                    tenant="anamizu",
                    alert_id=alert.identifier,
                    event_key=alert.event_key,
                    channel=channel,
                    audience="public",
                    batch=0,
                    batch_count=1,
                    recipients=recipients.get(channel, ()),
                    template="auto",
                    languages=("ja",),
                    priority=Priority.FLASH,
                    explanation=Explanation(rule="bench"),
                    created=created,
                    deadline=created + timedelta(minutes=1),
                )
                texts = renderer.render(alert, d, profile, tenant_name="穴水町", public_url=settings.web.public_url)
                delivery = Delivery(dispatch=d, alert=alert, texts=tuple(texts), attempt=1)
                w0, c0 = time.perf_counter(), time.process_time()
                await adapter.send(delivery)
                if i:
                    walls.append((time.perf_counter() - w0) * 1000)
                    cpus.append((time.process_time() - c0) * 1000)
            out[channel] = {
                "wall_ms": summary(walls, 2),
                "cpu_ms": summary(cpus, 2),
                "recipients": len(recipients.get(channel, ())) or "broadcast",
            }
    finally:
        await pool.close()
    out["sum_of_cpu_p50_ms"] = round(sum(v["cpu_ms"]["p50"] for v in out.values() if isinstance(v, dict)), 2)
    return out


async def run(sends: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-adapters-") as tmp, Fleet(Path(tmp)) as fleet:
        return await measure(fleet, Path(tmp), sends)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sends", type=int, default=30)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    configure("ERROR")
    print(json.dumps(asyncio.run(run(3 if args.quick else args.sends)), indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
