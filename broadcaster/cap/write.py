"""Alert -> CAP 1.2 XML."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from lxml import etree

from broadcaster.cap import ext
from broadcaster.cap.names import CAP12, LANGUAGE_TAG, XML_SPACE, q
from broadcaster.cap.structure import check_structure
from broadcaster.errors import PermanentError
from broadcaster.model import Alert, Area, Info, NamedValue, Resource, cap_datetime

# The largest offset xs:dateTime allows.
_MAX_OFFSET = timedelta(hours=14)


class CapEncodeError(PermanentError, ValueError):
    """The alert holds something CAP 1.2 cannot express (a bad language tag, a control character)."""


def to_cap(alert: Alert) -> bytes:
    """The alert as a CAP 1.2 document (UTF-8), valid against the OASIS schema.

    Datetimes are written at CAP's precision of whole seconds; see docs/cap.md for what that
    means for round trips.
    """
    try:
        root = _alert(alert)
    except CapEncodeError:
        raise
    except ValueError as e:  # lxml refuses text that XML 1.0 cannot carry
        raise CapEncodeError(str(e)) from e
    # Built to be valid by construction; this is the guard that keeps a bug from shipping.
    problems = check_structure(root)
    if problems:
        raise CapEncodeError("; ".join(problems[:5]))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _alert(alert: Alert) -> etree._Element:
    root = etree.Element(q("alert"), nsmap={None: CAP12})
    _text(root, "identifier", alert.identifier)
    _text(root, "sender", alert.sender)
    _text(root, "sent", _datetime(alert.sent))
    _text(root, "status", alert.status.value)
    _text(root, "msgType", alert.msg_type.value)
    _text(root, "source", alert.source)
    _text(root, "scope", alert.scope.value)
    _text(root, "restriction", alert.restriction)
    _text(root, "addresses", alert.addresses)
    extension = ext.Extension(
        origin=alert.origin, event_key=alert.event_key, tenant=alert.tenant, received=alert.received
    )
    for code in ext.encode(alert.code, extension):
        _text(root, "code", code)
    _text(root, "note", alert.note)
    if alert.references:
        _text(root, "references", _references(alert.references))
    _text(root, "incidents", alert.incidents)
    for info in alert.info:
        _info(etree.SubElement(root, q("info")), info)
    return root


def _info(el: etree._Element, info: Info) -> None:
    if not LANGUAGE_TAG.fullmatch(info.language):
        raise CapEncodeError(f"language {info.language!r} is not an RFC 3066 tag")
    _text(el, "language", info.language)
    for category in info.category:
        _text(el, "category", category.value)
    _text(el, "event", info.event)
    for response in info.response_type:
        _text(el, "responseType", response.value)
    _text(el, "urgency", info.urgency.value)
    _text(el, "severity", info.severity.value)
    _text(el, "certainty", info.certainty.value)
    _text(el, "audience", info.audience)
    _named(el, "eventCode", info.event_code)
    for name in ("effective", "onset", "expires"):
        value: datetime | None = getattr(info, name)
        _text(el, name, None if value is None else _datetime(value))
    _text(el, "senderName", info.sender_name)
    _text(el, "headline", info.headline)
    _text(el, "description", info.description)
    _text(el, "instruction", info.instruction)
    _text(el, "web", info.web)
    _text(el, "contact", info.contact)
    _named(el, "parameter", info.parameter)
    for resource in info.resource:
        _resource(etree.SubElement(el, q("resource")), resource)
    for area in info.area:
        _area(etree.SubElement(el, q("area")), area)


def _resource(el: etree._Element, resource: Resource) -> None:
    _text(el, "resourceDesc", resource.resource_desc)
    _text(el, "mimeType", resource.mime_type)
    _text(el, "size", None if resource.size is None else str(resource.size))
    _text(el, "uri", resource.uri)
    _text(el, "derefUri", resource.deref_uri)
    _text(el, "digest", resource.digest)


def _area(el: etree._Element, area: Area) -> None:
    _text(el, "areaDesc", area.area_desc)
    for polygon in area.polygon:
        _text(el, "polygon", polygon)
    for circle in area.circle:
        _text(el, "circle", circle)
    _named(el, "geocode", area.geocode)
    _text(el, "altitude", _decimal(area.altitude))
    _text(el, "ceiling", _decimal(area.ceiling))


def _text(parent: etree._Element, name: str, value: str | None) -> None:
    if value is not None:
        etree.SubElement(parent, q(name)).text = value


def _named(parent: etree._Element, name: str, pairs: Iterable[NamedValue]) -> None:
    for pair in pairs:
        el = etree.SubElement(parent, q(name))
        _text(el, "valueName", pair.value_name)
        _text(el, "value", pair.value)


def _references(references: Iterable[str]) -> str:
    for ref in references:
        if not ref or any(c in XML_SPACE for c in ref):
            raise CapEncodeError(f"reference {ref!r} cannot sit in CAP's space-separated list")
    return " ".join(references)


def _datetime(value: datetime) -> str:
    """CAP's form, same instant. Offsets CAP cannot write (seconds, beyond ±14:00) become UTC."""
    offset = value.utcoffset()
    if offset is None:
        raise CapEncodeError("naive datetime")
    if offset % timedelta(minutes=1) or abs(offset) > _MAX_OFFSET:
        try:
            value = value.astimezone(UTC)
        except OverflowError as e:
            raise CapEncodeError(f"{value.isoformat()} has no CAP form") from e
    return cap_datetime(value)


def _decimal(value: float | None) -> str | None:
    """xs:decimal has no exponent: 1e-07 is written 0.0000001, which reads back as the same float."""
    if value is None:
        return None
    if not math.isfinite(value):
        raise CapEncodeError(f"{value} is not an xs:decimal")
    return format(Decimal(repr(value)), "f")
