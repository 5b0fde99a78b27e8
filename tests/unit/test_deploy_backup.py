"""deploy/single-node/backup.py: an online backup of a live ledger and bus, verified and restored."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from broadcaster.bus import TopicSpec
from broadcaster.bus.embedded import EmbeddedBus
from broadcaster.store import migrate
from broadcaster.store.ledger import Ledger

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("deploy_backup", ROOT / "deploy" / "single-node" / "backup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


backup_mod = _load()


async def _audit_targets(ledger: Ledger) -> list[int]:
    import sqlalchemy as sa

    from broadcaster.store import tables as t

    rows = await ledger.db.read(lambda c: list(c.execute(sa.select(t.audit_log.c.target).where(t.audit_log.c.action == "drill_write"))))
    return sorted(int(r[0]) for r in rows)


async def test_a_live_ledger_and_bus_are_backed_up_while_written_and_restored(tmp_path: Path) -> None:
    live = tmp_path / "live"
    live.mkdir()
    ledger_file, bus_file = live / "ledger.sqlite3", live / "bus.sqlite3"
    ledger = Ledger.connect(f"sqlite+aiosqlite:///{ledger_file}")
    await migrate.upgrade(ledger.db)
    bus = EmbeddedBus(bus_file, partitions=2, poll_interval=0.05)
    await bus.start()
    await bus.ensure_topics([TopicSpec("alerts", 2)])
    (live / "sns" / "x").mkdir(parents=True)
    (live / "sns" / "x" / "anamizu.jsonl").write_text('{"post": 1}\n', encoding="utf-8")
    release = live / "site" / "anamizu" / "releases" / "3"
    release.mkdir(parents=True)
    (release / "index.html").write_text("<h1>穴水町</h1>", encoding="utf-8")
    (live / "site" / "anamizu" / "current").symlink_to(Path("releases") / "3")

    stop = asyncio.Event()
    written = 0

    async def writer() -> None:
        # As the pipeline does: the ledger first, then the bus.
        nonlocal written
        while not stop.is_set():
            await ledger.audit(actor="officer:anamizu/test", action="drill_write", tenant="anamizu", target=str(written))
            await bus.publish("alerts", str(written).encode(), key=f"k{written}")
            written += 1

    task = asyncio.create_task(writer())
    try:
        while written < 50:
            await asyncio.sleep(0.01)
        at_start = written
        sources = backup_mod.Sources(ledger=ledger_file, bus=bus_file, var_dir=live)
        made = await asyncio.to_thread(backup_mod.backup, sources, tmp_path / "backups", keep=3)
        during = written - at_start
        await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task
    await bus.close()
    await ledger.close()
    assert during > 0, "the writer was blocked while the backup ran"

    manifest = backup_mod.verify(made, full=True)
    files = manifest["files"]
    assert set(files) >= {"bus.sqlite3", "ledger.sqlite3", "files/sns/x/anamizu.jsonl", "files/site/anamizu/3/index.html"}
    assert files["ledger.sqlite3"]["revision"], "the ledger's schema revision is recorded"
    assert backup_mod.main(["list", "--dest", str(tmp_path / "backups")]) == 0

    restored = tmp_path / "restored"
    target = backup_mod.Sources(ledger=restored / "ledger.sqlite3", bus=restored / "bus.sqlite3", var_dir=restored)
    (restored / "site" / "anamizu").mkdir(parents=True)
    (restored / "site" / "anamizu" / "current").symlink_to("elsewhere")
    backup_mod.restore(made, target, unit="")

    ledger2 = Ledger.connect(f"sqlite+aiosqlite:///{restored / 'ledger.sqlite3'}")
    try:
        n, bad = await ledger2.verify_audit()
        assert bad == [] and n > 0, "the audit chain of the restored ledger is intact"
        audited = await _audit_targets(ledger2)
    finally:
        await ledger2.close()
    assert audited == list(range(len(audited))), "a snapshot: no hole in the ledger's rows"
    assert at_start <= len(audited) <= written

    bus2 = EmbeddedBus(restored / "bus.sqlite3", partitions=2)
    await bus2.start()
    try:
        published = sorted(int(r.value) for r in await bus2.messages("alerts"))
    finally:
        await bus2.close()
    assert published == list(range(len(published)))
    # The bus was copied before the ledger: the ledger knows everything the bus copy holds.
    assert len(published) <= len(audited)

    assert (restored / "sns" / "x" / "anamizu.jsonl").read_text(encoding="utf-8") == '{"post": 1}\n'
    assert (restored / "site" / "anamizu" / "current" / "index.html").read_text(encoding="utf-8") == "<h1>穴水町</h1>"


def test_a_damaged_set_is_refused_and_old_sets_are_pruned(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "ledger.sqlite3"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE t (x)")
    con.execute("INSERT INTO t VALUES (1)")
    con.commit()
    con.close()
    dest = tmp_path / "backups"
    sources = backup_mod.Sources(ledger=db, bus=None)
    sets = [backup_mod.backup(sources, dest, keep=2) for _ in range(3)]
    assert [p.name for p in backup_mod.backup_sets(dest)] == [p.name for p in sets[1:]]

    copy = sets[-1] / "ledger.sqlite3"
    data = bytearray(copy.read_bytes())
    data[-1] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(backup_mod.BackupError, match="checksum"):
        backup_mod.verify(sets[-1])
    assert backup_mod.main(["verify", str(sets[-1])]) == 1
    with pytest.raises(backup_mod.BackupError):
        backup_mod.restore(sets[-1], backup_mod.Sources(ledger=tmp_path / "new.sqlite3", bus=None), unit="")
    assert not (tmp_path / "new.sqlite3").exists()

    manifest = json.loads((sets[1] / "MANIFEST.json").read_text(encoding="utf-8"))
    assert manifest["files"]["ledger.sqlite3"]["check"] == "ok"
    with pytest.raises(backup_mod.BackupError, match="no such database"):
        backup_mod.backup(backup_mod.Sources(ledger=tmp_path / "missing.sqlite3", bus=None), dest)


def test_paths_come_from_the_settings_urls() -> None:
    assert backup_mod.sqlite_path("sqlite+aiosqlite:////var/lib/broadcaster/ledger.sqlite3") == Path(
        "/var/lib/broadcaster/ledger.sqlite3"
    )
    assert backup_mod.sqlite_path("embedded:/var/lib/broadcaster/bus.sqlite3") == Path("/var/lib/broadcaster/bus.sqlite3")
    assert backup_mod.sqlite_path("postgresql+asyncpg://broadcaster@db/broadcaster") is None
    assert backup_mod.sqlite_path("kafka://kafka:9092") is None
