"""The L-Alert source parser: SOAP or bare EDXL-DE bytes in, one Alert per commons document out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

from pydantic import ValidationError

from adapters.ingest.lalert import vocabulary as v
from adapters.ingest.lalert.assemble import build_alert
from adapters.ingest.lalert.document import read_document
from adapters.ingest.lalert.envelope import distributions, read_distribution
from adapters.ingest.lalert.namespaces import EDXL_DE, PUBLICCOMMONS
from broadcaster.model import Alert, RawEvent
from broadcaster.parsing import invalid
from broadcaster.xmlsafe import parse_xml

# How far into the bytes accepts() looks for the two namespaces: the SOAP sample declares them
# within its first kilobyte, and sniffing must stay cheap.
_SNIFF_BYTES = 16 * 1024


def parse_bytes(data: bytes, *, tenant: str | None = None, received: datetime | None = None) -> list[Alert]:
    """Every commons document in `data` as an Alert, or ParseError with a reason code."""
    root = parse_xml(data)
    alerts: list[Alert] = []
    try:
        for el in distributions(root):
            dist = read_distribution(el)
            for content in dist.content_objects:
                alerts.append(build_alert(dist, read_document(content), tenant=tenant, received=received))
    except ValidationError as e:  # a value no Alert may hold: the document is refused
        raise invalid(e) from e
    return alerts


class LAlertParser:
    name: ClassVar[str] = v.ORIGIN

    def accepts(self, raw: RawEvent) -> bool:
        if raw.source == v.ORIGIN:
            return True
        head = raw.body[:_SNIFF_BYTES]
        return EDXL_DE.encode() in head and PUBLICCOMMONS.encode() in head

    def parse(self, raw: RawEvent) -> Sequence[Alert]:
        return parse_bytes(raw.body, tenant=raw.tenant, received=raw.received)
