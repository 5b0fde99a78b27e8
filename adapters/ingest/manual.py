"""Manual alerts off the wire: the project's own JSON, written by an officer (console, API or
`broadcaster send`).

The document and the alert it becomes belong to the core (broadcaster/model/manual.py,
docs/manual-alerts.md); this parser checks what only the wire shows: who sent it, its size, its
JSON, and that it names the officer's own tenant.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import ClassVar

from pydantic import ValidationError

from broadcaster.errors import ParseError
from broadcaster.model import Alert, RawEvent
from broadcaster.model.manual import CONTENT_TYPE, ManualAlert, to_alert
from broadcaster.parsing import invalid

__all__ = ["CONTENT_TYPE", "MAX_BYTES", "ManualAlertParser"]

MAX_BYTES = 256 * 1024


class ManualAlertParser:
    name: ClassVar[str] = "manual"

    def accepts(self, raw: RawEvent) -> bool:
        return raw.source == "manual" or raw.content_type == CONTENT_TYPE

    def parse(self, raw: RawEvent) -> Sequence[Alert]:
        if raw.tenant is None:
            raise ParseError("no_tenant", "a manual alert must come from a tenant's officer")
        # An officer, or a system of the town with its own API token (docs/decisions.md, decision 4).
        if not raw.submitted_by.startswith(("officer:", "token:")):
            raise ParseError(
                "no_officer", f"manual alerts carry an officer identity, got {raw.submitted_by!r}"
            )
        if len(raw.body) > MAX_BYTES:
            raise ParseError("too_large", f"{len(raw.body)} bytes, limit {MAX_BYTES}")
        try:
            data = json.loads(raw.body.decode("utf-8"))
        except (ValueError, RecursionError) as e:  # bad UTF-8, bad JSON, 5000-digit numbers, [[[[…
            raise ParseError("malformed_json", str(e)[:300]) from e
        try:
            manual = ManualAlert.model_validate(data)
        except ValidationError as e:
            raise ParseError("invalid_manual_alert", _summary(e)) from e
        if manual.tenant is not None and manual.tenant != raw.tenant:
            raise ParseError(
                "tenant_mismatch", f"alert names tenant {manual.tenant}, officer belongs to {raw.tenant}"
            )
        try:
            return [to_alert(manual, raw)]
        except ValidationError as e:  # e.g. a district id out of pattern: refused, with the field
            raise invalid(e, "invalid_manual_alert") from e


def _summary(e: ValidationError) -> str:
    parts = []
    for err in e.errors()[:5]:
        where = ".".join(str(x) for x in err["loc"]) or "(document)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
