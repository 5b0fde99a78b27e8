"""Schema migrations (Alembic), run from code so that no alembic.ini has to be found."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from broadcaster.errors import ConfigError
from broadcaster.settings import Settings
from broadcaster.store.db import Database
from broadcaster.store.ledger import Ledger

MIGRATIONS = Path(__file__).parent / "migrations"


def _config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str | None:
    """The head, or the sorted heads joined by "+" while branches are not yet merged."""
    heads = sorted(ScriptDirectory.from_config(_config()).get_heads())
    return "+".join(heads) if heads else None


async def upgrade(db: Database, revision: str = "heads") -> None:
    await db.write(lambda c: command.upgrade(_config(c), revision))


async def missing_revisions(db: Database) -> list[str]:
    """Revisions this code needs that the database has not applied.

    A database ahead of the code (a newer version migrated it, then this one was rolled back) is
    fine: migrations only add, so the older code still finds everything it knows.
    """
    script = ScriptDirectory.from_config(_config())

    def applied(c: Connection) -> set[str]:
        heads = MigrationContext.configure(c).get_current_heads()
        known = {r.revision for r in script.walk_revisions()}
        done: set[str] = set()
        for head in heads:
            if head not in known:
                return {"*ahead*"}  # a revision this code has never heard of: a newer schema
            done.update(r.revision for r in script.iterate_revisions(head, "base"))
        return done

    done = await db.read(applied)
    if "*ahead*" in done:
        return []
    needed = {r.revision for r in script.walk_revisions()}
    return sorted(needed - done)


async def require_current(db: Database) -> None:
    """The one rule every process and command applies before it uses the ledger.

    The database must hold every revision this code knows; one that is ahead is accepted
    (docs/decisions.md, decision 17).
    """
    missing = await missing_revisions(db)
    if missing:
        raise ConfigError(
            f"the database lacks revision(s) {', '.join(missing)} that this version needs: "
            "run `broadcaster db upgrade`"
        )


async def open_current(settings: Settings, *, key_required: bool = True, synchronous: str = "NORMAL") -> Ledger:
    """The ledger of `settings` under the rule above, with personal data sealed under the data key.

    `key_required=False` for commands that read or write no personal data (a migration, counts):
    they work on a deployment whose key is not at hand. Every command and process opens its
    ledger here (the CLI's `open_ledger`, the composition root's `open_stores`).
    """
    from broadcaster.store.personal import open_ledger as open_sealed

    settings.var_dir.mkdir(parents=True, exist_ok=True)
    # Without a data key a production deployment refuses to start (docs/privacy.md).
    ledger = open_sealed(settings, synchronous=synchronous, required=key_required)
    try:
        await require_current(ledger.db)
    except BaseException:
        await ledger.close()
        raise
    return ledger


async def current_revision(db: Database) -> str | None:
    def work(c: Connection) -> str | None:
        heads = sorted(MigrationContext.configure(c).get_current_heads())
        return "+".join(heads) if heads else None

    return await db.read(work)


async def autogenerate(db: Database, message: str) -> None:
    """Developer tool: write a new revision from the difference between tables.py and the db."""
    await db.write(lambda c: command.revision(_config(c), message=message, autogenerate=True))
