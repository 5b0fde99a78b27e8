"""Column types that seal personal data at rest with the engine's field cipher.

The cipher belongs to the engine (one per Database, from the settings at start-up): `attach`
puts it on the engine's dialect, the one object a column type sees when it binds or reads a
value. So every query over these columns, wherever it is written, stores sealed values and reads
clear ones, and no query needs to know.

* With a cipher, values are written sealed; sealed values are opened, clear ones (written before
  a key was configured) are read as they are, until `broadcaster privacy rekey` seals them.
* Without one, values are written clear, and a sealed value raises SealedDataError: a process
  started without the key must not act on data it cannot read.

Sealed values cannot be compared in SQL; lookups go through keyed hashes stored beside them
(`subscriber_endpoints.address_hash`).
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from broadcaster.privacy import FieldCipher, SealedDataError, is_sealed
from broadcaster.store.db import AsyncDatabase, Database, SqliteDatabase

_ATTR = "broadcaster_field_cipher"


def attach(db: Database, cipher: FieldCipher | None) -> None:
    """Give the database's engines the cipher (None: write clear, refuse sealed values)."""
    engines: list[sa.Engine] = []
    if isinstance(db, SqliteDatabase):
        engines = [db.engine, db.read_engine]
    elif isinstance(db, AsyncDatabase):
        engines = [db.engine.sync_engine]
    for engine in engines:
        setattr(engine.dialect, _ATTR, cipher)


def cipher_of(dialect: Dialect) -> FieldCipher | None:
    cipher = getattr(dialect, _ATTR, None)
    return cipher if isinstance(cipher, FieldCipher) else None


def _open(dialect: Dialect, token: str, purpose: str) -> str:
    cipher = cipher_of(dialect)
    if cipher is None:
        raise SealedDataError(f"{purpose} holds sealed values and no data key is configured (privacy.key)")
    return cipher.open(token, purpose)


class SealedText(sa.types.TypeDecorator[str]):
    """Text sealed at rest; `purpose` (the column's name) binds a value to its column."""

    impl = sa.Text()
    cache_ok = True

    def __init__(self, purpose: str) -> None:
        super().__init__()
        self.purpose = purpose

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        cipher = cipher_of(dialect)
        if value is None or cipher is None or is_sealed(value):
            return value
        return cipher.seal(value, self.purpose)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        text = str(value)
        return _open(dialect, text, self.purpose) if is_sealed(text) else text


_RECIPIENTS = "recipients"
_SEALED_RECIPIENTS = "sealed_recipients"


class DispatchData(sa.types.TypeDecorator[Any]):
    """A dispatch as JSON, its recipient list sealed as one value (one batch, one seal)."""

    impl = sa.JSON()
    cache_ok = True
    purpose = "dispatches.recipients"

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        cipher = cipher_of(dialect)
        if cipher is None or not isinstance(value, dict) or not value.get(_RECIPIENTS):
            return value
        sealed = cipher.seal(json.dumps(value[_RECIPIENTS], ensure_ascii=False), self.purpose)
        return {**value, _RECIPIENTS: [], _SEALED_RECIPIENTS: sealed}

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if not isinstance(value, dict) or _SEALED_RECIPIENTS not in value:
            return value
        out = dict(value)
        recipients = json.loads(_open(dialect, str(out.pop(_SEALED_RECIPIENTS)), self.purpose))
        out[_RECIPIENTS] = recipients
        return out


def raw(column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The column as stored (sealed values unopened), for rekeying and status counts."""
    impl = column.type.impl if isinstance(column.type, sa.types.TypeDecorator) else column.type
    return sa.type_coerce(column, impl)


__all__ = ["DispatchData", "SealedDataError", "SealedText", "attach", "cipher_of", "raw"]
