"""Infrastructure faults: a full disk under the embedded bus, a PostgreSQL restart mid-stream."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from broadcaster.bus.embedded import EmbeddedBus
from broadcaster.errors import TransientError
from broadcaster.pipeline.ingest import submit
from broadcaster.store import migrate, tables
from broadcaster.store.ledger import Ledger
from tests.helpers import manual

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB filesystem of the test's own (tmpfs), so that filling it harms nothing else."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root (CI runs as root)")
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3M", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def test_a_full_disk_is_a_clear_error_and_nothing_is_corrupted(small_disk: Path) -> None:
    bus = EmbeddedBus(small_disk / "bus.sqlite3", partitions=2)
    await bus.start()
    filler = small_disk / "filler"
    acked: list[bytes] = []
    try:
        await bus.publish("t", b"first", key="k")
        acked.append(b"first")
        # Leave a little room, then write until the disk refuses.
        free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
        filler.write_bytes(b"\0" * max(free - 64 * 1024, 0))
        error: TransientError | None = None
        for n in range(10_000):
            value = f"message {n} ".encode() * 50
            try:
                await bus.publish("t", value, key=f"k{n % 7}")
            except TransientError as e:
                error = e
                break
            acked.append(value)
        assert error is not None, "the disk never filled"
        assert "disk is full" in str(error)
        # Space comes back: publishing works again, and nothing acknowledged was lost.
        filler.unlink()
        await bus.publish("t", b"after", key="k")
        acked.append(b"after")
        stored = [r.value for r in await bus.messages("t")]
        assert sorted(stored) == sorted(acked)
    finally:
        await bus.close()
    check = sqlite3.connect(small_disk / "bus.sqlite3").execute("PRAGMA integrity_check").fetchone()
    assert check == ("ok",)


PG_CONFIG = """
var_dir = "{tmp}"
db_url = "{db}"
outbox_dir = "{tmp}/outbox"
log_format = "json"

[web]
enabled = false

[bus]
url = "embedded:{tmp}/bus.sqlite3"
partitions = 4
poll_interval_s = 0.05

[pipeline]
retry_tiers_s = [0.5, 1.0, 2.0]
redrive_after_s = 5.0
redrive_interval_s = 1.0

[tenants.anamizu]
name = "穴水町"
geocodes = [{{ value_name = "test/city", value = "1746100" }}]
"""


def _pg_restart() -> None:
    version = sorted(os.listdir("/etc/postgresql"))[0]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True, timeout=120)


async def _submit_until_accepted(bus: EmbeddedBus, ledger: Ledger, raw: Any) -> None:
    # An ingest adapter does not let go of its input until the ledger and the bus have it.
    while True:
        try:
            await submit(bus, raw, ledger)
            return
        except Exception:
            await asyncio.sleep(0.5)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(600)
async def test_a_postgresql_restart_mid_stream_loses_nothing(tmp_path: Path, fresh_postgres: str) -> None:
    if os.geteuid() != 0 or not Path("/etc/postgresql").is_dir():
        pytest.skip("restarting the local PostgreSQL needs root and the local cluster")
    config = tmp_path / "broadcaster.toml"
    config.write_text(PG_CONFIG.format(tmp=tmp_path, db=fresh_postgres), encoding="utf-8")
    ledger = Ledger.connect(fresh_postgres)
    await migrate.upgrade(ledger.db)
    await ledger.ensure_tenants([("anamizu", "穴水町")])
    log = (tmp_path / "run.log").open("wb")
    run = subprocess.Popen(
        [sys.executable, "-m", "broadcaster.cli", "run"],
        env={**os.environ, "BROADCASTER_CONFIG": str(config)},
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    bus = EmbeddedBus(tmp_path / "bus.sqlite3", partitions=4, poll_interval=0.05)
    await bus.start()
    alerts = 20
    try:
        for n in range(alerts):
            await _submit_until_accepted(bus, ledger, manual(headline=f"お知らせ {n}", kind="tsunami", status="Exercise"))
            if n == 8:
                await asyncio.to_thread(_pg_restart)
            await asyncio.sleep(0.1)

        def progress(c: sa.Connection) -> tuple[int, int]:
            done = c.execute(sa.select(sa.func.count()).select_from(tables.alerts).where(tables.alerts.c.state == "done")).scalar()
            open_ = c.execute(
                sa.select(sa.func.count()).select_from(tables.dispatches).where(tables.dispatches.c.state != "accepted")
            ).scalar()
            return int(done or 0), int(open_ or 0)

        deadline = time.monotonic() + 180
        done = open_ = -1
        while time.monotonic() < deadline:
            try:
                done, open_ = await ledger.db.read(progress)
            except Exception:
                await asyncio.sleep(1)
                continue
            if done == alerts and open_ == 0:
                break
            await asyncio.sleep(0.5)
        assert (done, open_) == (alerts, 0), "every alert delivered once the database was back, with no operator action"
        assert run.poll() is None, "the pipeline rode out the outage"
    finally:
        run.terminate()
        run.wait(timeout=60)
        log.close()
        await bus.close()
        await ledger.close()


async def test_a_full_disk_under_the_outbox_leaves_whole_records_that_match_the_ledger(
    small_disk: Path, tmp_path: Path
) -> None:
    """The outbox on a disk that fills mid-stream: every line parses, every accepted outbox
    attempt in the ledger is the line at its offset, and no line is without its attempt."""
    from adapters.outbound.outbox import read_outbox
    from tests.helpers import eventually, make_settings, running_pipeline

    settings = make_settings(tmp_path, outbox_dir=small_disk / "outbox")
    filler = small_disk / "filler"

    def attempts(c: sa.Connection) -> list[Any]:
        a = tables.attempts
        return list(c.execute(sa.select(a.c.channel, a.c.tenant, a.c.status, a.c.mode, a.c.provider_ref, a.c.error)))

    async with running_pipeline(settings) as p:
        await p.submit(manual(headline="お知らせ 0"))
        await eventually(lambda: list((small_disk / "outbox").glob("*/*.jsonl")))
        free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
        filler.write_bytes(b"\0" * max(free - 24 * 1024, 0))
        for n in range(1, 12):
            await p.submit(manual(headline=f"お知らせ {n}", description="町内全域で防災訓練を行います。" * (n * 3)))

        async def refused() -> bool:
            rows = await p.ledger.db.read(attempts)
            return any(r.status in ("failed", "dead") and "outbox" in (r.error or "") for r in rows)

        await eventually(refused, timeout=60)
        await asyncio.sleep(2)  # let retries in flight finish
        rows = await p.ledger.db.read(attempts)

    accepted = {r.provider_ref for r in rows if r.status == "accepted" and r.mode == "outbox"}
    on_disk: set[str] = set()
    for path in (small_disk / "outbox").glob("*/*.jsonl"):
        raw = path.read_bytes()
        assert raw.endswith(b"\n"), f"{path} ends in a torn record"
        offset = 0
        for line in raw.split(b"\n")[:-1]:
            json.loads(line)  # every line parses
            on_disk.add(f"{path.name}@{offset}")
            offset += len(line) + 1
        assert read_outbox(path)
    assert accepted == on_disk, "the outbox holds exactly what the ledger says was accepted"
