"""Scale-out on Kafka: stage workers in their own processes, sharing a channel's partitions.

Two `broadcaster worker channel:website` processes split the channel's partitions; one is
killed with SIGKILL mid-stream; the other takes its partitions over after the session timeout,
and every dispatch is accepted. The ledger is PostgreSQL, as in a shared deployment.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from broadcaster.bus.kafka import KafkaBus
from broadcaster.pipeline.ingest import submit
from broadcaster.store import migrate, tables
from broadcaster.store.ledger import Ledger
from tests.helpers import manual

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]

CONFIG = """
var_dir = "{tmp}"
db_url = "{db}"
outbox_dir = "{tmp}/outbox"
log_format = "json"

[bus]
url = "kafka://{kafka}"
partitions = 6
prefix = "{prefix}"
kafka_session_timeout_ms = 6000

[pipeline]
retry_tiers_s = [0.5, 1.0, 2.0]
redrive_after_s = 600

[channels.app_push]
enabled = false
[channels.email]
enabled = false
[channels.circular]
enabled = false
[channels.x]
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


def _spawn(config: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "broadcaster.cli", *args],
            env={**os.environ, "BROADCASTER_CONFIG": str(config)},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )


def _assigned(log: Path, group: str) -> int:
    """Partitions the process last reported holding for `group` (0 before it joined)."""
    count = 0
    if log.exists():
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            if '"partitions_assigned"' in line and f'"group": "{group}"' in line:
                count = int(re.search(r'"count": (\d+)', line).group(1))  # type: ignore[union-attr]
    return count


def _outbox(tmp: Path) -> Counter[str]:
    keys: Counter[str] = Counter()
    path = tmp / "outbox" / "anamizu" / "website.jsonl"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            keys[json.loads(line)["idempotency_key"]] += 1
    return keys


async def _wait(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()  # type: ignore[operator]
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.timeout(300)
async def test_two_workers_share_a_channel_and_survive_a_kill(tmp_path: Path, kafka: object, fresh_postgres: str) -> None:
    bootstrap = kafka.bootstrap  # type: ignore[attr-defined]
    prefix = f"w{uuid.uuid4().hex[:8]}."
    config = tmp_path / "broadcaster.toml"
    config.write_text(CONFIG.format(tmp=tmp_path, db=fresh_postgres, kafka=bootstrap, prefix=prefix), encoding="utf-8")
    ledger = Ledger.connect(fresh_postgres)
    await migrate.upgrade(ledger.db)
    await ledger.ensure_tenants([("anamizu", "穴水町")])

    core = _spawn(config, tmp_path / "core.log", "run", "--stage", "normalize", "--stage", "route",
                  "--stage", "ledger", "--stage", "channel:line")
    w1 = _spawn(config, tmp_path / "w1.log", "worker", "channel:website")
    w2 = _spawn(config, tmp_path / "w2.log", "worker", "channel:website")
    bus = KafkaBus(bootstrap, partitions=6, prefix=prefix)
    await bus.start()
    try:
        group = "channel.website"
        await _wait(
            lambda: _assigned(tmp_path / "w1.log", group) > 0 and _assigned(tmp_path / "w2.log", group) > 0,
            90,
            "both workers to hold partitions",
        )
        # Six partitions and three retry topics of six each, shared out between the two.
        assert _assigned(tmp_path / "w1.log", group) + _assigned(tmp_path / "w2.log", group) == 24

        n_alerts = 30
        for n in range(n_alerts):
            await submit(bus, manual(headline=f"お知らせ {n}", kind="tsunami", status="Exercise"))
            if n == 10:
                await _wait(lambda: sum(_outbox(tmp_path).values()) >= 5, 60, "the stream to flow")
                os.killpg(w1.pid, signal.SIGKILL)
                w1.wait()
            await asyncio.sleep(0.05)

        await _wait(lambda: _assigned(tmp_path / "w2.log", group) == 24, 60, "the survivor to take every partition")

        def website_done(c: sa.Connection) -> bool:
            n = c.execute(
                sa.select(sa.func.count())
                .select_from(tables.dispatches)
                .where(tables.dispatches.c.channel == "website", tables.dispatches.c.state == "accepted")
            ).scalar()
            return n == n_alerts

        await _wait(lambda: ledger.db.read(website_done), 90, "every website dispatch to be accepted")
        keys = await ledger.db.read(
            lambda c: {
                r.key for r in c.execute(sa.select(tables.dispatches.c.key).where(tables.dispatches.c.channel == "website"))
            }
        )
        outbox = _outbox(tmp_path)
        assert keys == set(outbox), "every dispatch is in the outbox, nothing else is"
        in_doubt = await ledger.db.read(
            lambda c: {
                r.dispatch_key
                for r in c.execute(sa.select(tables.attempts.c.dispatch_key).where(tables.attempts.c.status == "started"))
            }
        )
        repeated = {k for k, count in outbox.items() if count > 1}
        assert repeated <= in_doubt, "a repeat only where the killed worker left a send in doubt"
    finally:
        for proc in (w1, w2, core):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        await bus.close()
        await ledger.close()
