"""CAP from outside: neighbouring authorities, IPAWS, NWS, Google Public Alerts, another broadcaster.

Accepts a CAP 1.2 or 1.1 <alert> as the root, or embedded in an Atom feed/entry or an EDXL-DE
distribution. The mapping is broadcaster.cap.from_cap's; this adapter adds what only ingest knows:
the alert came in through the "cap" adapter, at raw.received, for raw.tenant (None for a shared
source). A CAP written by another broadcaster carries its tenant and origin as extension codes;
those describe the other installation and are replaced here, while its event key is kept so that
its updates and cancellations still find the original.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from lxml import etree
from pydantic import ValidationError

from adapters.ingest.cap.wrappers import embedded_alerts, is_wrapper
from broadcaster.cap import from_cap
from broadcaster.cap.names import CAP10, READABLE
from broadcaster.errors import ParseError
from broadcaster.model import Alert, RawEvent
from broadcaster.parsing import invalid
from broadcaster.xmlsafe import parse_xml

# A namespace declaration of CAP 1.x anywhere in the body: cheap, and does not claim JMA's Atom
# feeds or L-Alert's EDXL-DE, which never declare it.
_CAP_NAMESPACE = re.compile(rb"""xmlns(:[\w.-]+)?\s*=\s*["']urn:oasis:names:tc:emergency:cap:1\.[12]["']""")
_CAP_CONTENT_TYPES = ("application/cap+xml", "application/common-alerting-protocol+xml")


class CapParser:
    name: ClassVar[str] = "cap"

    def accepts(self, raw: RawEvent) -> bool:
        if raw.source == self.name:
            return True
        if raw.content_type.split(";")[0].strip().lower() in _CAP_CONTENT_TYPES:
            return True
        return _CAP_NAMESPACE.search(raw.body) is not None

    def parse(self, raw: RawEvent) -> Sequence[Alert]:
        root = parse_xml(raw.body)
        namespace = etree.QName(root).namespace or ""
        if namespace in READABLE:
            elements = [root]
        elif is_wrapper(root):
            elements = embedded_alerts(root)
        elif namespace == CAP10:
            raise ParseError("unsupported_cap_version", "CAP 1.0 is not supported")
        else:
            raise ParseError("not_cap", f"root element {etree.QName(root).text}")
        ingest = {"tenant": raw.tenant, "origin": self.name, "received": raw.received}
        try:
            return [from_cap(el).model_copy(update=ingest) for el in elements]
        except ValidationError as e:  # a value no Alert may hold: the document is refused
            raise invalid(e) from e
