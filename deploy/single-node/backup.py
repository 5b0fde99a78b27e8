#!/usr/bin/env python3
"""Online backup and restore of a single-node broadcaster (docs/operations/backups.md).

    backup.py backup  --dest /var/backups/broadcaster [--keep 14]
    backup.py verify  /var/backups/broadcaster/broadcaster-20250710T024000Z
    backup.py restore /var/backups/broadcaster/broadcaster-20250710T024000Z   (service stopped)
    backup.py list    --dest /var/backups/broadcaster

A backup set is a folder: the embedded bus and the ledger copied with SQLite's online backup API
while the broadcaster keeps writing (each copy is one consistent snapshot; in WAL mode it blocks
no writer), the SNS post logs and each town's current website release, and MANIFEST.json with
a SHA-256 per file, the ledger's schema revision and the result of SQLite's integrity check.

The bus is copied before the ledger. Everything on the bus is recorded in the ledger first, so
the ledger copy then holds everything the bus copy does: after a restore nothing on the bus
refers to an alert or dispatch the ledger does not know, and what the ledger knows but the bus
copy lacks is re-driven (pipeline.redrive_after_s). Consumers resume from the bus copy's
offsets, so some messages are handled again; their idempotency keys make that harmless.

Paths come from the broadcaster's settings (BROADCASTER_CONFIG or --config), or --ledger and --bus.
Only the standard library is needed, except for reading the settings.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

SET_PREFIX = "broadcaster-"
MANIFEST = "MANIFEST.json"
FORMAT = 1


class BackupError(Exception):
    pass


@dataclass(frozen=True)
class Sources:
    """What a backup copies and a restore puts back."""

    ledger: Path | None
    bus: Path | None
    var_dir: Path | None = None

    def databases(self) -> list[tuple[str, Path]]:
        # The bus first, then the ledger (see the module's docstring).
        out = []
        if self.bus is not None:
            out.append(("bus.sqlite3", self.bus))
        if self.ledger is not None:
            out.append(("ledger.sqlite3", self.ledger))
        return out


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (ledger) or an embedded bus URL; None for anything else."""
    for prefix in ("sqlite+aiosqlite:///", "sqlite:///", "embedded:"):
        if url.startswith(prefix):
            rest = url[len(prefix) :]
            if not rest or rest.startswith(":memory:"):
                return None
            return Path(rest)
    return None


def sources_from_settings(config: Path | None) -> Sources:
    try:
        from broadcaster.settings import load_settings
    except ImportError as e:  # run with the broadcaster's own Python, or give --ledger/--bus
        raise BackupError(f"cannot read the settings ({e}): give --ledger and --bus") from e
    settings = load_settings(config)
    ledger = sqlite_path(settings.db_url)
    if ledger is None:
        print(
            f"note: the ledger is not SQLite ({settings.db_url.split('://')[0]}): back it up with "
            "pg_dump (docs/operations/backups.md); only the bus and files are copied here",
            file=sys.stderr,
        )
    return Sources(ledger=ledger, bus=sqlite_path(settings.bus.url), var_dir=settings.var_dir)


# -- copying --------------------------------------------------------------------------------------


def copy_database(src: Path, dst: Path, *, busy_timeout_s: float = 30.0) -> None:
    """One consistent snapshot of a live SQLite database into `dst` (a new file).

    The whole copy is one step of the backup API: in WAL mode it reads one snapshot and never
    blocks the writer, whereas a copy in several steps restarts whenever the source changes.
    """
    if not src.is_file():
        raise BackupError(f"{src}: no such database")
    tmp = dst.with_name(dst.name + ".part")
    tmp.unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=busy_timeout_s)
    try:
        target = sqlite3.connect(tmp)
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")  # a self-contained file, no -wal beside it
        finally:
            target.close()
    finally:
        source.close()
    _fsync(tmp)
    tmp.replace(dst)


def check_database(path: Path, *, full: bool = False) -> str:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = con.execute("PRAGMA integrity_check" if full else "PRAGMA quick_check").fetchall()
    finally:
        con.close()
    return "; ".join(str(r[0]) for r in rows)[:500]


def ledger_revision(path: Path) -> str | None:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT version_num FROM alembic_version ORDER BY version_num").fetchall()
    except sqlite3.Error:
        return None
    finally:
        con.close()
    return ",".join(r[0] for r in rows) or None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _state_files(var_dir: Path) -> Iterator[tuple[str, Path]]:
    """(name in the set, source) of the files beside the databases worth keeping."""
    sns = var_dir / "sns"
    if sns.is_dir():
        for p in sorted(sns.glob("*/*.jsonl")):
            yield f"files/sns/{p.parent.name}/{p.name}", p
    site = var_dir / "site"
    if site.is_dir():
        for current in sorted(site.glob("*/current")):
            release = current.resolve()
            if not release.is_dir():
                continue
            for p in sorted(release.rglob("*")):
                if p.is_file():
                    rel = p.relative_to(release)
                    yield f"files/site/{current.parent.name}/{release.name}/{rel}", p


def backup(sources: Sources, dest: Path, *, keep: int | None = None, now: datetime | None = None) -> Path:
    at = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    dest.mkdir(parents=True, exist_ok=True)
    final = dest / f"{SET_PREFIX}{at}"
    work = dest / f".{SET_PREFIX}{at}.part"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(mode=0o700)
    manifest: dict[str, object] = {"format": FORMAT, "created": at, "files": {}}
    files: dict[str, dict[str, object]] = {}
    started = time.monotonic()
    for name, src in sources.databases():
        copy_database(src, work / name)
        entry: dict[str, object] = {"source": str(src), "check": check_database(work / name)}
        if name == "ledger.sqlite3":
            entry["revision"] = ledger_revision(work / name)
        files[name] = entry
        if entry["check"] != "ok":
            raise BackupError(f"the copy of {src} fails SQLite's check: {entry['check']}")
    if sources.var_dir is not None:
        for name, src in _state_files(sources.var_dir):
            target = work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
            files[name] = {"source": str(src)}
    for name, entry in files.items():
        entry["sha256"] = _sha256(work / name)
        entry["bytes"] = (work / name).stat().st_size
    manifest["files"] = files
    manifest["seconds"] = round(time.monotonic() - started, 3)
    (work / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    _fsync(work / MANIFEST)
    work.replace(final)
    if keep is not None:
        prune(dest, keep)
    return final


def prune(dest: Path, keep: int) -> list[Path]:
    sets = backup_sets(dest)
    gone = sets[:-keep] if keep > 0 else []
    for s in gone:
        shutil.rmtree(s)
    return gone


def backup_sets(dest: Path) -> list[Path]:
    return sorted(p for p in dest.glob(f"{SET_PREFIX}*") if (p / MANIFEST).is_file())


def verify(set_dir: Path, *, full: bool = False) -> dict[str, object]:
    manifest_path = set_dir / MANIFEST
    if not manifest_path.is_file():
        raise BackupError(f"{set_dir}: not a backup set (no {MANIFEST})")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{set_dir}: unknown backup format {manifest.get('format')!r}")
    for name, entry in manifest["files"].items():
        path = set_dir / name
        if not path.is_file():
            raise BackupError(f"{set_dir}: {name} is missing")
        if _sha256(path) != entry["sha256"]:
            raise BackupError(f"{set_dir}: {name} does not match its checksum")
        if name.endswith(".sqlite3"):
            result = check_database(path, full=full)
            if result != "ok":
                raise BackupError(f"{set_dir}: {name} fails SQLite's check: {result}")
    return dict(manifest)


# -- restoring ------------------------------------------------------------------------------------


def _unit_active(unit: str) -> bool:
    if not unit or shutil.which("systemctl") is None:
        return False
    result = subprocess.run(["systemctl", "is-active", "--quiet", unit], check=False)  # noqa: S603, S607
    return result.returncode == 0


def _set_aside(path: Path, suffix: str) -> Path | None:
    """Move a file (and a database's -wal/-shm) out of the way; never delete what was there."""
    moved = None
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if p.exists() or p.is_symlink():
            target = p.with_name(p.name + suffix)
            p.replace(target)
            moved = moved or target
    return moved


def restore(set_dir: Path, sources: Sources, *, unit: str = "broadcaster") -> list[str]:
    """Put a backup set back. The broadcaster must be stopped; what was there is set aside."""
    if _unit_active(unit):
        raise BackupError(f"{unit} is running: `systemctl stop {unit}` first")
    manifest = verify(set_dir)
    suffix = ".before-restore-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    done: list[str] = []
    targets = dict(sources.databases())
    for name in ("bus.sqlite3", "ledger.sqlite3"):
        if name not in manifest["files"] or name not in targets:
            continue
        target = targets[name]
        target.parent.mkdir(parents=True, exist_ok=True)
        aside = _set_aside(target, suffix)
        source = sqlite3.connect(f"file:{set_dir / name}?mode=ro", uri=True)
        try:
            dest = sqlite3.connect(target)
            try:
                source.backup(dest)
                dest.execute("PRAGMA journal_mode=WAL")
            finally:
                dest.close()
        finally:
            source.close()
        if check_database(target) != "ok":
            raise BackupError(f"{target}: the restored copy fails SQLite's check")
        done.append(f"{name} -> {target}" + (f" (previous kept as {aside.name})" if aside else ""))
    if sources.var_dir is not None:
        done += _restore_files(set_dir, manifest, sources.var_dir, suffix)
    return done


def _restore_files(set_dir: Path, manifest: dict[str, object], var_dir: Path, suffix: str) -> list[str]:
    done: list[str] = []
    names = [n for n in manifest["files"] if n.startswith("files/")]  # type: ignore[attr-defined]
    sites: set[tuple[str, str]] = set()
    for name in names:
        rel = Path(name).relative_to("files")
        if rel.parts[0] == "sns":
            target = var_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            _set_aside(target, suffix)
            shutil.copy2(set_dir / name, target)
            done.append(f"{name} -> {target}")
        elif rel.parts[0] == "site":
            tenant, release = rel.parts[1], rel.parts[2]
            release_dir = var_dir / "site" / tenant / "releases" / release
            if (tenant, release) not in sites:
                _set_aside(release_dir, suffix)
                sites.add((tenant, release))
            target = release_dir / Path(*rel.parts[3:])
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(set_dir / name, target)
    for tenant, release in sorted(sites):
        current = var_dir / "site" / tenant / "current"
        tmp = current.with_name(".current.restore")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(Path("releases") / release)
        tmp.replace(current)
        done.append(f"site of {tenant}: release {release} is current")
    return done


# -- command line ---------------------------------------------------------------------------------


def _sources(args: argparse.Namespace) -> Sources:
    if args.ledger or args.bus:
        return Sources(ledger=args.ledger, bus=args.bus, var_dir=args.var_dir)
    return sources_from_settings(args.config)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("backup", "restore"):
        p = sub.add_parser(name)
        p.add_argument("--config", type=Path, default=None, help="settings file (default: BROADCASTER_CONFIG)")
        p.add_argument("--ledger", type=Path, default=None, help="the ledger's SQLite file (instead of settings)")
        p.add_argument("--bus", type=Path, default=None, help="the embedded bus's SQLite file (instead of settings)")
        p.add_argument("--var-dir", type=Path, default=None, help="with --ledger/--bus: post logs and site")
        if name == "backup":
            p.add_argument("--dest", type=Path, required=True, help="folder of backup sets")
            p.add_argument("--keep", type=int, default=None, help="keep this many newest sets")
        else:
            p.add_argument("set", type=Path, help="the backup set to restore")
            p.add_argument("--unit", default="broadcaster", help="refuse while this systemd unit runs ('' skips)")
    p = sub.add_parser("verify")
    p.add_argument("set", type=Path)
    p.add_argument("--full", action="store_true", help="PRAGMA integrity_check instead of quick_check")
    p = sub.add_parser("list")
    p.add_argument("--dest", type=Path, required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "backup":
            made = backup(_sources(args), args.dest, keep=args.keep)
            print(f"backup set {made}")
        elif args.command == "verify":
            manifest = verify(args.set, full=args.full)
            print(f"{args.set}: intact ({len(manifest['files'])} files)")  # type: ignore[arg-type]
        elif args.command == "restore":
            for line in restore(args.set, _sources(args), unit=args.unit):
                print(line)
            print("restored: start the service, then check `broadcaster status` and `broadcaster audit verify`")
        else:
            for s in backup_sets(args.dest):
                m = json.loads((s / MANIFEST).read_text(encoding="utf-8"))
                size = sum(int(f["bytes"]) for f in m["files"].values())
                print(f"{s.name}  {size / 1e6:9.1f} MB  ledger revision {m['files'].get('ledger.sqlite3', {}).get('revision')}")
    except (BackupError, sqlite3.Error, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
