"""Crash trials: kill -9 `broadcaster run` while alerts flow, restart it, check nothing is lost.

Used by one trial in the default suite and by the slow tier's many trials.
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
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from broadcaster.bus.embedded import EmbeddedBus
from broadcaster.pipeline.ingest import submit
from broadcaster.settings import load_settings
from broadcaster.store import migrate, tables
from broadcaster.store.audiences import Audiences
from broadcaster.store.ledger import Ledger
from tests.helpers import manual

CONFIG = """
var_dir = "{tmp}"
db_url = "sqlite+aiosqlite:///{tmp}/ledger.sqlite3"
outbox_dir = "{tmp}/outbox"
log_format = "json"

[web]
port = 0

[bus]
url = "embedded:{tmp}/bus.sqlite3"
partitions = 4
poll_interval_s = 0.05

[pipeline]
retry_tiers_s = [0.2, 0.5, 1.0]
redrive_after_s = 3.0
redrive_interval_s = 1.0

[tenants.anamizu]
name = "穴水町"
geocodes = [{{ value_name = "test/city", value = "1746100" }}]
districts = [{{ id = "kawashima", name = "川島" }}]
"""


@dataclass
class TrialResult:
    alerts: int = 0
    kills: int = 0
    dispatches: int = 0
    lost: list[str] = field(default_factory=list)
    duplicates: int = 0  # outbox records beyond the first per idempotency key
    unexplained_duplicates: list[str] = field(default_factory=list)
    in_doubt: int = 0


def _start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BROADCASTER_CONFIG": str(config)}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "broadcaster.cli", "run"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _progress(c: sa.Connection) -> tuple[int, int, int]:
    count = sa.select(sa.func.count())
    n_alerts = c.execute(count.select_from(tables.alerts)).scalar() or 0
    open_ = c.execute(
        count.select_from(tables.dispatches).where(tables.dispatches.c.state != "accepted")
    ).scalar()
    routed = c.execute(count.select_from(tables.alerts).where(tables.alerts.c.state != "received")).scalar()
    return int(n_alerts), int(open_ or 0), int(routed or 0)


def _outcome(c: sa.Connection) -> tuple[set[str], list[sa.Row[tuple[str, str]]], set[str]]:
    headlines = {r.headline for r in c.execute(sa.select(tables.alerts.c.headline))}
    dispatches = list(c.execute(sa.select(tables.dispatches.c.key, tables.dispatches.c.state)))
    in_doubt = {
        r.dispatch_key
        for r in c.execute(
            sa.select(tables.attempts.c.dispatch_key).where(tables.attempts.c.status == "started")
        )
    }
    return headlines, dispatches, in_doubt


def _outbox_keys(outbox: Path) -> Counter[str]:
    keys: Counter[str] = Counter()
    for path in outbox.glob("*/*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                keys[json.loads(line)["idempotency_key"]] += 1
    return keys


async def run_trial(tmp: Path, *, alerts: int, kills: int, seed: int, timeout: float = 120.0) -> TrialResult:
    rng = random.Random(seed)
    tmp.mkdir(parents=True, exist_ok=True)
    config = tmp / "broadcaster.toml"
    config.write_text(CONFIG.format(tmp=tmp), encoding="utf-8")
    settings = load_settings(config)
    ledger = Ledger.connect(settings.db_url)
    await migrate.upgrade(ledger.db)
    await ledger.ensure_tenants([("anamizu", "穴水町")])
    audiences = Audiences(ledger.db)
    for n in range(5):
        await audiences.add(
            "anamizu", districts=["kawashima"], endpoints={"email": f"p{n}@example.jp", "app_push": f"sub{n}"}
        )
    bus = EmbeddedBus(Path(settings.bus.url.removeprefix("embedded:")), partitions=4, poll_interval=0.05)
    await bus.start()
    log = tmp / "run.log"
    result = TrialResult(alerts=alerts)
    proc = _start(config, log)

    async def feed() -> None:
        for n in range(alerts):
            await submit(bus, manual(headline=f"お知らせ {n}", kind="notice", districts=["kawashima"]), ledger)
            await asyncio.sleep(rng.uniform(0.0, 0.1))

    feeder = asyncio.create_task(feed())
    try:
        for _ in range(kills):
            # Kill only a process that is busy sending: wait until the outbox grows after the
            # (re)start, then strike at a random moment of the stream.
            before = sum(_outbox_keys(settings.outbox_dir).values())
            grow_deadline = time.monotonic() + 60
            while (
                sum(_outbox_keys(settings.outbox_dir).values()) <= before and time.monotonic() < grow_deadline
            ):
                await asyncio.sleep(0.02)
            await asyncio.sleep(rng.uniform(0.0, 0.3))
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            result.kills += 1
            proc = _start(config, log)
        await feeder

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            n_alerts, open_, routed = await ledger.db.read(_progress)
            if n_alerts == alerts and routed == alerts and open_ == 0:
                break
            await asyncio.sleep(0.2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        await bus.close()

    headlines, dispatches, in_doubt_keys = await ledger.db.read(_outcome)
    await ledger.close()
    result.lost = [f"alert お知らせ {n}" for n in range(alerts) if f"お知らせ {n}" not in headlines]
    result.dispatches = len(dispatches)
    result.lost += [f"dispatch {d.key} {d.state}" for d in dispatches if d.state != "accepted"]
    outbox = _outbox_keys(settings.outbox_dir)
    result.lost += [f"dispatch {d.key} never in the outbox" for d in dispatches if outbox[d.key] == 0]
    result.in_doubt = len(in_doubt_keys)
    for key, count in outbox.items():
        if count > 1:
            result.duplicates += count - 1
            # docs/decisions.md, decision 2: a repeat is allowed only after a send whose outcome was in doubt.
            if key not in in_doubt_keys:
                result.unexplained_duplicates.append(key)
    return result
