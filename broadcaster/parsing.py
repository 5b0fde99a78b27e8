"""The contract between the normalize stage and the source parsers (adapters/ingest/*).

A parser knows one outside format. It says cheaply whether a RawEvent is its kind, then turns it
into Alerts. It raises ParseError (with a short reason) for input it recognises but refuses; it
never touches the bus or the database. Parsers are registered under the entry-point group
``broadcaster.parsers``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol, runtime_checkable

from broadcaster.model import Alert, RawEvent


@runtime_checkable
class SourceParser(Protocol):
    name: ClassVar[str]

    def accepts(self, raw: RawEvent) -> bool:
        """True if this parser is the one for `raw` (by source, content type, root namespace)."""
        ...

    def parse(self, raw: RawEvent) -> Sequence[Alert]:
        """Alerts with tenant None (shared sources) or raw.tenant (a tenant's own source)."""
        ...
