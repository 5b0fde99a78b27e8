"""CAP 1.2 (and 1.1) XML -> Alert.

Lenient where leniency loses nothing (white space around tokens, element order, a "Z" or fractional
seconds in a foreign timestamp), strict where a guess could mislead (unknown enumeration values,
a timestamp without an offset, a repeated singleton). Every refusal is a ParseError with a short
reason code.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from lxml import etree
from pydantic import ValidationError

from broadcaster.cap import ext
from broadcaster.cap.kind import infer_kind
from broadcaster.cap.lists import split_list
from broadcaster.cap.names import CAP10, CAP11, LANGUAGE_TAG, READABLE, XML_SPACE
from broadcaster.errors import ParseError
from broadcaster.model import (
    KIND,
    Alert,
    Area,
    Category,
    Certainty,
    Info,
    MsgType,
    NamedValue,
    Resource,
    ResponseType,
    Scope,
    Severity,
    Status,
    Urgency,
)
from broadcaster.xmlsafe import parse_xml

E = TypeVar("E", bound=StrEnum)

_SPACES = re.compile(r"[ \t\n\r]+")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")

# CAP's default for an info block without <language>.
DEFAULT_LANGUAGE = "en-US"
# CAP 1.1 made mimeType optional; 1.2 requires it, and so does the model.
DEFAULT_MIME_TYPE = "application/octet-stream"
FOREIGN_ORIGIN = "cap"


def from_cap(data: bytes | etree._Element) -> Alert:
    """The Alert a CAP document describes. Bytes are parsed with the hardened XML parser."""
    root = parse_xml(data) if isinstance(data, bytes) else data
    namespace = etree.QName(root).namespace or ""
    if etree.QName(root).localname != "alert" or namespace not in READABLE:
        if namespace == CAP10:
            raise ParseError("unsupported_cap_version", "CAP 1.0 is not supported")
        raise ParseError("not_cap", f"root element {etree.QName(root).text}")
    node = _Node(root, namespace)
    codes, extension = ext.decode(node.many("code"))
    try:
        alert = _alert(node, codes, extension)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "alert"
        raise ParseError("invalid_alert", f"{where}: {first['msg']}"[:300]) from e
    return alert


def _alert(node: _Node, codes: tuple[str, ...], extension: ext.Extension | None) -> Alert:
    msg_type = node.enum("msgType", MsgType)
    # Reference triples hold no white space, so CAP's quoting does not apply to this list.
    references = tuple(r for r in _SPACES.split(node.one("references") or "") if r)
    incidents = node.one("incidents")
    infos = _infos(node)
    if extension is None:
        # Foreign CAP: the model reads the first info block as the Japanese one that the others
        # translate (Alert.primary), so a Japanese block moves to the front; then give rules and
        # templates the project's own classification.
        infos.sort(key=lambda i: not _is_japanese(i.language))
        kind = infer_kind(infos).value
        infos = [
            i if i.event_codes(KIND) else i.model_copy(update={"event_code": (*i.event_code, _kind(kind))})
            for i in infos
        ]
    identifier = node.token("identifier")
    event_key = extension.event_key if extension else None
    return Alert(
        identifier=identifier,
        sender=node.token("sender"),
        sent=node.time("sent"),
        status=node.enum("status", Status),
        msg_type=msg_type,
        source=node.one("source"),
        scope=node.enum("scope", Scope),
        restriction=node.one("restriction"),
        addresses=node.one("addresses"),
        code=codes,
        note=node.one("note"),
        references=references,
        incidents=incidents,
        info=tuple(infos),
        tenant=extension.tenant if extension else None,
        event_key=event_key or _event_key(identifier, msg_type, references, incidents),
        origin=extension.origin if extension else FOREIGN_ORIGIN,
        received=extension.received if extension else None,
    )


def _is_japanese(language: str) -> bool:
    return language.lower().split("-")[0] == "ja"


def _kind(kind: str) -> NamedValue:
    return NamedValue(value_name=KIND, value=kind)


def _event_key(identifier: str, msg_type: MsgType, references: tuple[str, ...], incidents: str | None) -> str:
    """The key that an alert, its updates and its cancellation share (docs/decisions.md, decision 3).

    The first incident named, else for an Update, Cancel, Ack or Error the identifier of the first
    message it references, else the message's own identifier.
    """
    named = split_list(incidents or "")
    if named and named[0]:
        return named[0]
    if msg_type is not MsgType.ALERT and references:
        parts = references[0].split(",")
        if len(parts) == 3 and parts[1]:
            return parts[1]
    return identifier


def _infos(node: _Node) -> list[Info]:
    # The model holds one info block per language (docs/decisions.md,
    # decision 21). A foreign CAP may carry two of one
    # language (e.g. one event for two sets of areas); merging them could attach one area's
    # severity to another, so the first is kept and later ones of that language are dropped.
    infos: list[Info] = []
    seen: set[str] = set()
    for child in node.children("info"):
        info = _info(child)
        if info.language not in seen:
            seen.add(info.language)
            infos.append(info)
    return infos


def _info(node: _Node) -> Info:
    # An empty <language/> takes the schema default, as an absent one does.
    language = (node.one("language") or "").strip(XML_SPACE) or DEFAULT_LANGUAGE
    # Refused rather than kept: an alert we cannot write back as CAP could not be passed on.
    if not LANGUAGE_TAG.fullmatch(language):
        raise ParseError("bad_value", f"<language> {language[:40]!r} is not an RFC 3066 tag")
    categories = tuple(node.enums("category", Category))
    if not categories:
        raise ParseError("missing_element", "<category> is required in <info>")
    return Info(
        language=language,
        category=categories,
        event=node.required("event"),
        response_type=tuple(node.enums("responseType", ResponseType)),
        urgency=node.enum("urgency", Urgency),
        severity=node.enum("severity", Severity),
        certainty=node.enum("certainty", Certainty),
        audience=node.one("audience"),
        event_code=node.named("eventCode"),
        effective=node.optional_time("effective"),
        onset=node.optional_time("onset"),
        expires=node.optional_time("expires"),
        sender_name=node.one("senderName"),
        headline=node.one("headline"),
        description=node.one("description"),
        instruction=node.one("instruction"),
        web=node.one("web"),
        contact=node.one("contact"),
        parameter=node.named("parameter"),
        resource=tuple(_resource(r) for r in node.children("resource")),
        area=tuple(_area(a) for a in node.children("area")),
    )


def _resource(node: _Node) -> Resource:
    size = node.one("size")
    mime_type = node.one("mimeType") if node.ns == CAP11 else node.required("mimeType")
    return Resource(
        resource_desc=node.required("resourceDesc"),
        mime_type=DEFAULT_MIME_TYPE if mime_type is None else mime_type,
        size=None if size is None else _integer("size", size),
        uri=node.one("uri"),
        # Base64 as written (line breaks included): decoding is for whoever plays the audio.
        deref_uri=node.one("derefUri"),
        digest=node.one("digest"),
    )


def _area(node: _Node) -> Area:
    altitude, ceiling = node.one("altitude"), node.one("ceiling")
    return Area(
        area_desc=node.required("areaDesc"),
        polygon=tuple(node.many("polygon")),
        circle=tuple(node.many("circle")),
        geocode=node.named("geocode"),
        altitude=None if altitude is None else _decimal("altitude", altitude),
        ceiling=None if ceiling is None else _decimal("ceiling", ceiling),
    )


class _Node:
    """One CAP element and typed access to its children, each refusal a ParseError."""

    def __init__(self, el: etree._Element, namespace: str) -> None:
        self.el = el
        self.ns = namespace

    def _find(self, name: str) -> list[etree._Element]:
        return self.el.findall(f"{{{self.ns}}}{name}")

    def children(self, name: str) -> list[_Node]:
        return [_Node(c, self.ns) for c in self._find(name)]

    def many(self, name: str) -> list[str]:
        return [_text(c) for c in self._find(name)]

    def one(self, name: str) -> str | None:
        """Text of an optional element: None when absent, "" when present and empty."""
        found = self._find(name)
        if len(found) > 1:
            raise ParseError("repeated_element", f"<{name}> appears {len(found)} times")
        return _text(found[0]) if found else None

    def required(self, name: str) -> str:
        value = self.one(name)
        if value is None:
            raise ParseError("missing_element", f"<{name}> is required in <{etree.QName(self.el).localname}>")
        return value

    def token(self, name: str) -> str:
        return self.required(name).strip(XML_SPACE)

    def enum(self, name: str, enum: type[E]) -> E:
        return _member(enum, name, self.token(name))

    def enums(self, name: str, enum: type[E]) -> list[E]:
        return [_member(enum, name, v.strip(XML_SPACE)) for v in self.many(name)]

    def time(self, name: str) -> datetime:
        return _datetime(name, self.token(name))

    def optional_time(self, name: str) -> datetime | None:
        value = self.one(name)
        return None if value is None else _datetime(name, value.strip(XML_SPACE))

    def named(self, name: str) -> tuple[NamedValue, ...]:
        return tuple(
            NamedValue(value_name=pair.required("valueName"), value=pair.required("value"))
            for pair in self.children(name)
        )


def _text(el: etree._Element) -> str:
    # itertext: stray markup inside a text element is kept as text rather than refused.
    return "".join(el.itertext())


def _integer(name: str, text: str) -> int:
    value = text.strip(XML_SPACE)
    if not _INTEGER.fullmatch(value):
        raise ParseError("bad_value", f"<{name}> {text[:40]!r} is not an integer")
    return int(value)


def _decimal(name: str, text: str) -> float:
    # An exponent is not xs:decimal, but its value is unambiguous; NaN and infinities are not numbers.
    value = text.strip(XML_SPACE)
    number = float(value) if _NUMBER.fullmatch(value) else math.nan
    if not math.isfinite(number):  # 1e999 overflows to infinity
        raise ParseError("bad_value", f"<{name}> {text[:40]!r} is not a decimal number")
    return number


def _member(enum: type[E], name: str, value: str) -> E:
    try:
        return enum(value)
    except ValueError as e:
        raise ParseError("bad_enumeration", f"<{name}> {value[:40]!r}") from e


def _datetime(name: str, text: str) -> datetime:
    # CAP 1.2 forbids "Z" and fractions, but senders use both; the instant is still unambiguous.
    # xs:dateTime also allows 24:00:00, the end of a day, which Python spells as the next midnight.
    end_of_day = "T24:00:00" in text
    try:
        value = datetime.fromisoformat(text.replace("T24:00:00", "T00:00:00", 1))
        if end_of_day:
            value += timedelta(days=1)
    except (ValueError, OverflowError) as e:
        raise ParseError("bad_datetime", f"<{name}> {text[:40]!r}") from e
    if value.utcoffset() is None:
        raise ParseError("bad_datetime", f"<{name}> {text[:40]!r} has no time zone offset")
    return value
