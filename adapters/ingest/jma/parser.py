"""The entry points: JmaParser for the normalize stage and parse_bytes for tools."""

from __future__ import annotations

import re
from datetime import datetime
from typing import ClassVar

from pydantic import ValidationError

from adapters.ingest.jma.build import to_alert
from adapters.ingest.jma.dispatch import route_for
from adapters.ingest.jma.draft import Draft
from adapters.ingest.jma.envelope import read_envelope
from adapters.ingest.jma.xmltools import NS_REPORT
from broadcaster.errors import ParseError
from broadcaster.model import SEVERITY_RANK, Alert, Kind, MsgType, RawEvent, now
from broadcaster.parsing import invalid
from broadcaster.xmlsafe import parse_xml

SOURCE = "jma"
_SNIFF_BYTES = 4096
_NS_BYTES = NS_REPORT.encode("ascii")
_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_UTF8_BOM = b"\xef\xbb\xbf"


def _check_encoding(data: bytes) -> None:
    """JMA XML is UTF-8 by specification; anything else is not a JMA telegram."""
    head = data[len(_UTF8_BOM) :] if data.startswith(_UTF8_BOM) else data
    m = _DECLARED_ENCODING.match(head[:200])
    if m and m.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8"):
        raise ParseError("bad_encoding", f"declared {m.group(1).decode('ascii')}, JMA XML is UTF-8")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ParseError("bad_encoding", f"not UTF-8 at byte {e.start}") from e


def parse_bytes(data: bytes, *, received: datetime | None = None) -> list[Alert]:
    """One JMA telegram's bytes → its Alert (a list, as the parser contract has it).

    Raises ParseError with a short reason for anything it refuses.
    """
    _check_encoding(data)
    root = parse_xml(data)
    env = read_envelope(root, received=received or now())
    route = route_for(env)
    draft = Draft(kind=Kind.OTHER, event=env.title)
    try:
        route.handler(env, draft)
        if env.msg_type is MsgType.CANCEL and SEVERITY_RANK[draft.severity] < SEVERITY_RANK[route.nominal]:
            draft.severity = route.nominal
        return [to_alert(env, draft, received=received)]
    except ValidationError as e:  # a value no Alert may hold: the telegram is refused, not the stage
        raise invalid(e) from e


class JmaParser:
    """SourceParser for JMA 防災情報XML (broadcaster.parsers entry point ``jma``)."""

    name: ClassVar[str] = SOURCE

    def accepts(self, raw: RawEvent) -> bool:
        return raw.source == SOURCE or _NS_BYTES in raw.body[:_SNIFF_BYTES]

    def parse(self, raw: RawEvent) -> list[Alert]:
        return parse_bytes(raw.body, received=raw.received)
