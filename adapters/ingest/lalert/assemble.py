"""One commons document (with its distribution header) as one Alert."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from pydantic import ValidationError

from adapters.ingest.lalert import identity
from adapters.ingest.lalert import vocabulary as v
from adapters.ingest.lalert.areas import Place, jis_code, to_area
from adapters.ingest.lalert.document import Document
from adapters.ingest.lalert.envelope import Distribution
from adapters.ingest.lalert.evacuation import read_evacuation
from adapters.ingest.lalert.facts import BodyFacts, Context
from adapters.ingest.lalert.namespaces import local
from adapters.ingest.lalert.reports import read_damage, read_free_text, read_headquarters, read_urgent_mail
from adapters.ingest.lalert.shelter import read_shelter
from broadcaster.errors import ParseError
from broadcaster.model import (
    JST,
    KIND,
    Alert,
    Area,
    Certainty,
    Info,
    Kind,
    MsgType,
    NamedValue,
    Severity,
    Status,
    Urgency,
)

_Grade = TypeVar("_Grade", Urgency, Severity, Certainty)

# A document with no revision at all is its first edition; the commons numbers editions from 1.
FIRST_REVISION = 1


def parse_time(value: str | None) -> datetime | None:
    """ISO 8601 as the commons writes it; None for a missing or unreadable optional time.

    A time without an offset is Japan time: that is what every sender means by it.
    """
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=JST)


def _sent(value: str | None) -> datetime:
    if value is None:
        raise ParseError("missing_sent", "no dateTimeSent, CreateDateTime or ReportDateTime")
    sent = parse_time(value)
    if sent is None:
        raise ParseError("bad_datetime", f"dateTimeSent {value[:40]!r}")
    return sent


def _status_word(value: str | None) -> Status | None:
    if value is None:
        return None
    status = v.STATUS_WORDS.get(v.normalize(value).casefold())
    if status is None:
        raise ParseError("bad_status", f"distributionStatus {value[:40]!r}")
    return status


def _is_cancel_word(value: str | None) -> bool:
    return value is not None and v.normalize(value) in v.CANCEL_WORDS


def _status(dist: Distribution, doc: Document, notes: list[str]) -> tuple[Status, bool]:
    """The status, and whether a status field said 取消 instead of giving one."""
    raw = (dist.status, doc.control_status)
    cancelled = any(_is_cancel_word(r) for r in raw)
    outer, inner = (None if _is_cancel_word(r) else _status_word(r) for r in raw)
    if outer is None and inner is None:
        if not cancelled:
            raise ParseError("missing_status", "neither the distribution nor the Control part gives a status")
        # A withdrawal carries no instruction of its own; without a status it withdraws for real.
        notes.append("status given only as 取消")
        return Status.ACTUAL, True
    if outer is not None and inner is not None and outer != inner:
        # A drill must never be taken for the real thing: whichever part says it is not Actual wins.
        notes.append(f"distributionStatus {outer} in the envelope, {inner} in Control")
        return (outer if outer is not Status.ACTUAL else inner), cancelled
    return outer or inner or Status.ACTUAL, cancelled


def _declared_type(dist: Distribution, doc: Document) -> MsgType | None:
    if _is_cancel_word(doc.info_type):
        return MsgType.CANCEL
    value = dist.type or doc.head_type
    if value is None:
        return None
    declared = v.DISTRIBUTION_TYPES.get(v.normalize(value).casefold())
    if declared is None:
        raise ParseError("bad_distribution_type", f"distributionType {value[:40]!r}")
    return declared


def _sender(dist: Distribution, doc: Document, municipality: str | None) -> str:
    for candidate in (
        dist.sender_id,
        doc.editorial.domain if doc.editorial else None,
        doc.publishing.domain if doc.publishing else None,
    ):
        if candidate and candidate.strip("\"' "):
            return identity.ascii_token(candidate)
    return f"jisx0402:{municipality}" if municipality else v.ORIGIN


def _municipality(dist: Distribution, doc: Document) -> str | None:
    places = ([dist.target] if dist.target else []) + list(doc.headline_areas)
    for place in places:
        if place.municipality:
            return place.municipality
    # The deciding office of a municipality is identified by the municipality's own code.
    return jis_code(doc.editorial.code) if doc.editorial else None


def _municipality_name(dist: Distribution, doc: Document) -> str | None:
    if dist.target is not None and dist.target.name:
        return dist.target.name
    if doc.editorial is not None and doc.editorial.organization_name:
        return doc.editorial.organization_name
    # Senders title documents "<municipality>: <category>" (加古川市: 避難勧告・指示情報 発令).
    if doc.title:
        head, sep, _ = doc.title.replace("：", ":").partition(":")
        if sep and head.strip():
            return head.strip()
    return None


def _document_areas(dist: Distribution, doc: Document, municipality: str | None) -> tuple[Area, ...]:
    """The headline's areas, else the target area: the whole municipality, not districts."""
    places: list[Place] = list(doc.headline_areas) or ([dist.target] if dist.target else [])
    out: list[Area] = []
    for place in places:
        own_code = place.municipality or municipality
        name = place.name
        if name is None and own_code is not None and own_code == municipality:
            name = _municipality_name(dist, doc)
        area = to_area(place, name=name, municipality=municipality)
        if area is not None and all(a.area_desc != area.area_desc for a in out):
            out.append(area)
    return tuple(out)


def _category(doc: Document) -> str | None:
    if doc.category:
        return doc.category
    return local(doc.body) if doc.body is not None else None


def _read_body(category: str | None, doc: Document, ctx: Context) -> BodyFacts:
    body = doc.body
    if category == "EvacuationOrder":
        return (
            read_evacuation(body, ctx) if body is not None else BodyFacts(event=v.CATEGORY_EVENTS[category])
        )
    if category == "Shelter":
        return read_shelter(body, ctx) if body is not None else BodyFacts(event=v.CATEGORY_EVENTS[category])
    if category == "DamageInformation" and body is not None:
        return read_damage(body)
    if category == "AntidisasterHeadquarter" and body is not None:
        return read_headquarters(body)
    if category == "UrgentMail" and body is not None:
        return read_urgent_mail(body)
    return read_free_text(body, category)


def _cap_value(kind: type[_Grade], value: str | None, fallback: _Grade) -> _Grade:
    # The commons trailer may carry the sender's own CAP-style grading; it wins when it is valid.
    if value is None:
        return fallback
    try:
        return kind(value.strip().capitalize())
    except ValueError:
        return fallback


def _description(own: str | None, headline: str | None, lines: list[str], reason: str | None) -> str | None:
    """The body's own text, the headline text, one line per order or shelter, then the reason."""
    seen: list[str] = []
    for part in (own, headline, *lines, reason):
        if part and part not in seen:
            seen.append(part)
    return "\n".join(seen) or None


def _place_in_chain(
    declared: MsgType | None, revision: int, previous_revision: int | None, notes: list[str]
) -> tuple[MsgType, int]:
    """The message type, and the revision this one follows (meaningful for Update and Cancel).

    The revision numbers decide, not the declared type: editions count from 1, so a later
    revision updates the one before it, and a previousDocumentRevision of 0 (or one not below
    this revision) names no earlier edition. Only a withdrawal must be declared as Cancel.
    """
    previous = previous_revision if previous_revision is not None else revision - 1
    has_previous = FIRST_REVISION <= previous < revision
    if declared is MsgType.CANCEL:
        if not has_previous:
            raise ParseError("cancel_without_previous", f"Cancel at revision {revision} names no earlier one")
        return MsgType.CANCEL, previous
    if has_previous:
        return MsgType.UPDATE, previous
    if declared is MsgType.UPDATE:
        notes.append(f"distributionType Update at revision {revision} without an earlier revision")
    return MsgType.ALERT, previous


def build_alert(dist: Distribution, doc: Document, *, tenant: str | None, received: datetime | None) -> Alert:
    document_id = doc.document_id or dist.distribution_id
    if document_id is None:
        raise ParseError("missing_document_id", "neither commons:documentID nor edxlde:distributionID")
    revision = doc.revision if doc.revision is not None else FIRST_REVISION
    notes: list[str] = []
    status, cancelled = _status(dist, doc, notes)
    sent = _sent(dist.sent or doc.created or doc.reported)

    declared = MsgType.CANCEL if cancelled else _declared_type(dist, doc)
    msg_type, previous = _place_in_chain(declared, revision, doc.previous_revision, notes)
    municipality = _municipality(dist, doc)
    sender = _sender(dist, doc, municipality)
    references: tuple[str, ...] = ()
    if msg_type is not MsgType.ALERT:
        # The previous edition's own send time is not in this document. FirstCreateDateTime is
        # exact when the previous edition is the first, and a lower bound otherwise.
        first = parse_time(doc.first_created)
        prev_sent = first if first is not None and first <= sent else sent
        references = (identity.reference(sender, document_id, previous, prev_sent),)
    if doc.errata:
        notes.insert(0, doc.errata)

    category = _category(doc)
    kind = v.CATEGORY_KINDS.get(category or "", Kind.OTHER)
    facts = _read_body(category, doc, Context(municipality=municipality))
    event_code = [NamedValue(value_name=KIND, value=kind.value)]
    if category:
        event_code.append(NamedValue(value_name=v.CATEGORY_CODE, value=category))
    parameters = [
        NamedValue(value_name=v.P_DOCUMENT_ID, value=document_id),
        NamedValue(value_name=v.P_REVISION, value=str(revision)),
        *facts.parameters,
    ]
    editorial = doc.editorial
    try:
        info = Info(
            language=dist.language or "ja-JP",
            category=facts.category,
            event=facts.event,
            response_type=facts.response,
            urgency=_cap_value(Urgency, doc.urgency, facts.urgency),
            severity=_cap_value(Severity, doc.severity, facts.severity),
            certainty=_cap_value(Certainty, doc.certainty, facts.certainty),
            event_code=tuple(event_code),
            effective=parse_time(doc.reported),
            expires=parse_time(doc.valid_until),
            sender_name=(editorial.organization_name or editorial.office_name if editorial else None)
            or doc.publishing_office_name
            or (dist.target.name if dist.target else None),
            # contentDescription names the order and districts; the Head title only the category.
            headline=facts.headline or doc.description or doc.title,
            description=_description(facts.description, doc.headline, facts.summary, doc.incident),
            contact=editorial.phone if editorial else None,
            parameter=tuple(parameters),
            area=facts.areas if facts.areas is not None else _document_areas(dist, doc, municipality),
        )
        return Alert(
            identifier=identity.identifier(document_id, revision),
            sender=sender,
            sent=sent,
            status=status,
            msg_type=msg_type,
            source=doc.publishing_office_name,
            references=references,
            note="\n".join(notes) or None,
            info=(info,),
            tenant=tenant,
            event_key=identity.event_key(document_id),
            origin=v.ORIGIN,
            received=received,
        )
    except ValidationError as e:
        raise ParseError("invalid_alert", str(e).replace("\n", " ")[:300]) from e
