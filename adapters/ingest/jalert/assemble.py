"""One J-Alert message (message.py) as one Alert.

Identity: `jalert-<id>`; the event key is `jalert|<event>`, where `event` is the id of the first
message of the event (a launch, then 直ちに避難, then 通過 share it), so that every later stage
supersedes the earlier ones and a cancel reaches exactly where they went.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import TypeVar

from adapters.ingest.jalert import vocabulary as v
from adapters.ingest.jalert.message import Message
from adapters.ingest.jalert.places import Place, resolve_all
from broadcaster.errors import ParseError
from broadcaster.model import (
    JST,
    KIND,
    Alert,
    Certainty,
    Info,
    MsgType,
    NamedValue,
    ResponseType,
    Severity,
    Urgency,
    cap_datetime,
)
from broadcaster.model.change import RELAY

W = TypeVar("W")

_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
_CLOCK = re.compile(r"^(\d{1,2})\s*[:：時]\s*(\d{1,2})\s*分?$")


def parse_time(value: str, what: str) -> datetime:
    """ISO 8601, or `YYYY/MM/DD hh:mm:ss` as Japanese systems write it; no offset means JST."""
    text = v.normalize(value)
    slashed = re.match(r"^(\d{4})/(\d{1,2})/(\d{1,2})(?:\s+(.*))?$", text)
    if slashed:
        y, m, d, clock = slashed.groups()
        clock = (clock or "").strip()
        text = f"{int(y):04d}-{int(m):02d}-{int(d):02d}" + (f"T{clock}" if clock else "")
    try:
        dt = datetime.fromisoformat(text)
    except ValueError as e:
        raise ParseError("bad_datetime", f"{what} {value[:40]!r}") from e
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=JST)


def clock_text(value: str) -> str | None:
    """The template's ●時●分 from `time`: "7:04", "07時04分" or a full date-time; None if unreadable."""
    text = v.normalize(value)
    match = _CLOCK.match(text)
    if match:
        hour, minute = int(match.group(1)), int(match.group(2))
    else:
        try:
            dt = parse_time(text, "time").astimezone(JST)
        except ParseError:
            return None
        hour, minute = dt.hour, dt.minute
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return f"{hour}時{minute}分"


def _required(msg: Message, name: str) -> str:
    value = msg.get(name)
    if value is None:
        raise ParseError(f"missing_{name}", f"the message has no {name}")
    return value


def _identifier(value: str, what: str) -> str:
    value = v.normalize(value)
    if not _ID.match(value):
        raise ParseError("bad_id", f"{what} {value[:40]!r}: 1-100 characters of A-Z a-z 0-9 . _ : -")
    return value


def _word(table: Mapping[str, W], value: str, reason: str, what: str) -> W:
    found = table.get(v.lookup_key(value)) or table.get(v.normalize(value))
    if found is None:
        raise ParseError(reason, f"{what} {value[:40]!r}")
    return found


def _category(msg: Message) -> tuple[str, v.CategoryInfo]:
    value = _required(msg, "category")
    key = v.lookup_key(value)
    if key not in v.CATEGORIES:
        key = v.CATEGORY_WORDS.get(v.normalize(value), "")
    if key not in v.CATEGORIES:
        raise ParseError("bad_category", f"category {value[:40]!r}; known: {', '.join(v.CATEGORIES)}")
    return key, v.CATEGORIES[key]


def _stage(msg: Message, category: str) -> str | None:
    if category != "missile":
        return None
    given = msg.get("stage")
    if given is not None:
        key = v.lookup_key(given)
        if key in v.STAGES:
            return key
        stage = v.STAGE_WORDS.get(v.normalize(given))
        if stage is None:
            raise ParseError("bad_stage", f"stage {given[:40]!r}; known: {', '.join(v.STAGES)}")
        return stage
    clues = " ".join(t for t in (msg.get("title"), msg.get("text")) if t)
    return next((stage for word, stage in v.STAGE_CLUES if word in clues), None)


def government_text(stage: str, *, time: str | None, place: str | None, launcher: str | None) -> tuple[str, bool]:
    """The template of a stage with its blanks filled; False when the blank sentence was left out."""
    lead, blank, tail = v.GOVERNMENT_TEXTS[stage]
    lead = lead.format(launcher=launcher or v.DEFAULT_LAUNCHER)
    if blank is None:
        return lead + tail, True
    if time and place:
        return lead + blank.format(time=time, place=place) + tail, True
    return lead + tail, False


def _references(msg: Message, identifier: str, sent: datetime) -> tuple[str, ...]:
    """CAP triples of the messages referred to: `references`, else the event's first message.

    The sender's time of an earlier message is not in this one (unless written `id@time`); the
    message's own time stands in. Consumers match references by identifier, events by key.
    """
    out: list[str] = []
    for item in msg.items("references"):
        text = item if isinstance(item, str) else item.get("name", "")
        ref, _, at = text.partition("@")
        ref_id = f"{v.ORIGIN}-{_identifier(ref, 'reference')}"
        ref_sent = parse_time(at, "reference time") if at else sent
        if ref_id != identifier:
            out.append(f"{v.SENDER},{ref_id},{cap_datetime(ref_sent)}")
    event = msg.get("event")
    if not out and event is not None and f"{v.ORIGIN}-{event}" != identifier:
        out.append(f"{v.SENDER},{v.ORIGIN}-{event},{cap_datetime(sent)}")
    return tuple(out)


def _msg_type(msg: Message, references: tuple[str, ...]) -> MsgType:
    given = msg.get("msgtype")
    if given is None:
        return MsgType.UPDATE if references else MsgType.ALERT
    msg_type = _word(v.MSG_TYPE_WORDS, given, "bad_msgtype", "msgtype")
    if msg_type is not MsgType.ALERT and not references:
        raise ParseError(f"{msg_type.value.lower()}_without_reference", "name the earlier message: event or references")
    return msg_type


def build_alert(msg: Message, *, tenant: str | None, received: datetime | None) -> Alert:
    identifier = f"{v.ORIGIN}-{_identifier(_required(msg, 'id'), 'id')}"
    event = _identifier(msg.get("event") or identifier.removeprefix(f"{v.ORIGIN}-"), "event")
    sent = parse_time(_required(msg, "sent"), "sent")
    status = _word(v.STATUS_WORDS, _required(msg, "status"), "bad_status", "status")
    category, about = _category(msg)
    references = _references(msg, identifier, sent)
    msg_type = _msg_type(msg, references)
    stage = _stage(msg, category)
    notes: list[str] = []
    places = resolve_all(msg.items("areas"))
    unknown = [p.name for p in places if p.code is None]
    if unknown:
        notes.append(f"地域名を特定できませんでした: {'、'.join(unknown)}")
    if not any(p.code for p in places) and tenant is None:
        # A shared receiver's message reaches tenants by area; without one it would reach nobody.
        raise ParseError("no_known_area", f"areas {[p.name for p in places]!r} name no known prefecture or municipality")
    text = msg.get("text")
    if text is None and stage is not None:
        place = msg.get("place") or _first_name(places)
        time = clock_text(msg.get("time") or "")
        text, complete = government_text(stage, time=time, place=place, launcher=msg.get("launcher"))
        if not complete:
            notes.append("時刻または場所がないため、定型文の該当部分を省略しました")
    if text is None and msg.get("title") is None and msg_type is not MsgType.CANCEL:
        raise ParseError("missing_text", "neither text, title nor a missile stage")
    if msg.unknown:
        notes.append(f"未対応の項目を無視しました: {', '.join(msg.unknown)}")
    if msg.get("note"):
        notes.insert(0, msg.get("note") or "")
    info = _info(msg, about, category, stage, msg_type, text, places)
    return Alert(
        identifier=identifier,
        sender=v.SENDER,
        sent=sent,
        status=status,
        msg_type=msg_type,
        references=references,
        note="\n".join(notes) or None,
        source=v.SOURCE_NAME,
        info=(info,),
        tenant=tenant,
        event_key=f"{v.ORIGIN}|{event}",
        origin=v.ORIGIN,
        received=received,
    )


def _via(msg: Message) -> str:
    """How the message left the receiver: mail, contact, or a file or script (message)."""
    via = v.lookup_key(msg.get("via") or "message")
    if via not in v.VIAS:
        raise ParseError("bad_field", f"via {via[:40]!r}; known: {', '.join(v.VIAS)}")
    return via


def _first_name(places: list[Place]) -> str | None:
    return places[0].name if places else None


def _info(
    msg: Message,
    about: v.CategoryInfo,
    category: str,
    stage: str | None,
    msg_type: MsgType,
    text: str | None,
    places: list[Place],
) -> Info:
    title = msg.get("title")
    headline = title or (v.STAGE_HEADLINES[stage] if stage else about.event)
    urgency, severity, certainty = about.urgency, about.severity, about.certainty
    response = v.STAGE_RESPONSES[stage] if stage else about.response
    if category == "tsunami":
        severity = next((s for word, s in v.TSUNAMI_GRADES if word in (title or "")), severity)
    if msg_type is MsgType.CANCEL:
        headline = f"{headline}（取消）"
        text = text or "先ほどの情報を取り消します。"
        urgency, severity, certainty, response = Urgency.PAST, Severity.MINOR, Certainty.OBSERVED, (ResponseType.ALL_CLEAR,)
    codes = [NamedValue(value_name=KIND, value=about.kind.value), NamedValue(value_name=v.CATEGORY_CODE, value=category)]
    params = [NamedValue(value_name="jalert:id", value=_required(msg, "id"))]
    if stage is not None:
        codes.append(NamedValue(value_name=v.STAGE_CODE, value=stage))
        params.append(NamedValue(value_name=v.MISSILE_STAGE_PARAM, value=stage))
    for name in ("event", "time", "place", "receiver", "rule", "info_number"):
        value = msg.get(name)
        if value is not None:
            params.append(NamedValue(value_name=f"jalert:{name}", value=value))
    # Not the authority's identity (docs/architecture.md, *One alert per real change*): the same
    # change from the receiver's mail, its contact output and JMA's feed becomes one alert.
    params.append(NamedValue(value_name=RELAY, value=f"{v.ORIGIN}/{_via(msg)}"))
    expires = msg.get("expires")
    return Info(
        language="ja-JP",
        category=(about.cap,),
        event=title if category in ("tsunami", "special_warning", "volcano", "other") and title else about.event,
        response_type=response,
        urgency=urgency,
        severity=severity,
        certainty=certainty,
        event_code=tuple(codes),
        expires=parse_time(expires, "expires") if expires else None,
        sender_name=f"{about.authority}（Jアラート）",
        headline=headline,
        description=text,
        parameter=tuple(params),
        area=tuple(p.to_area() for p in places),
    )
