"""The QZSS source parser: one receiver message ($QZQSM sentence or UBX RXM-SFRBX frame) in,
Alerts out. Decoding is the `azarashi` package's (IS-QZSS-DCR and IS-QZSS-DCX); this module
checks the frame, asks the package, and hands the report to assemble.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import azarashi
from pydantic import ValidationError

from adapters.ingest.qzss import vocabulary as v
from adapters.ingest.qzss.assemble import build_alert
from broadcaster.errors import ParseError
from broadcaster.model import Alert, RawEvent
from broadcaster.parsing import invalid

_NMEA_HEAD = b"$QZQSM"
_UBX_HEAD = b"\xb5\x62\x02\x13"


def message_format(body: bytes) -> Literal["nmea", "ublox"] | None:
    """'nmea' or 'ublox' by the first bytes; None when it is neither."""
    stripped = body.lstrip()
    if stripped.startswith(_NMEA_HEAD):
        return "nmea"
    if body.startswith(_UBX_HEAD):
        return "ublox"
    return None


def decode(body: bytes, raw: RawEvent | None = None) -> Any:
    """The package's report for one message; ParseError with the package's reason when refused."""
    kind = message_format(body)
    if kind is None:
        raise ParseError("not_qzss", "neither a $QZQSM sentence nor a UBX RXM-SFRBX frame")
    message: str | bytes = body.strip().decode("ascii", "replace") if kind == "nmea" else body
    try:
        return azarashi.decode(message, kind, timestamp=raw.received if raw is not None else None)
    except azarashi.AzarashiException as e:
        # The package's exception names say what was wrong (a CRC or checksum mismatch, a
        # truncated frame, a message type it does not decode): that is the quarantine reason.
        raise ParseError("qzss_invalid", f"{type(e).__name__}: {str(e)[:200]}") from e


def identity_ref(report: Any, raw: RawEvent) -> str:
    """What the alert's identifier is made of (see assemble.py): the reader's entry id when it gave
    one, else the report's bits (and, for DCX, the minute it was received)."""
    if raw.source_ref and raw.source_ref.startswith(("dcr:", "dcx:")):
        return raw.source_ref
    bits = bytes(report.raw).hex()
    if report.message_type == "DCR":
        return f"dcr:{bits}"
    return f"dcx:{bits}@{raw.received:%Y-%m-%dT%H:%M}"


class QzssParser:
    name: ClassVar[str] = v.ORIGIN

    def accepts(self, raw: RawEvent) -> bool:
        return raw.source == v.ORIGIN or raw.content_type in (v.NMEA, v.UBX) or message_format(raw.body) is not None

    def parse(self, raw: RawEvent) -> Sequence[Alert]:
        report = decode(raw.body, raw)
        try:
            alert = build_alert(report, identity_ref(report, raw), raw.received)
        except ValidationError as e:
            raise invalid(e) from e
        if alert is None:
            return []
        return [alert.model_copy(update={"tenant": raw.tenant})] if raw.tenant else [alert]
