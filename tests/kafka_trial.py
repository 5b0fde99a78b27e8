"""A deployment on Kafka in real processes, for fault trials: kill workers, restart the broker.

Stage workers run as `broadcaster worker` processes against the test broker; the ledger is a
PostgreSQL database of the trial's own. The trial feeds alerts, makes trouble, and then checks
the ledger and the outbox: every alert routed, every dispatch accepted and in the outbox,
repeats only where a send was in doubt.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from broadcaster.bus.kafka import KafkaBus
from broadcaster.pipeline.ingest import submit
from broadcaster.store import migrate, tables
from broadcaster.store.ledger import Ledger
from tests.helpers import manual

ROOT = Path(__file__).resolve().parents[1]

CONFIG = """
var_dir = "{tmp}"
db_url = "{db}"
outbox_dir = "{tmp}/outbox"
log_format = "json"

[web]
enabled = false

[bus]
url = "kafka://{kafka}"
partitions = 4
prefix = "{prefix}"
kafka_session_timeout_ms = 6000

[pipeline]
retry_tiers_s = [0.5, 1.0, 2.0]
redrive_after_s = {redrive_after}
redrive_interval_s = 1.0

[channels.app_push]
enabled = false
[channels.email]
enabled = false
[channels.circular]
enabled = false
[channels.mastodon]
enabled = false
[channels.bluesky]
enabled = false
[channels.webhook]
enabled = false
[channels.lalert_out]
enabled = false

[tenants.anamizu]
name = "穴水町"
geocodes = [{{ value_name = "test/city", value = "1746100" }}]
"""

# Every stage of a deployment, each in its own process.
STAGES = ("normalize", "route", "channel:website", "channel:line", "channel:x", "ledger", "redrive")


@dataclass
class Outcome:
    alerts: int = 0
    kills: int = 0
    broker_restarts: int = 0
    dispatches: int = 0
    lost: list[str] = field(default_factory=list)
    duplicates: int = 0
    unexplained: list[str] = field(default_factory=list)
    in_doubt: int = 0


class Deployment:
    def __init__(self, tmp: Path, kafka: str, db_url: str, *, redrive_after: float = 5.0) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        self.tmp = tmp
        self.kafka = kafka
        self.db_url = db_url
        self.prefix = f"k{uuid.uuid4().hex[:8]}."
        self.config = tmp / "broadcaster.toml"
        self.config.write_text(
            CONFIG.format(tmp=tmp, db=db_url, kafka=kafka, prefix=self.prefix, redrive_after=redrive_after),
            encoding="utf-8",
        )
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def spawn(self, stage: str) -> None:
        log = self.tmp / f"{stage.replace(':', '_')}.log"
        with log.open("ab") as out:
            self.procs[stage] = subprocess.Popen(
                [sys.executable, "-m", "broadcaster.cli", "worker", stage],
                env={**os.environ, "BROADCASTER_CONFIG": str(self.config)},
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,
            )

    def kill(self, stage: str) -> None:
        proc = self.procs[stage]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def outbox(self) -> Counter[str]:
        keys: Counter[str] = Counter()
        for path in (self.tmp / "outbox").glob("*/*.jsonl"):
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    keys[json.loads(line)["idempotency_key"]] += 1
        return keys


def _progress(c: sa.Connection) -> tuple[int, int, int]:
    count = sa.select(sa.func.count())
    alerts = c.execute(count.select_from(tables.alerts)).scalar() or 0
    routed = c.execute(count.select_from(tables.alerts).where(tables.alerts.c.state != "received")).scalar() or 0
    open_ = c.execute(count.select_from(tables.dispatches).where(tables.dispatches.c.state != "accepted")).scalar() or 0
    return int(alerts), int(routed), int(open_)


async def run_trial(
    tmp: Path,
    kafka: Any,
    db_url: str,
    *,
    alerts: int,
    kills: int = 0,
    restart_broker: bool = False,
    seed: int = 0,
    timeout: float = 240.0,
) -> Outcome:
    rng = random.Random(seed)
    ledger = Ledger.connect(db_url)
    await migrate.upgrade(ledger.db)
    await ledger.ensure_tenants([("anamizu", "穴水町")])
    deployment = Deployment(tmp, kafka.bootstrap, db_url)
    outcome = Outcome(alerts=alerts)
    for stage in STAGES:
        deployment.spawn(stage)
    bus = KafkaBus(kafka.bootstrap, partitions=4, prefix=deployment.prefix)
    await bus.start()
    try:
        moments = sorted(rng.sample(range(2, alerts), min(kills, alerts - 2)))
        restart_at = alerts // 2 if restart_broker else -1
        for n in range(alerts):
            await submit(bus, manual(headline=f"お知らせ {n}", kind="tsunami", status="Exercise"), ledger)
            while moments and moments[0] == n:
                moments.pop(0)
                stage = rng.choice(STAGES)
                await asyncio.sleep(rng.uniform(0.0, 1.0))
                deployment.kill(stage)
                deployment.spawn(stage)
                outcome.kills += 1
            if n == restart_at:
                # The broker comes back empty: topics, messages and committed offsets are gone.
                kafka.restart()
                outcome.broker_restarts += 1
                await bus.close()
                bus = KafkaBus(kafka.bootstrap, partitions=4, prefix=deployment.prefix)
                await bus.start()
            await asyncio.sleep(rng.uniform(0.05, 0.3))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            n_alerts, routed, open_ = await ledger.db.read(_progress)
            if n_alerts == alerts and routed == alerts and open_ == 0:
                break
            await asyncio.sleep(0.5)
    finally:
        deployment.stop_all()
        await bus.close()

    def facts(c: sa.Connection) -> tuple[set[str], list[Any], set[str]]:
        headlines = {r.headline for r in c.execute(sa.select(tables.alerts.c.headline))}
        dispatches = list(c.execute(sa.select(tables.dispatches.c.key, tables.dispatches.c.state)))
        in_doubt = {
            r.dispatch_key
            for r in c.execute(sa.select(tables.attempts.c.dispatch_key).where(tables.attempts.c.status == "started"))
        }
        return headlines, dispatches, in_doubt

    headlines, dispatches, in_doubt = await ledger.db.read(facts)
    await ledger.close()
    outcome.lost = [f"alert {n}" for n in range(alerts) if f"お知らせ {n}" not in headlines]
    outcome.dispatches = len(dispatches)
    outcome.lost += [f"dispatch {d.key} {d.state}" for d in dispatches if d.state != "accepted"]
    sent = deployment.outbox()
    outcome.lost += [f"dispatch {d.key} not in the outbox" for d in dispatches if sent[d.key] == 0]
    outcome.in_doubt = len(in_doubt)
    for key, count in sent.items():
        if count > 1:
            outcome.duplicates += count - 1
            if key not in in_doubt:
                outcome.unexplained.append(key)
    return outcome
