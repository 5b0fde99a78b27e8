"""Schema migrations (Alembic), run from code so that no alembic.ini has to be found."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from broadcaster.store.db import Database

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


async def current_revision(db: Database) -> str | None:
    def work(c: Connection) -> str | None:
        heads = sorted(MigrationContext.configure(c).get_current_heads())
        return "+".join(heads) if heads else None

    return await db.read(work)


async def autogenerate(db: Database, message: str) -> None:
    """Developer tool: write a new revision from the difference between tables.py and the db."""
    await db.write(lambda c: command.revision(_config(c), message=message, autogenerate=True))
