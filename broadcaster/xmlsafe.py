"""Hardened XML parsing for everything that arrives from outside.

No DTD is loaded, no entity is expanded, nothing is fetched from the network, and the size is
capped before the parser sees a byte. A document that declares a DOCTYPE at all is refused: none
of the formats we accept (JMA XML, EDXL-DE, CAP) uses one, and a DOCTYPE is how entity bombs and
external entities get in.
"""

from __future__ import annotations

from lxml import etree

from broadcaster.errors import ParseError

DEFAULT_MAX_BYTES = 5 * 1024 * 1024  # the largest official JMA sample is well under 1 MB


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_xml(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Parse untrusted XML or raise ParseError with a reason fit for the quarantine."""
    if len(data) > max_bytes:
        raise ParseError("too_large", f"{len(data)} bytes, limit {max_bytes}")
    if not data.strip():
        raise ParseError("empty", "no content")
    head = data[:4096]
    if b"<!DOCTYPE" in head.upper() or b"<!ENTITY" in data.upper():
        raise ParseError("doctype_forbidden", "DOCTYPE or ENTITY declarations are not accepted")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as e:
        raise ParseError("malformed_xml", str(e)[:300]) from e
    except ValueError as e:  # e.g. a unicode string with an encoding declaration
        raise ParseError("malformed_xml", str(e)[:300]) from e
    if root is None:
        raise ParseError("malformed_xml", "no root element")
    # A DTD could also sit after a BOM or in odd encodings that the byte check above missed.
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise ParseError("doctype_forbidden", "DOCTYPE declarations are not accepted")
    _check_prefixes(root)
    return root


def _check_prefixes(root: etree._Element) -> None:
    # libxml2 keeps an element or attribute whose prefix was never declared as a plain name
    # with a colon ("edxlde:EDXLDistribution"); such a document is not namespace-well-formed, and
    # every reader would trip over the name (found by fuzzing).
    for el in root.iter():
        tag = el.tag
        if isinstance(tag, str) and ":" in tag and not tag.startswith("{"):
            raise ParseError("undeclared_prefix", f"element {tag[:80]!r} uses a prefix that is not declared")
        for name in el.attrib:
            if ":" in name and not name.startswith("{"):
                raise ParseError("undeclared_prefix", f"attribute {name[:80]!r} uses a prefix that is not declared")


def root_namespace(root: etree._Element) -> str:
    return etree.QName(root).namespace or ""
