"""CAP alerts inside the envelopes they commonly travel in: an Atom feed or entry, an EDXL-DE.

Only the simple case: the alert is embedded as XML (Atom <content>, EDXL-DE
<embeddedXMLContent>). An Atom entry that merely links to its CAP (as the NWS index feeds do) holds
no alert; fetching it is the source's job, not the parser's.
"""

from __future__ import annotations

from lxml import etree

from broadcaster.cap.names import READABLE, q
from broadcaster.errors import ParseError

ATOM = "http://www.w3.org/2005/Atom"
EDXL_DE = "urn:oasis:names:tc:emergency:EDXL:DE:1.0"

_ATOM_ROOTS = frozenset({q("feed", ATOM), q("entry", ATOM)})
_EDXL_ROOT = q("EDXLDistribution", EDXL_DE)


def is_wrapper(root: etree._Element) -> bool:
    return root.tag in _ATOM_ROOTS or root.tag == _EDXL_ROOT


def embedded_alerts(root: etree._Element) -> list[etree._Element]:
    """The CAP alerts embedded in an Atom or EDXL-DE document, in document order."""
    if root.tag in _ATOM_ROOTS:
        holders = root.iter(q("content", ATOM))
    else:
        holders = root.iter(q("embeddedXMLContent", EDXL_DE))
    alerts = [
        child
        for holder in holders
        for child in holder
        if isinstance(child.tag, str)
        and etree.QName(child).localname == "alert"
        and etree.QName(child).namespace in READABLE
    ]
    if not alerts:
        raise ParseError("no_cap_content", f"{etree.QName(root).localname} embeds no CAP alert")
    return alerts
