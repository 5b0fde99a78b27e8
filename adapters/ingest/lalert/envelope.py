"""The outer layers: a SOAP `publish` envelope (optional) around an EDXL-DE distribution.

The distribution carries what a relay needs (id, sender, time, status, type, target area) and one
commons content object per document; the commons Report inside is read by document.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from adapters.ingest.lalert.areas import Place, read_place
from adapters.ingest.lalert.namespaces import (
    COMMONS,
    EDXL_DE,
    SOAP_NAMESPACES,
    child,
    child_text,
    children,
    descendants,
    local,
    namespace,
)
from broadcaster.errors import ParseError


@dataclass(frozen=True)
class Distribution:
    distribution_id: str | None
    sender_id: str | None
    sent: str | None
    status: str | None
    type: str | None
    language: str | None
    target: Place | None
    content_objects: tuple[etree._Element, ...]


def distributions(root: etree._Element) -> list[etree._Element]:
    """Every EDXL-DE distribution in the document: the root itself or those in a SOAP body."""
    name, ns = local(root), namespace(root)
    if name == "EDXLDistribution":
        if ns != EDXL_DE:
            raise ParseError("wrong_namespace", f"EDXLDistribution in {ns or 'no namespace'!r}")
        return [root]
    if name == "Envelope" and ns in SOAP_NAMESPACES:
        body = next((c for c in root.iterchildren() if isinstance(c.tag, str) and local(c) == "Body"), None)
        if body is None:
            raise ParseError("no_distribution", "SOAP envelope without a Body")
        found = list(descendants(body, "EDXLDistribution", EDXL_DE))
        if not found:
            stray = next(
                (e for e in body.iter() if isinstance(e.tag, str) and local(e) == "EDXLDistribution"), None
            )
            if stray is not None:
                raise ParseError("wrong_namespace", f"EDXLDistribution in {namespace(stray)!r}")
            raise ParseError("no_distribution", "SOAP body holds no EDXL-DE distribution")
        return found
    raise ParseError("not_lalert", f"root element {{{ns}}}{name} is not an EDXL-DE distribution")


def read_distribution(el: etree._Element) -> Distribution:
    target = child(el, "targetArea", COMMONS)
    objects = tuple(children(el, "contentObject", COMMONS))
    if not objects:
        if child(el, "contentObject", EDXL_DE) is not None:
            raise ParseError("not_commons", "plain EDXL-DE content object, not a commons document")
        raise ParseError("no_content", "distribution without a commons:contentObject")
    return Distribution(
        distribution_id=child_text(el, "distributionID", EDXL_DE),
        sender_id=child_text(el, "senderID", EDXL_DE),
        sent=child_text(el, "dateTimeSent", EDXL_DE),
        status=child_text(el, "distributionStatus", EDXL_DE),
        type=child_text(el, "distributionType", EDXL_DE),
        language=child_text(el, "language", EDXL_DE),
        target=read_place(target) if target is not None else None,
        content_objects=objects,
    )
