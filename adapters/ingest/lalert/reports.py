"""The smaller bodies: 被害情報, 災害対策本部設置状況, 緊急速報メール, and free-text information.

They name no places of their own (the document's headline areas apply) and carry figures or text.
"""

from __future__ import annotations

from lxml import etree

from adapters.ingest.lalert import vocabulary as v
from adapters.ingest.lalert.facts import BodyFacts, count, disaster_name
from adapters.ingest.lalert.namespaces import attr, child, child_text, children, local, text
from broadcaster.model import Category, Certainty, ResponseType, Severity, Urgency

# (group element, item element, type attribute) of the FDMA damage report form (消防庁様式).
_DAMAGE_GROUPS = (
    ("HumanDamages", "HumanDamage", "humanDamageType"),
    ("HouseDamages", "HouseDamage", "houseDamageType"),
    ("BuildingDamages", "BuildingDamage", "buildingDamageType"),
    ("OtherDamages", "OtherDamage", "otherDamageType"),
)
# Free-text bodies are summarized from their leaves; this keeps a hostile document from
# turning into a megabyte description.
_MAX_FREE_TEXT = 4000


def read_damage(body: etree._Element) -> BodyFacts:
    facts = BodyFacts(
        event=v.CATEGORY_EVENTS["DamageInformation"], urgency=Urgency.PAST, certainty=Certainty.OBSERVED
    )
    facts.param(v.P_DISASTER, disaster_name(body))
    for group, item, type_attr in _DAMAGE_GROUPS:
        listed = child(body, group)
        for el in children(listed, item) if listed is not None else ():
            kind, unit, figure = attr(el, type_attr), attr(el, "counterUnit"), count(text(el))
            if kind is None or figure is None:
                continue
            facts.param(f"lalert:damage.{kind}" + (f".{unit}" if unit else ""), figure)
            facts.summary.append(f"{kind} {figure}{unit or ''}")
    complementary = child_text(body, "ComplementaryInfo")
    if complementary:
        facts.summary.append(complementary)
    return facts


def read_headquarters(body: etree._Element) -> BodyFacts:
    kind = child_text(body, "Type") or "災害対策本部"
    state = child_text(body, "Status")
    facts = BodyFacts(
        event=f"{kind}{state}" if state else v.CATEGORY_EVENTS["AntidisasterHeadquarter"],
        severity=Severity.MINOR,
        certainty=Certainty.OBSERVED,
    )
    facts.param(v.P_DISASTER, disaster_name(body))
    facts.param("lalert:headquarters.type", kind)
    facts.param("lalert:headquarters.status", state)
    facts.param("lalert:headquarters.dateTime", child_text(body, "DateTime"))
    if state and ("解散" in state or "廃止" in state):
        facts.response = (ResponseType.ALL_CLEAR,)
    facts.summary.append(f"{kind} {state or ''}".strip())
    return facts


def read_urgent_mail(body: etree._Element) -> BodyFacts:
    info = child(body, "Information")
    return BodyFacts(
        event=v.CATEGORY_EVENTS["UrgentMail"],
        urgency=Urgency.IMMEDIATE,
        severity=Severity.SEVERE,
        certainty=Certainty.LIKELY,
        headline=child_text(info, "Title"),
        description=child_text(info, "Message"),
    )


def read_free_text(body: etree._Element | None, category: str | None) -> BodyFacts:
    """Event, GeneralInformation and categories this parser does not know: text only."""
    facts = BodyFacts(
        event=v.CATEGORY_EVENTS.get(category or "", category or "Lアラート情報"),
        severity=Severity.MINOR,
        certainty=Certainty.OBSERVED,
        category=(Category.OTHER,),
    )
    if body is None:
        return facts
    facts.param(v.P_DISASTER, disaster_name(body))
    size = 0
    for el in body.iter():
        if not isinstance(el.tag, str) or len(el) or local(el) == "DisasterName":
            continue
        value = text(el)
        if value is None or value in facts.summary:
            continue
        size += len(value)
        if size > _MAX_FREE_TEXT:
            break
        facts.summary.append(value)
    return facts
