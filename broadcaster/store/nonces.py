"""Nonces of signed hook requests seen recently: a request is accepted once, then refused as a replay.

Kept in the database rather than in memory so that neither a restart nor a second web process
gives a captured request a second chance. A nonce needs remembering only while its timestamp
would still pass the freshness check; after that the check refuses the request anyway, so rows
older than the retention are deleted as new ones come in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from broadcaster.store.db import Database
from broadcaster.store.tables import UTCDateTime, metadata

hook_nonces = sa.Table(
    "hook_nonces",
    metadata,
    sa.Column("hook", sa.String(32), primary_key=True),
    sa.Column("nonce", sa.String(128), primary_key=True),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Index("hook_nonces_by_at", "at"),
)


def _insert_ignore(dialect: str) -> Callable[[], Any]:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return lambda: pg_insert(hook_nonces).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return lambda: sqlite_insert(hook_nonces).on_conflict_do_nothing()


class NonceStore:
    def __init__(self, db: Database, *, retention: timedelta) -> None:
        self.db = db
        self.retention = retention
        self._insert = _insert_ignore(db.dialect)

    async def claim(self, hook: str, key_id: str, nonce: str, at: datetime) -> bool:
        """True the first time a nonce is presented to a hook, False ever after (a replay)."""
        row = {"hook": hook, "nonce": nonce, "key_id": key_id, "at": at}

        def work(c: sa.Connection) -> bool:
            c.execute(sa.delete(hook_nonces).where(hook_nonces.c.at < at - self.retention))
            return bool(c.execute(self._insert(), [row]).rowcount == 1)

        return await self.db.write(work)
