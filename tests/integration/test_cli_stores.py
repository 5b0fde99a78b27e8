"""Every command that opens the ledger applies one migration rule (docs/decisions.md, decision 17),
and the officer-and-key commands (`users`, `tokens`, `audit`, `privacy`, `retention`) work end to end.

In-process through click's runner: these are about what the commands print and refuse, and a
subprocess per call would only add start-up time.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from broadcaster.cli import main
from tests.integration.test_cli import CONFIG, ROOT


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "broadcaster.toml"
    path.write_text(CONFIG.format(tmp=tmp_path, root=ROOT), encoding="utf-8")
    return path


def run(config: Path, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args], input=stdin, catch_exceptions=False)


def upgraded(config: Path) -> sqlite3.Connection:
    assert run(config, "db", "upgrade").exit_code == 0
    return sqlite3.connect(config.parent / "ledger.sqlite3")


# Each opens the ledger; before this change `audit verify`, `tokens revoke` and `users grant`
# checked no revision at all, and `audiences` and `leaders` refused any database not exactly at
# this version's head.
LEDGER_COMMANDS = [
    ("audiences", "counts", "--tenant", "anamizu"),
    ("users", "grant", "nobody", "--tenant", "anamizu", "--role", "viewer"),
    ("tokens", "revoke", "gone", "--tenant", "anamizu"),
    ("audit", "verify"),
    ("privacy", "status"),
    ("retention", "run", "--dry-run"),
    ("status",),
    ("leaders", "link-code", "--tenant", "anamizu", "--leader", "L-1"),
]


@pytest.mark.parametrize("args", LEDGER_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_a_database_behind_this_version_is_refused_by_every_command_with_one_message(
    config: Path, args: tuple[str, ...]
) -> None:
    db = upgraded(config)
    with db:
        # One row per head (branches from 0001 are merged later): the whole stamp goes back.
        db.execute("DELETE FROM alembic_version")
        db.execute("INSERT INTO alembic_version (version_num) VALUES ('0007_merge')")
    result = run(config, *args)
    assert result.exit_code == 1, result.output
    assert re.search(r"the database lacks revision\(s\) .*0011_orphans.* run `broadcaster db upgrade`", result.output)


def test_a_database_ahead_of_this_version_is_used(config: Path) -> None:
    # A newer version migrated the database, then this one was rolled back: migrations only add,
    # so every command still works on it.
    db = upgraded(config)
    with db:
        db.execute("INSERT INTO alembic_version (version_num) VALUES ('9999_from_a_newer_version')")
    counts = run(config, "audiences", "counts", "--tenant", "anamizu")
    assert counts.exit_code == 0, counts.output
    assert "anamizu: nobody registered" in counts.output
    assert run(config, "audit", "verify").exit_code == 0


def test_officers_tokens_and_the_audit_chain(config: Path) -> None:
    upgraded(config)
    added = run(config, "users", "add", "sato", "--tenant", "anamizu", "--role", "approver", "--password-stdin",
                stdin="a long enough passphrase 1\n")
    assert added.exit_code == 0, added.output
    assert "added sato (id 1) as approver of anamizu" in added.output
    assert re.search(r"second factor secret: [A-Z2-7]{16,}", added.output)

    token = run(config, "tokens", "create", "bousai-musen", "--tenant", "anamizu")
    assert token.exit_code == 0 and len(token.output.strip()) >= 32
    assert run(config, "tokens", "revoke", "bousai-musen", "--tenant", "anamizu").output == "revoked 1 token(s)\n"

    unknown = run(config, "users", "grant", "nobody", "--tenant", "anamizu", "--role", "viewer")
    assert unknown.exit_code == 1 and "no user 'nobody'" in unknown.output
    covering = run(config, "users", "grant", "sato", "--tenant", "wajima", "--role", "viewer")  # a delegate
    assert covering.output == "sato is now viewer of wajima\n"

    verify = run(config, "audit", "verify")
    assert verify.exit_code == 0 and verify.output == "audit log intact: 4 rows\n"  # added, created, revoked, granted


def test_privacy_status_and_retention(config: Path) -> None:
    upgraded(config)
    status = run(config, "privacy", "status")
    assert status.exit_code == 0, status.output
    assert "0 value(s) not under the current key" in status.output
    purge = run(config, "retention", "run", "--dry-run")
    assert purge.exit_code == 0 and "would purge the recipient lists of 0 dispatch(es)" in purge.output
    assert run(config, "retention", "run", "--days", "0").exit_code != 0


def test_a_second_officer_unlocks_a_login(config: Path) -> None:
    import asyncio
    from datetime import UTC, datetime

    from broadcaster.store.ledger import Ledger
    from broadcaster.store.login_throttle import Limits, LoginThrottle

    upgraded(config)
    for name, role in (("sato", "operator"), ("tanaka", "approver"), ("kyoko", "operator")):
        added = run(config, "users", "add", name, "--tenant", "anamizu", "--role", role, "--password-stdin",
                    stdin="a long enough passphrase 1\n")
        assert added.exit_code == 0, added.output
    url = f"sqlite:///{config.parent / 'ledger.sqlite3'}"

    async def guess_then_try() -> tuple[bool, bool]:
        ledger = Ledger.connect(url)
        try:
            throttle = LoginThrottle(ledger.db)
            at = datetime.now(UTC)
            for i in range(Limits().account_guard):
                await throttle.admit("sato", f"203.0.113.{i + 1}", at)
            before = (await throttle.admit("sato", "198.51.100.5", at)).heard
            await asyncio.to_thread(run, config, "users", "unlock", "sato", "--by", "tanaka")
            after = (await throttle.admit("sato", "198.51.100.5", datetime.now(UTC))).heard
            return before, after
        finally:
            await ledger.close()

    assert run(config, "users", "unlock", "sato", "--by", "sato").exit_code == 1, "not by themselves"
    refused = run(config, "users", "unlock", "sato", "--by", "kyoko")
    assert refused.exit_code == 1 and "not an approver or admin" in refused.output
    assert asyncio.run(guess_then_try()) == (False, True)
    assert "login_unlocked" in sqlite3.connect(config.parent / "ledger.sqlite3").execute(
        "SELECT group_concat(action) FROM audit_log").fetchone()[0]
