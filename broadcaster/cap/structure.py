"""The CAP 1.2 content model as data, and a checker that needs no schema file.

It mirrors the OASIS XSD (CAP-v1.2.xsd): element order and cardinality, the enumerations, the
restricted dateTime pattern, xs:language, xs:integer and xs:decimal, element-only content, no
attributes. to_cap runs it on every document it builds, so that an invalid CAP cannot leave the
project even where the operator has configured no schema file. A trailing ds:Signature is checked
only for its outline (CAP lets it in with lax processing; we neither need nor verify signatures).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from lxml import etree

from broadcaster.cap.names import CAP12, DSIG, LANGUAGE_TAG, XML_SPACE, XSI, q
from broadcaster.model import Category, Certainty, MsgType, ResponseType, Scope, Severity, Status, Urgency

# A check returns what is wrong with a text value, or None when it is fine.
Check = Callable[[str], str | None]


def _string(_text: str) -> str | None:
    return None


def _enum(values: tuple[str, ...]) -> Check:
    allowed = frozenset(values)

    # xs:string keeps white space, so " Actual" is not Actual for the schema (nor for us when we write).
    def check(text: str) -> str | None:
        return None if text in allowed else f"{text!r} is not one of {', '.join(values)}"

    return check


_SPACES = re.compile(r"[ \t\n\r]+")


def _collapse(text: str) -> str:
    """XSD's whiteSpace="collapse", which the token-like types apply before their patterns."""
    return _SPACES.sub(" ", text).strip(" ")


_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})([-+])([0-9]{2}):([0-9]{2})"
)
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")


def check_datetime(text: str) -> str | None:
    """CAP 1.2's dateTime: the XSD pattern (no "Z", no fractions) and a real xs:dateTime."""
    value = text.strip(XML_SPACE)  # xs:dateTime collapses white space before the pattern applies
    m = _DATETIME.fullmatch(value)
    if m is None:
        return f"{text!r} is not a CAP dateTime (YYYY-MM-DDThh:mm:ss+hh:mm, UTC as -00:00)"
    year, month, day, hour, minute, second, _sign, tzh, tzm = m.groups()
    y, mo, d, h, mi, s = (int(x) for x in (year, month, day, hour, minute, second))
    if y == 0 or not 1 <= mo <= 12 or not 1 <= d <= calendar.monthrange(y, mo)[1]:
        return f"{text!r} is not a valid date"
    # XSD 1.0 allows 24:00:00 as the end of a day, and nothing else past 23:59:59.
    if not (h < 24 and mi < 60 and s < 60) and (h, mi, s) != (24, 0, 0):
        return f"{text!r} is not a valid time"
    if int(tzm) >= 60 or int(tzh) * 60 + int(tzm) > 14 * 60:
        return f"{text!r} has a time zone offset outside -14:00..+14:00"
    return None


def _pattern(regex: re.Pattern[str], what: str) -> Check:
    def check(text: str) -> str | None:
        return None if regex.fullmatch(_collapse(text)) else f"{text!r} is not {what}"

    return check


def _values(enum: type[StrEnum]) -> Check:
    return _enum(tuple(m.value for m in enum))


@dataclass(frozen=True)
class El:
    """One element of a sequence: simple (check) or complex (children, element-only content)."""

    name: str
    check: Check = _string
    children: tuple[El, ...] = ()
    min: int = 1
    max: int | None = 1  # None: unbounded
    # An empty element takes the schema default (only <language>, default en-US).
    default: str | None = None


def _opt(name: str, check: Check = _string) -> El:
    return El(name, check, min=0)


def _named(name: str) -> El:
    return El(name, children=(El("valueName"), El("value")), min=0, max=None)


_DT = check_datetime
_AREA = El(
    "area",
    children=(
        El("areaDesc"),
        El("polygon", min=0, max=None),
        El("circle", min=0, max=None),
        _named("geocode"),
        _opt("altitude", _pattern(_DECIMAL, "an xs:decimal")),
        _opt("ceiling", _pattern(_DECIMAL, "an xs:decimal")),
    ),
    min=0,
    max=None,
)
_RESOURCE = El(
    "resource",
    children=(
        El("resourceDesc"),
        El("mimeType"),
        _opt("size", _pattern(_INTEGER, "an xs:integer")),
        _opt("uri"),  # xs:anyURI: XSD 1.0 leaves its lexical space practically unrestricted
        _opt("derefUri"),
        _opt("digest"),
    ),
    min=0,
    max=None,
)
_INFO = El(
    "info",
    children=(
        El("language", _pattern(LANGUAGE_TAG, "an xs:language tag"), min=0, default="en-US"),
        El("category", _values(Category), max=None),
        El("event"),
        El("responseType", _values(ResponseType), min=0, max=None),
        El("urgency", _values(Urgency)),
        El("severity", _values(Severity)),
        El("certainty", _values(Certainty)),
        _opt("audience"),
        _named("eventCode"),
        _opt("effective", _DT),
        _opt("onset", _DT),
        _opt("expires", _DT),
        _opt("senderName"),
        _opt("headline"),
        _opt("description"),
        _opt("instruction"),
        _opt("web"),
        _opt("contact"),
        _named("parameter"),
        _RESOURCE,
        _AREA,
    ),
    min=0,
    max=None,
)
ALERT = El(
    "alert",
    children=(
        El("identifier"),
        El("sender"),
        El("sent", _DT),
        El("status", _values(Status)),
        El("msgType", _values(MsgType)),
        _opt("source"),
        El("scope", _values(Scope)),
        _opt("restriction"),
        _opt("addresses"),
        El("code", min=0, max=None),
        _opt("note"),
        _opt("references"),
        _opt("incidents"),
        _INFO,
    ),
)

# The only attributes a schema-validating reader accepts on a CAP element.
_ALLOWED_ATTRIBUTES = frozenset({q("schemaLocation", XSI), q("noNamespaceSchemaLocation", XSI)})


def check_structure(root: etree._Element) -> list[str]:
    """Everything in `root` that makes it an invalid CAP 1.2 alert; empty when it is valid."""
    if root.tag != q("alert"):
        return [f"root element is {etree.QName(root).text}, expected {q('alert')}"]
    errors: list[str] = []
    _check(root, ALERT, "alert", errors)
    return errors


def _elements(el: etree._Element) -> list[etree._Element]:
    return [kid for kid in el if isinstance(kid.tag, str)]


def _check(el: etree._Element, spec: El, path: str, errors: list[str]) -> None:
    for name in el.attrib:
        if name not in _ALLOWED_ATTRIBUTES:
            errors.append(f"{path}: attribute {name} is not allowed")
    kids = _elements(el)
    if not spec.children:
        if kids:
            errors.append(f"{path}: a simple value cannot contain elements")
            return
        text = el.text or ""
        if text == "" and spec.default is not None:
            return
        problem = spec.check(text)
        if problem:
            errors.append(f"{path}: {problem}")
        return
    if _has_character_data(el):
        errors.append(f"{path}: character data between child elements")
    i = 0
    for child in spec.children:
        count = 0
        while i < len(kids) and kids[i].tag == q(child.name) and (child.max is None or count < child.max):
            _check(kids[i], child, f"{path}/{child.name}", errors)
            count += 1
            i += 1
        if count < child.min:
            errors.append(f"{path}: <{child.name}> is missing or out of order")
    if spec is ALERT:
        while i < len(kids) and etree.QName(kids[i]).namespace == DSIG:
            _check_signature(kids[i], f"{path}/Signature", errors)
            i += 1
    if i < len(kids):
        qname = etree.QName(kids[i])
        where = qname.localname if qname.namespace == CAP12 else qname.text
        errors.append(f"{path}: unexpected <{where}> (unknown, repeated or out of order)")


def _has_character_data(el: etree._Element) -> bool:
    if (el.text or "").strip(XML_SPACE):
        return True
    return any((kid.tail or "").strip(XML_SPACE) for kid in el)


def _check_signature(el: etree._Element, path: str, errors: list[str]) -> None:
    if etree.QName(el).localname != "Signature":
        return
    if _has_character_data(el):
        errors.append(f"{path}: character data in an XML signature")
    names = [etree.QName(k).localname for k in _elements(el)[:2]]
    if names != ["SignedInfo", "SignatureValue"]:
        errors.append(f"{path}: an XML signature starts with SignedInfo and SignatureValue")
