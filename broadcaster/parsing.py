"""The contract between the normalize stage and the source parsers (adapters/ingest/*).

A parser knows one outside format. It says cheaply whether a RawEvent is its kind, then turns it
into Alerts. It raises ParseError (with a short reason) for input it recognises but refuses; it
never touches the bus or the database. Parsers are registered under the entry-point group
``broadcaster.parsers``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol, runtime_checkable

from pydantic import ValidationError

from broadcaster.errors import ParseError
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


def invalid(e: ValidationError, reason: str = "invalid_alert") -> ParseError:
    """Input that cannot make a valid model (an empty code, a district id out of pattern), as the
    ParseError a parser owes its caller; the detail names fields, never the input's values."""
    problems = e.errors(include_url=False, include_input=False)[:3]
    return ParseError(reason, "; ".join(f"{'.'.join(str(x) for x in p['loc'])}: {p['msg']}" for p in problems))
