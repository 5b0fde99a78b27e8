"""Prefecture-scale fan-out: 19 towns, 1.1 million subscribers, one alert to everyone.

    python bench/bench_prefecture.py                       # the run.py full sizes (scaled, projected)
    python bench/bench_prefecture.py --line-scale 1        # LINE at the full 1.1 million
    python bench/bench_prefecture.py --tiny                # the smoke test's size
    python bench/bench_prefecture.py --json out.json

A shared deployment for Ishikawa's 19 municipalities (populations of the 2020 census, scaled to
1,100,000 in total), every subscriber of every town reached by one prefecture-wide alert, each
channel in turn, the fakes in a process of their own answering every request after 50 ms:

* **Web Push encryption over processes**: N subscriptions' bodies (RFC 8291) encrypted by the
  adapter's pool (adapters/outbound/app_push/pool.py) with 1, 2, ... worker processes:
  subscriptions per CPU second of each worker, per wall second, and how linear the wall rate is in
  the processes (rate with p / (p × rate with 1)).
* **LINE**: one LINE Official Account per town (19 channels, each its own token), every follower in
  multicasts of 500 (as routing cuts them) through the real LineAdapter, at most `--in-flight`
  requests at once (the channel's 8 partitions in one worker process), the fake enforcing LINE's
  documented 200 multicast requests per second per channel (429 beyond, which the adapter's
  pace keeps it under).
* **Web Push**: every town's subscribers in batches of 1,000 through the real WebPushAdapter,
  whose pool (`encrypt_processes`) encrypts and posts in worker processes, with 1 and then as many
  workers as cores: subscriptions per wall second, per CPU second of all the processes and of
  each worker, and linearity; the push service answering after 50 ms.
* **FCM by topic**: one request per device topic (adapter fcm_topics): a whole-town alert is one
  topic per language the renderer serves, per town; the fake fans each out to the devices
  subscribed (scaled, as the devices are only the fake's bookkeeping).

The sizes are scaled (`--*-scale`): 1.1 million Web Push encryptions are some minutes of CPU on
this 2-core machine, so the run measures a fraction and **projects** the full size from it (the
time from the measured rate, which is CPU-bound; the CPU from CPU seconds per subscriber), and
says which figures are projected. The channel workers are driven directly, as the channel stage
calls them (batches of routing's size, the partitions' concurrency); routing and the ledger are
measured by bench_line_fanout.py and bench_webpush.py through the whole pipeline.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import sys
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import cpu_seconds  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from adapters.outbound.app_push import HostPolicy, WebPushAdapter, WebPushSettings  # noqa: E402
from adapters.outbound.app_push import pool as encrypt_pool  # noqa: E402
from adapters.outbound.app_push.subscription import Subscription  # noqa: E402
from adapters.outbound.app_push.vapid import generate  # noqa: E402
from broadcaster.errors import TransientError  # noqa: E402
from broadcaster.logging import configure  # noqa: E402
from tests.fakes.deliveries import delivery, text  # noqa: E402
from tests.fakes.site import alert  # noqa: E402

TOTAL = 1_100_000
# Ishikawa's 19 municipalities, 2020 census (about 1.13 million; scaled to TOTAL).
TOWNS: tuple[tuple[str, int], ...] = (
    ("kanazawa", 463_254), ("hakusan", 113_032), ("komatsu", 106_216), ("kaga", 63_220),
    ("nonoichi", 53_503), ("nanao", 50_300), ("nomi", 48_680), ("tsubata", 36_968),
    ("kahoku", 34_651), ("uchinada", 26_987), ("wajima", 24_608), ("hakui", 20_407),
    ("shika", 18_630), ("nakanoto", 16_936), ("noto", 15_687), ("suzu", 12_929),
    ("hodatsushimizu", 12_124), ("anamizu", 7_551), ("kawakita", 6_191),
)
LINE_BATCH, PUSH_BATCH = 500, 1000
# LINE's documented rate limit for multicast, per channel (Messaging API reference, rate limits).
LINE_MULTICAST_PER_S = 200
LATENCY_S = 0.05
PRIVATE, PUBLIC = generate()
TEXT = "【石川県】県内全域に避難指示（警戒レベル4）を発令しました。直ちに安全な場所へ避難してください。"


def shares(total: int) -> dict[str, int]:
    """Subscribers per town, proportional to its population, summing to `total`."""
    people = sum(p for _, p in TOWNS)
    out = {t: p * total // people for t, p in TOWNS}
    for t, _ in TOWNS[: total - sum(out.values())]:
        out[t] += 1
    return out


# ---------------------------------------------------------------- the fakes' process


def _serve(conn: Connection, latency_s: float, vapid_public: str, fcm_devices: dict[str, int]) -> None:
    from broadcaster.audience import device_topics
    from broadcaster.render.languages import SUPPORTED
    from tests.fakes.fcm import FakeFcm, service_account
    from tests.fakes.line import FakeLine
    from tests.fakes.webpush import FakePushService

    async def serve() -> None:
        lines = {t: FakeLine(token=f"line-{t}", latency=latency_s, per_second_limit=LINE_MULTICAST_PER_S) for t, _ in TOWNS}
        push = FakePushService(latency=latency_s, decrypt=False, accept_unknown=True, vapid_public_key=vapid_public)
        account, public = service_account("ishikawa-app")
        fcm = FakeFcm(
            email=account["client_email"], public_key=public, project="ishikawa-app",
            latency=latency_s, keep_fanned_messages=False,
        )
        for fake in (*lines.values(), push, fcm):
            await fake.start()
        # Each town's app users: one district each, a language of the renderer's in turn.
        for town, n in fcm_devices.items():
            for i in range(n):
                device = f"{town}-device-{i:07d}"
                fcm.devices.add(device)
                fcm.subscribe(device, *device_topics(town, ("d1",), SUPPORTED[i % len(SUPPORTED)]))
        conn.send({"line": {t: f.url for t, f in lines.items()}, "push": push.base, "fcm": fcm.base,
                   "fcm_token_url": fcm.token_url, "fcm_account": account})
        loop = asyncio.get_running_loop()
        try:
            while True:
                command = await loop.run_in_executor(None, conn.recv)
                await fcm.fanned_out()
                line_to = Counter(u for f in lines.values() for u in f.recipients())
                statuses = Counter(r.status for f in lines.values() for r in f.requests)
                pushed = Counter(p.name for p in push.received if p.status == 201)
                conn.send({
                    "line": {"delivered": sum(line_to.values()), "distinct": len(line_to),
                             "statuses": dict(statuses)},
                    "app_push": {"delivered": sum(pushed.values()), "distinct": len(pushed),
                                 "statuses": dict(Counter(p.status for p in push.received))},
                    "fcm": {"requests": fcm.requests, "topics_accepted": len(fcm.sent),
                            "devices_reached": len(fcm.fanned), "deliveries": sum(fcm.fanned.values()),
                            "devices": len(fcm.devices), "refused": len(fcm.refused)},
                })
                if command == "stop":
                    return
        finally:
            for fake in (*lines.values(), push, fcm):
                await fake.close()

    asyncio.run(serve())


class Fakes:
    def __init__(self, latency_s: float, fcm_devices: dict[str, int]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, latency_s, PUBLIC, fcm_devices), daemon=True)
        self._proc.start()
        if not self._conn.poll(300):
            self._proc.kill()
            raise RuntimeError("the fakes did not start")
        self.urls: dict[str, Any] = self._conn.recv()

    async def report(self) -> dict[str, Any]:
        self._conn.send("report")
        result: dict[str, Any] = await asyncio.get_running_loop().run_in_executor(None, self._conn.recv)
        return result

    def stop(self) -> None:
        self._conn.send("stop")
        self._conn.recv()
        self._proc.join(timeout=10)


# ---------------------------------------------------------------- encryption over processes


def _keys(n: int) -> list[tuple[str, str]]:
    """n (p256dh, auth) pairs; 50 key pairs shared among them (the cost is per message)."""
    pairs = []
    for _ in range(50):
        k = ec.generate_private_key(ec.SECP256R1())
        point = k.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        pairs.append(base64.urlsafe_b64encode(point).rstrip(b"=").decode())
    auth = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
    return [(pairs[i % 50], auth) for i in range(n)]


def _plaintext() -> bytes:
    body = {"title": "【石川県】避難指示", "body": TEXT, "url": "https://bousai.example.jp/alerts/x/y", "tag": "t" * 22}
    return json.dumps(body, ensure_ascii=False).encode()


async def encryption(n: int, processes: list[int], rounds: int) -> dict[str, Any]:
    keys, data = _keys(n), _plaintext()
    runs = []
    for p in processes:
        pool = encrypt_pool.EncryptPool(p)
        try:
            await pool.warm()
            await pool.encrypt(data, keys[: 50 * p])  # every worker has imported and run once
            best: dict[str, Any] | None = None
            for _ in range(rounds):
                cpu0, t0 = pool.worker_cpu_s, time.perf_counter()
                parent0 = cpu_seconds()
                bodies = await pool.encrypt(data, keys)
                wall, worker_cpu = time.perf_counter() - t0, pool.worker_cpu_s - cpu0
                assert len(bodies) == n
                assert all(bodies)
                run = {
                    "processes": p,
                    "subscriptions": n,
                    "seconds": round(wall, 3),
                    "per_wall_s": round(n / wall),
                    "worker_cpu_s": round(worker_cpu, 3),
                    "per_worker_cpu_s": round(n / worker_cpu),
                    "per_cpu_s_per_process": round(n / worker_cpu),
                    "parent_cpu_s": round(cpu_seconds() - parent0, 3),
                }
                if best is None or run["per_wall_s"] > best["per_wall_s"]:
                    best = run
            assert best is not None
            runs.append(best)
        finally:
            pool.close()
    one = next((r for r in runs if r["processes"] == 1), None)
    for r in runs:
        r["linearity"] = round(r["per_wall_s"] / (r["processes"] * one["per_wall_s"]), 2) if one else None
    return {"runs": runs, "cores": len(os.sched_getaffinity(0)), "best_of_rounds": rounds}


# ---------------------------------------------------------------- the channels


async def line(fakes: Fakes, followers: dict[str, int], in_flight: int) -> dict[str, Any]:
    from adapters.outbound.line.adapter import LineAdapter, LineSettings

    adapters = {
        t: LineAdapter(
            LineSettings(token=SecretStr(f"line-{t}"), base_url=fakes.urls["line"][t], timeout=60),  # type: ignore[arg-type]
            tenant=t, public_url="https://bousai.example.jp",
        )
        for t in followers
    }
    a = alert("pref-line", event="避難指示")
    jobs = []
    # Batch numbers run on across the towns: the test deliveries share one alert, and a batch's
    # idempotency key (what the adapters remember per dispatch) must be its own.
    for k, (t, n) in enumerate(followers.items()):
        users = [f"U{k:06x}{i:026x}" for i in range(n)]  # LINE user ids: U and 32 hex digits
        for i in range(0, n, LINE_BATCH):
            d = delivery("line", text(TEXT), alert=a, recipients=users[i : i + LINE_BATCH], batch=len(jobs))
            jobs.append((i, t, d))
    # Interleave the towns, as the partitions of dispatch.line carry every town's batches.
    jobs.sort(key=lambda j: j[0])
    gate = asyncio.Semaphore(in_flight)
    retries = 0

    async def one(t: str, d: Any) -> int:
        nonlocal retries
        last: Exception | None = None
        async with gate:
            for _ in range(20):
                try:
                    return int((await adapters[t].send(d)).accepted)
                except TransientError as e:  # a 429 (LINE's per-second limit): the worker retries
                    retries += 1
                    last = e
                    await asyncio.sleep(e.retry_after or 1.0)
            raise RuntimeError(f"{t}: batch {d.dispatch.batch} not accepted after 20 attempts: {last}")

    t0, cpu0 = time.perf_counter(), cpu_seconds()
    try:
        accepted = sum(await asyncio.gather(*(one(t, d) for _, t, d in jobs)))
    finally:
        for ad in adapters.values():
            await ad.close()
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    seen = (await fakes.report())["line"]
    n = sum(followers.values())
    return {
        "accounts": len(followers), "followers": n, "multicasts": len(jobs), "in_flight": in_flight,
        "accepted": accepted, "retries": retries, "seconds": round(wall, 3), "cpu_s": round(cpu, 3),
        "cpu_ms_per_multicast": round(1000 * cpu / max(1, len(jobs)), 2),
        "fake": seen, "everyone_exactly_once": seen["delivered"] == seen["distinct"] == n,
        "largest_account": max(followers.values()),
    }


async def webpush(
    fakes: Fakes, subscribers: dict[str, int], processes: int, in_flight: int, run: str
) -> dict[str, Any]:
    pool = encrypt_pool.shared(processes) if processes else None
    settings = WebPushSettings(
        vapid_private_key=SecretStr(PRIVATE), subject="mailto:bench@example.jp",
        hosts=HostPolicy(hosts=("127.0.0.1",), allow_http=True), concurrency=100, timeout=60,
        encrypt_processes=processes,
    )
    adapter = WebPushAdapter(settings)  # one channel worker serves every town (one VAPID key here)
    if pool is not None:
        await pool.warm()
    base = fakes.urls["push"]
    keys = _keys(50)
    a = alert("pref-push", event="避難指示")
    jobs = []
    for t, n in subscribers.items():
        subs = [Subscription(f"{base}/push/{run}-{t}-{i:07d}", *keys[i % 50]).canonical() for i in range(n)]
        for i in range(0, n, PUSH_BATCH):
            jobs.append(delivery("app_push", text(TEXT, title="【石川県】避難指示"), alert=a,
                                 recipients=subs[i : i + PUSH_BATCH], batch=len(jobs)))
    gate = asyncio.Semaphore(in_flight)

    async def one(d: Any) -> int:
        async with gate:
            return int((await adapter.send(d)).accepted)

    worker0 = pool.worker_cpu_s if pool else 0.0
    before = (await fakes.report())["app_push"]
    t0, cpu0 = time.perf_counter(), cpu_seconds()
    try:
        accepted = sum(await asyncio.gather(*(one(d) for d in jobs)))
    finally:
        await adapter.close()
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    workers = (pool.worker_cpu_s - worker0) if pool else 0.0
    after = (await fakes.report())["app_push"]
    seen = {k: after[k] - before[k] for k in ("delivered", "distinct")}
    n = sum(subscribers.values())
    return {
        "subscriptions": n, "batches": len(jobs), "in_flight": in_flight, "encrypt_processes": processes,
        "accepted": accepted, "seconds": round(wall, 3), "per_wall_s": round(n / wall),
        "sender_cpu_s": round(cpu, 3), "encrypt_workers_cpu_s": round(workers, 3),
        "per_cpu_s_all_processes": round(n / (cpu + workers)),
        "per_cpu_s_of_each_worker": round(n / workers) if workers else None,
        "fake": seen, "everyone_exactly_once": seen["delivered"] == seen["distinct"] == n,
    }


async def fcm_topics(fakes: Fakes, towns: list[str]) -> dict[str, Any]:
    from adapters.outbound.fcm import FcmTopicAdapter
    from adapters.outbound.fcm.adapter import FcmSettings
    from adapters.outbound.fcm.oauth import ServiceAccount
    from broadcaster.audience import dispatch_topic
    from broadcaster.render.languages import SUPPORTED

    account = ServiceAccount.model_validate(fakes.urls["fcm_account"])
    adapter = FcmTopicAdapter(FcmSettings(
        account=account, project_id="ishikawa-app", base_url=fakes.urls["fcm"],
        token_url=fakes.urls["fcm_token_url"], concurrency=4,
    ))
    a = alert("pref-fcm", event="避難指示")
    texts = [text(TEXT, title="【石川県】避難指示", language=lang) for lang in SUPPORTED]
    jobs = [
        delivery("fcm", *texts, alert=a, recipients=[dispatch_topic(t, "public", lang) for lang in SUPPORTED], batch=b)
        for b, t in enumerate(towns)
    ]
    t0, cpu0 = time.perf_counter(), cpu_seconds()
    try:
        # Each town's dispatch is one channel-worker send; the adapter keeps 4 topics in flight.
        accepted = sum(r.accepted for r in await asyncio.gather(*(adapter.send(d) for d in jobs)))
    finally:
        await adapter.close()
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    seen = (await fakes.report())["fcm"]
    return {
        "towns": len(towns), "topics": sum(len(d.recipients) for d in jobs), "accepted": accepted,
        "seconds_all_topics_accepted": round(wall, 3), "cpu_s": round(cpu, 3), "fake": seen,
        "every_device_once": seen["devices_reached"] == seen["deliveries"] == seen["devices"],
    }


# ---------------------------------------------------------------- projection


def project(r: dict[str, Any], cores: int) -> dict[str, Any]:
    """Full-size figures from the scaled runs: time at the measured rate (each channel's work is
    CPU-bound or request-bound and grows with the subscribers), CPU per subscriber times 1.1
    million, and per core."""
    out: dict[str, Any] = {"subscribers": TOTAL, "cores_here": cores}
    ln = r.get("line")
    if ln:
        f = TOTAL / ln["followers"]
        multicasts = -(-TOTAL // LINE_BATCH)
        largest = shares(TOTAL)["kanazawa"]
        # The floor LINE itself sets: the largest town's account at 200 multicasts a second.
        floor = -(-largest // LINE_BATCH) / LINE_MULTICAST_PER_S
        out["line"] = {
            "measured_at": ln["followers"], "projected": ln["followers"] < TOTAL,
            "seconds": round(ln["seconds"] * f, 1),
            "cpu_s": round(ln["cpu_s"] * f, 1),
            "seconds_at_in_flight_limit": round(multicasts * LATENCY_S / ln["in_flight"], 1),
            "seconds_line_rate_floor_largest_account": round(floor, 1),
        }
    wp = r.get("webpush")
    if wp:
        f = TOTAL / wp["subscriptions"]
        cpu = wp["sender_cpu_s"] + wp["encrypt_workers_cpu_s"]
        out["webpush"] = {
            "measured_at": wp["subscriptions"], "projected": True,
            "seconds": round(wp["seconds"] * f, 1),
            "cpu_s": round(cpu * f, 1),
            "seconds_per_core_if_cpu_bound": round(cpu * f / cores, 1),
            # Sending processes on that many cores, if the rate stays linear in them (and the
            # push services keep up): the CPU divided by the cores.
            "seconds_on_cores": {str(c): round(cpu * f / c, 1) for c in (1, 2, 4, 8, 16)},
            "cpu_minutes": round(cpu * f / 60, 1),
        }
    enc = r.get("encryption")
    if enc and enc["runs"]:
        per_proc = min(x["per_cpu_s_per_process"] for x in enc["runs"])
        out["encryption"] = {
            "cpu_s": round(TOTAL / per_proc, 1),
            "seconds_on_cores": {str(c): round(TOTAL / per_proc / c, 1) for c in (1, 2, 4, 8, 16)},
        }
    fc = r.get("fcm")
    if fc:
        out["fcm"] = {"seconds": fc["seconds_all_topics_accepted"], "requests": fc["topics"],
                      "note": "requests do not grow with the devices; FCM's own fan-out time is not measured"}
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"towns": len(TOWNS), "subscribers_full": TOTAL, "latency_ms": args.latency_ms}
    cores = len(os.sched_getaffinity(0))
    procs = sorted({1, *range(2, cores + 1)}) if not args.processes else args.processes
    results["encryption"] = await encryption(args.encrypt_n, procs, args.rounds)
    fcm_devices = shares(max(len(TOWNS), round(TOTAL * args.fcm_scale)))
    fakes = Fakes(args.latency_ms / 1000, fcm_devices)
    try:
        followers = shares(max(len(TOWNS), round(TOTAL * args.line_scale)))
        results["line"] = await line(fakes, followers, args.in_flight)
        subscribers = shares(max(len(TOWNS), round(TOTAL * args.push_scale)))
        sizes = args.push_processes or sorted({1, cores})
        runs = [await webpush(fakes, subscribers, p, args.in_flight, f"r{p}") for p in sizes]
        one = next((x for x in runs if x["encrypt_processes"] == 1), None)
        for x in runs:
            p = max(1, x["encrypt_processes"])
            x["linearity"] = round(x["per_wall_s"] / (p * one["per_wall_s"]), 2) if one else None
        results["webpush"] = max(runs, key=lambda x: x["encrypt_processes"])
        results["webpush_runs"] = runs
        results["fcm"] = await fcm_topics(fakes, [t for t, _ in TOWNS])
    finally:
        fakes.stop()
    results["projection"] = project(results, cores)
    results["scales"] = {"line": args.line_scale, "push": args.push_scale, "fcm_devices": args.fcm_scale}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--line-scale", type=float, default=0.1, help="fraction of 1.1 million LINE followers")
    parser.add_argument("--push-scale", type=float, default=0.01, help="fraction of 1.1 million Web Push subscribers")
    parser.add_argument("--fcm-scale", type=float, default=0.01, help="fraction of 1.1 million FCM devices (the fake's)")
    parser.add_argument("--encrypt-n", type=int, default=4000, help="subscriptions per encryption run")
    parser.add_argument("--rounds", type=int, default=3, help="encryption rounds per pool size (best is kept)")
    parser.add_argument("--processes", type=int, nargs="+", default=None, help="pool sizes (default 1..cores)")
    parser.add_argument(
        "--push-processes", type=int, nargs="+", default=None, help="the Web Push sender's pool sizes (default 1 and cores)"
    )
    parser.add_argument("--in-flight", type=int, default=8, help="batches at once per channel (the partitions)")
    parser.add_argument("--latency-ms", type=float, default=LATENCY_S * 1000)
    parser.add_argument("--tiny", action="store_true", help="the smoke test's size")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.tiny:
        args.line_scale, args.push_scale, args.fcm_scale = 0.002, 0.0004, 0.0002
        args.encrypt_n, args.rounds = 200, 1
        args.processes = args.processes or [1, 2]
    configure("ERROR")
    results = asyncio.run(run(args))
    print(json.dumps(results, indent=1))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    ok = (
        results["line"]["everyone_exactly_once"]
        and all(x["everyone_exactly_once"] for x in results["webpush_runs"])
        and results["fcm"]["every_device_once"]
    )
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
