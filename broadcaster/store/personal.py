"""The ledger opened with the deployment's data key, and the key's upkeep: rekey and status.

Every command that opens the ledger does it here, so that every process seals and opens personal
data alike (broadcaster/store/sealed.py) and the start-up rule holds everywhere: without a data
key, a deployment that requires one (the default) refuses to start; the demo, which does not,
runs with a warning at every start (docs/privacy.md).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from broadcaster.errors import ConfigError
from broadcaster.logging import get_logger
from broadcaster.privacy import FieldCipher, is_sealed, key_id_of
from broadcaster.settings import Settings
from broadcaster.store import tables as t
from broadcaster.store.db import Database
from broadcaster.store.ledger import Ledger
from broadcaster.store.sealed import attach, raw

log = get_logger(__name__)

NO_KEY = (
    "no data key: personal data (contact addresses, TOTP secrets, recipient lists) would be stored "
    "in clear. Set BROADCASTER_PRIVACY__KEY or privacy.key_file (`broadcaster privacy keygen` makes "
    "a key), or set privacy.require_key = false for a demo"
)


def data_cipher(settings: Settings, *, required: bool = True) -> FieldCipher | None:
    """The configured cipher; with none, a ConfigError (required) or a loud warning."""
    cipher = settings.privacy.cipher()
    if cipher is None:
        if required and settings.privacy.require_key:
            raise ConfigError(NO_KEY)
        log.warning("privacy_key_missing", detail="personal data is stored in clear: not for real residents")
    return cipher


def open_ledger(settings: Settings, *, synchronous: str = "NORMAL", required: bool = True) -> Ledger:
    cipher = data_cipher(settings, required=required)
    ledger = Ledger.connect(settings.db_url, synchronous=synchronous)
    attach(ledger.db, cipher)
    return ledger


@dataclass(frozen=True, slots=True)
class _Column:
    table: sa.Table
    column: str
    keys: tuple[str, ...]  # the primary key, to write a row back

    @property
    def name(self) -> str:
        return f"{self.table.name}.{self.column}"


def _sealed_columns() -> list[_Column]:
    return [
        _Column(t.subscriber_endpoints, "address", ("subscriber_id", "channel", "address_hash")),
        _Column(t.users, "totp_secret", ("id",)),
        _Column(t.users, "phone", ("id",)),
        _Column(t.subscribers, "address", ("id",)),
        _Column(t.safety_answers, "note", ("tenant", "alert_id", "household")),
        *(_Column(t.support_people, col, ("tenant", "id")) for col in ("name", "address", "needs", "contact")),
        _Column(t.support_marks, "note", ("tenant", "alert_id", "person")),
        _Column(t.dispatches, "data", ("key",)),
    ]


def _stored_key(value: Any) -> str | None:
    """The key id a stored value is sealed with; "" for a clear value holding personal data."""
    if isinstance(value, dict):  # dispatches.data
        if "sealed_recipients" in value:
            return key_id_of(str(value["sealed_recipients"]))
        return "" if value.get("recipients") else None
    if value is None:
        return None
    return key_id_of(value) if is_sealed(value) else ""


@dataclass
class KeyReport:
    # column → {key id or "clear": values}
    columns: dict[str, Counter[str]] = field(default_factory=dict)
    resealed: dict[str, int] = field(default_factory=dict)


async def key_status(db: Database) -> KeyReport:
    """How the personal values are stored: per column, how many are clear, how many per key."""
    report = KeyReport()

    def work(c: sa.Connection) -> None:
        for col in _sealed_columns():
            counts: Counter[str] = Counter()
            for (value,) in c.execute(sa.select(raw(col.table.c[col.column]))):
                kid = _stored_key(value)
                if kid is not None:
                    counts[kid or "clear"] += 1
            report.columns[col.name] = counts

    await db.read(work)
    return report


async def rekey(db: Database, cipher: FieldCipher, *, batch: int = 500) -> KeyReport:
    """Seal every clear value and re-seal every value of an older key under the current one.

    Runs in batches of `batch` rows, each its own transaction, so that a large ledger is never
    locked for long and an interrupted run simply continues where it is run again.
    """
    report = KeyReport()
    for col in _sealed_columns():
        done = 0
        keys = [col.table.c[k] for k in col.keys]
        last: tuple[Any, ...] | None = None
        while True:

            def work(
                c: sa.Connection,
                col: _Column = col,
                keys: list[sa.Column[Any]] = keys,
                after: tuple[Any, ...] | None = last,
            ) -> tuple[int, tuple[Any, ...] | None, bool]:
                query = sa.select(*keys, raw(col.table.c[col.column]).label("stored")).order_by(*keys).limit(batch)
                if after is not None:
                    query = query.where(sa.tuple_(*keys) > sa.tuple_(*after))
                rows = c.execute(query).all()
                changed = 0
                for row in rows:
                    kid = _stored_key(row.stored)
                    if kid is None or kid == cipher.key_id:
                        continue
                    where = [k == row[i] for i, k in enumerate(keys)]
                    value = c.execute(sa.select(col.table.c[col.column]).where(*where)).scalar_one()
                    if isinstance(value, dict) and not value.get("recipients"):
                        continue
                    # The typed column opens the old value and seals the new one.
                    c.execute(col.table.update().where(*where).values({col.column: value}))
                    changed += 1
                end = tuple(rows[-1][: len(keys)]) if rows else None
                return changed, end, len(rows) < batch

            changed, last, finished = await db.write(work)
            done += changed
            if finished:
                break
        report.resealed[col.name] = done
        log.info("privacy_rekeyed", column=col.name, resealed=done, key=cipher.key_id)
    return report
