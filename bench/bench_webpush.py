"""Web Push: how fast the app_push channel reaches the town app's subscribers.

    python bench/bench_webpush.py              # 10,000 subscribers; push service latency 0 and 50 ms
    python bench/bench_webpush.py --quick      # 2,000 subscribers, a smoke run
    python bench/bench_webpush.py --json out.json

Two figures:

* **send rate per core**: one WebPushAdapter in this process sends batches of 1,000 (as routing
  cuts them) one after another; subscriptions per wall second and per CPU second of this process.
  Each message is encrypted for its subscriber (RFC 8291: a fresh P-256 key pair, ECDH, HKDF,
  AES-GCM), which is what the CPU pays for; the VAPID token is signed once per push service.
* **time to reach everyone**: the whole pipeline as `broadcaster run` runs it (embedded bus, SQLite
  ledger, 8 partitions), app_push live, every other channel off, N residents of 川島 subscribed:
  from the officer's submit to the last batch accepted in the ledger, with the push service
  answering at once and after 50 ms.

The fake push service (tests/fakes/webpush.py) runs in a process of its own, as a push service is
another machine; it checks every VAPID header and counts each subscription's messages, so the run
also tells whether everyone got the message exactly once. On this project's 2-core machine the
fake and the sender share the cores: the per-CPU-second figure is the one to scale by.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import DATA_KEY, add_residents, cpu_seconds, started_pipeline  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from fakes import serve_push  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from adapters.outbound.app_push import HostPolicy, WebPushAdapter, WebPushSettings  # noqa: E402
from adapters.outbound.app_push.subscription import Subscription  # noqa: E402
from adapters.outbound.app_push.vapid import generate  # noqa: E402
from broadcaster.logging import configure  # noqa: E402
from broadcaster.pipeline.ingest import submit  # noqa: E402
from broadcaster.settings import DEFAULT_CHANNELS, load_settings  # noqa: E402
from broadcaster.store import tables  # noqa: E402
from broadcaster.store.ledger import Ledger  # noqa: E402
from tests.fakes.deliveries import delivery, text  # noqa: E402
from tests.fakes.site import alert  # noqa: E402
from tests.helpers import manual  # noqa: E402

PRIVATE, PUBLIC = generate()
BATCH = 1000


def subscriptions(base: str, n: int) -> list[str]:
    """n subscriptions on the fake; 50 key pairs shared among them (the cost is per message)."""
    keys = []
    for _ in range(50):
        k = ec.generate_private_key(ec.SECP256R1())
        point = k.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        keys.append(base64.urlsafe_b64encode(point).rstrip(b"=").decode())
    auth = base64.urlsafe_b64encode(bytes(range(16))).rstrip(b"=").decode()
    return [Subscription(f"{base}/push/b{i:06d}", keys[i % 50], auth).canonical() for i in range(n)]


async def send_rate(base: str, n: int, fake: Connection) -> dict[str, Any]:
    adapter = WebPushAdapter(
        WebPushSettings(
            vapid_private_key=SecretStr(PRIVATE),
            subject="mailto:bench@example.jp",
            hosts=HostPolicy(hosts=("127.0.0.1",), allow_http=True),
            concurrency=100,
            timeout=30,
        )
    )
    addresses = subscriptions(base, n)
    a = alert("bench-1", event="避難指示")
    wall0, cpu0 = time.perf_counter(), time.process_time()
    accepted = 0
    try:
        for i in range(0, n, BATCH):
            d = delivery(
                "app_push",
                text(
                    "【穴水町】川島地区に避難指示（警戒レベル4）を発令しました。", title="【穴水町】避難指示"
                ),
                alert=a,
                recipients=addresses[i : i + BATCH],
                batch=i // BATCH,
            )
            accepted += (await adapter.send(d)).accepted
    finally:
        await adapter.close()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    fake.send("report")
    seen = await asyncio.get_running_loop().run_in_executor(None, fake.recv)
    return {
        "subscriptions": n,
        "accepted": accepted,
        "seconds": round(wall, 3),
        "subscriptions_per_second": round(n / wall),
        "sender_cpu_seconds": round(cpu, 3),
        "subscriptions_per_cpu_second": round(n / cpu),
        "delivered_by_fake": seen["delivered"],
        "everyone_exactly_once": seen["delivered"] == seen["distinct"] == n,
    }


async def _subscribers(ledger: Ledger, addresses: list[str]) -> None:
    await add_residents(ledger, "anamizu", [{"app_push": a} for a in addresses])


def _progress(c: sa.Connection) -> tuple[int, int, int]:
    d = tables.dispatches
    rows = c.execute(
        sa.select(d.c.state, sa.func.count()).where(d.c.channel == "app_push").group_by(d.c.state)
    ).all()
    states = {str(s): int(n) for s, n in rows}
    return sum(states.values()), states.get("accepted", 0), states.get("dead", 0)


async def reach(base: str, n: int, fake: Connection) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        settings = load_settings(
            None,
            var_dir=workdir,
            db_url=f"sqlite+aiosqlite:///{workdir / 'ledger.sqlite3'}",
            outbox_dir=workdir / "outbox",
            bus={"url": f"embedded:{workdir / 'bus.sqlite3'}", "partitions": 8, "poll_interval_s": 0.2},
            channels={name: {"enabled": name == "app_push"} for name in DEFAULT_CHANNELS},
            tenants={
                "anamizu": {
                    "name": "穴水町",
                    "districts": [{"id": "kawashima", "name": "川島"}],
                    "channels": {
                        "app_push": {
                            "credentials": {"vapid_private_key": PRIVATE},
                            "options": {
                                "subject": "mailto:bench@example.jp",
                                "allowed_hosts": ["127.0.0.1"],
                                "allow_http": True,
                            },
                            "timeout_s": 120,
                        }
                    },
                }
            },
            rules_dir=ROOT / "rules",
            privacy={"key": DATA_KEY},
        )
        async with started_pipeline(settings) as (bus, ledger):
            await ledger.ensure_tenants([("anamizu", "穴水町")])
            await _subscribers(ledger, subscriptions(base, n))
            expected = -(-n // BATCH)
            t0, cpu0 = time.perf_counter(), cpu_seconds()
            await submit(
                bus, manual(kind="shelter", event="避難所開設", districts=["kawashima"], status="Exercise")
            )
            while True:
                total, accepted, dead = await ledger.db.read(_progress)
                if total >= expected and accepted + dead == total:
                    break
                if time.perf_counter() - t0 > 600:
                    raise TimeoutError(f"not done in 600 s: {accepted}/{total}")
                await asyncio.sleep(0.01)
            elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    fake.send("report")
    seen = await asyncio.get_running_loop().run_in_executor(None, fake.recv)
    return {
        "subscribers": n,
        "batches": total,
        "accepted": accepted,
        "dead": dead,
        "seconds_submit_to_all_accepted": round(elapsed, 3),
        "pipeline_cpu_s": round(cpu, 2),
        "delivered_by_fake": seen["delivered"],
        "refused_by_fake": seen["refused"],
        "everyone_exactly_once": seen["delivered"] == seen["distinct"] == n,
    }


def with_fake(latency_s: float, job: Any, *args: Any) -> dict[str, Any]:
    parent, child = multiprocessing.get_context("spawn").Pipe()
    proc = multiprocessing.get_context("spawn").Process(
        target=serve_push, args=(child, latency_s, PUBLIC), daemon=True
    )
    proc.start()
    try:
        base = parent.recv()
        result: dict[str, Any] = asyncio.run(job(base, *args, parent))
        return result
    finally:
        parent.send("stop")
        parent.recv()
        proc.join(timeout=10)


def measure(n: int = 10_000, latencies_ms: tuple[float, ...] = (0, 50)) -> dict[str, Any]:
    """The send rate of one adapter (per wall and CPU second), then the pipeline's reach at each
    push-service latency; each with the fake push service in a process of its own."""
    results: dict[str, Any] = {"send_rate": with_fake(0.0, send_rate, n)}
    for latency_ms in latencies_ms:
        results[f"reach_latency_{latency_ms:g}ms"] = with_fake(latency_ms / 1000, reach, n)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument(
        "--latencies-ms", type=float, nargs="+", default=[0, 50], help="the push service's answer times to reach with"
    )
    parser.add_argument("--quick", action="store_true", help="2,000 subscribers: a smoke run")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    configure("ERROR")
    n = 2_000 if args.quick else args.subscribers
    results = measure(n, tuple(args.latencies_ms))
    print(json.dumps(results, indent=1))
    rate = results["send_rate"]
    print(
        f"\nweb push: {rate['subscriptions_per_second']} subscriptions/s "
        f"({rate['subscriptions_per_cpu_second']} per CPU second of the sender); "
        + ", ".join(
            f"{n} subscribers reached in {results[k]['seconds_submit_to_all_accepted']} s at {k.split('_')[2]}"
            for k in results
            if k.startswith("reach")
        )
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    if not all(r["everyone_exactly_once"] for r in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
