"""The J-Alert source parser: the project's J-Alert message format, or JMA XML passed through.

The receiver's own output format is not public (docs/jalert.md); a municipality adapts it to the
documented text or JSON form, and JMA XML the receiver hands out (緊急地震速報, 津波警報, 特別警報)
passes through as it is. Such XML is read by the JMA parser and keeps JMA's identifiers, so the
same telegram from the JMA feed and from J-Alert is one alert, sent once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from pydantic import ValidationError

from adapters.ingest.jalert import vocabulary as v
from adapters.ingest.jalert.assemble import build_alert
from adapters.ingest.jalert.message import looks_like, read_message
from adapters.ingest.jma import JmaParser
from broadcaster.errors import ParseError
from broadcaster.model import Alert, RawEvent
from broadcaster.parsing import invalid

_JMA_NAMESPACE = b"xml.kishou.go.jp/jmaxml1"
# The header line the bridge puts in front of a mail it refused (bridge/mailintake.py).
REFUSED_PREFIX = b"X-Broadcaster-Jalert-Refused:"
_REASON = re.compile(r"^[a-z_]{1,40}$")


def is_jma_xml(body: bytes) -> bool:
    return body.lstrip()[:1] == b"<" and _JMA_NAMESPACE in body[:16 * 1024]


class JAlertParser:
    name: ClassVar[str] = v.ORIGIN

    def __init__(self) -> None:
        self._jma = JmaParser()

    def accepts(self, raw: RawEvent) -> bool:
        return raw.source == v.ORIGIN or looks_like(raw.body)

    def parse(self, raw: RawEvent) -> Sequence[Alert]:
        if raw.body.startswith(REFUSED_PREFIX):
            # A receiver's mail the bridge could not map (bridge/mailintake.py): the raw mail is
            # kept here with the bridge's reason, for the officers to read.
            line = raw.body.split(b"\n", 1)[0][len(REFUSED_PREFIX) :].decode("utf-8", "replace").strip()
            reason, _, detail = line.partition(";")
            reason = reason.strip() if _REASON.match(reason.strip()) else "mail_refused"
            raise ParseError(reason, f"the bridge's mail intake: {detail.strip()[:500]}")
        if raw.body.lstrip()[:1] == b"<":
            if not is_jma_xml(raw.body):
                raise ParseError("not_jalert", "XML from the J-Alert bridge must be JMA XML (防災情報XML)")
            # Through J-Alert, but JMA's telegram: its identity stays JMA's (deduplicated against
            # the JMA feed); only the way it came in is J-Alert's.
            return [a.model_copy(update={"origin": v.ORIGIN, "tenant": raw.tenant}) for a in self._jma.parse(raw)]
        try:
            return [build_alert(read_message(raw.body), tenant=raw.tenant, received=raw.received)]
        except ValidationError as e:  # a value no Alert may hold: the message is refused
            raise invalid(e) from e
