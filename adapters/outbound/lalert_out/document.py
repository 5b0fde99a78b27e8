"""A town's own alert as a commons document in its EDXL-DE wrapper. Pure: no I/O, no clock.

Identity: all revisions of one event share a document id derived from the tenant and event key, so
an update or cancel replaces the earlier edition at the commons; the distribution id is the
document id plus the revision, so a retried send is recognisably the same message.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from adapters.ingest.lalert import vocabulary as v
from adapters.ingest.lalert.namespaces import COMMONS, EDXL_DE, PCX_EB, PCX_EV, PCX_IB, PCX_SH, PCXML
from adapters.outbound.lalert_out import bodies
from adapters.outbound.lalert_out.bodies import sub
from adapters.outbound.lalert_out.publisher import PublisherInfo
from broadcaster.errors import PermanentError
from broadcaster.model import JST, KIND, Alert, Kind, MsgType, Status, cap_datetime

# Fixed forever: changing it would give every live event a new document id at the commons.
_DOCUMENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:broadcaster:lalert_out:document")

_CATEGORIES: dict[Kind, str] = {Kind.EVACUATION: "EvacuationOrder", Kind.SHELTER: "Shelter"}
_STATUSES: dict[Status, str] = {
    Status.ACTUAL: "Actual",
    Status.EXERCISE: "Exercise",
    Status.TEST: "Test",
    Status.SYSTEM: "System",
}
_NSMAP = {
    "edxlde": EDXL_DE,
    "commons": COMMONS,
    "pcx_ib": PCX_IB,
    "pcx_eb": PCX_EB,
    "pcx_ev": PCX_EV,
    "pcx_sh": PCX_SH,
}


@dataclass(frozen=True)
class Built:
    element: etree._Element
    document_id: str
    revision: int
    distribution_type: str


def document_id(alert: Alert, publisher: PublisherInfo) -> str:
    key = f"{alert.tenant or ''}|{alert.event_key}"
    return f"{publisher.sender}-{uuid.uuid5(_DOCUMENT_NAMESPACE, key)}"


def _time(dt: datetime) -> str:
    return cap_datetime(dt.astimezone(JST))


def _first_sent(alert: Alert) -> datetime:
    """When the first edition went out: the earliest referenced message, else this one."""
    times = []
    for ref in alert.references:
        parts = ref.split(",")
        if len(parts) == 3:
            try:
                times.append(datetime.fromisoformat(parts[2]))
            except ValueError:
                continue
    aware = [t for t in times if t.tzinfo is not None]
    return min(aware, default=alert.sent)


def _category(alert: Alert) -> str:
    if not alert.info:
        raise PermanentError(f"alert {alert.identifier} has no info block to publish")
    kinds = alert.primary.event_codes(KIND)
    try:
        category = _CATEGORIES.get(Kind(kinds[0])) if kinds else None
    except ValueError:
        category = None
    if category is None:
        raise PermanentError(
            f"L-Alert publishing takes evacuation orders and shelters, not {kinds or 'no kind'}"
        )
    return category


def _office(parent: etree._Element, ns: str, name: str, publisher: PublisherInfo) -> None:
    office = sub(parent, ns, name)
    sub(office, PCX_EB, "OrganizationCode", publisher.organization_code)
    if publisher.phone:
        sub(office, PCX_EB, "ContactInfo", publisher.phone).set(f"{{{PCX_EB}}}contactType", "phone")
    sub(office, PCX_EB, "OfficeName", publisher.office_name)
    sub(office, PCX_EB, "OfficeDomainName", publisher.domain)
    sub(office, PCX_EB, "OrganizationName", publisher.organization_name)


def build_element(
    alert: Alert, *, revision: int, publisher: PublisherInfo, headline_text: str | None = None
) -> Built:
    if revision < 1:
        raise ValueError(f"revision {revision}: the commons numbers editions from 1")
    if alert.msg_type is MsgType.CANCEL and revision < 2:
        raise ValueError("a cancel is a later revision of a published document: revision must be 2 or more")
    status = _STATUSES.get(alert.status)
    if status is None:
        raise PermanentError(f"status {alert.status} is never published")
    category = _category(alert)
    info = alert.primary
    doc_id = document_id(alert, publisher)
    dist_id = f"{doc_id}-r{revision}"
    # The commons marks every edition after the first as Update, and a withdrawal as Cancel.
    dist_type = "Cancel" if alert.msg_type is MsgType.CANCEL else "Update" if revision > 1 else "Report"
    sent = _time(alert.sent)
    reported = _time(info.effective) if info.effective else sent
    previous = revision - 1 if revision > 1 else None

    root = etree.Element(f"{{{EDXL_DE}}}EDXLDistribution", nsmap=_NSMAP)
    sub(root, EDXL_DE, "distributionID", dist_id)
    sub(root, EDXL_DE, "senderID", publisher.sender)
    sub(root, EDXL_DE, "dateTimeSent", sent)
    sub(root, EDXL_DE, "distributionStatus", status)
    sub(root, EDXL_DE, "distributionType", dist_type)
    sub(root, EDXL_DE, "combinedConfidentiality", "UNCLASSIFIED AND NOT SENSITIVE")
    sub(root, EDXL_DE, "language", info.language)
    target = sub(root, COMMONS, "targetArea")
    sub(target, COMMONS, "areaName", publisher.target_name)
    sub(target, COMMONS, "jisX0402", publisher.organization_code)

    content = sub(root, COMMONS, "contentObject")
    description = sub(content, EDXL_DE, "contentDescription")
    embedded = sub(sub(content, EDXL_DE, "xmlContent"), EDXL_DE, "embeddedXMLContent")
    report = etree.SubElement(embedded, f"{{{PCXML}}}Report", nsmap={None: PCXML})

    control = sub(report, PCXML, "Control")
    sub(control, PCXML, "Title", category)
    sub(control, EDXL_DE, "distributionStatus", status)
    _office(control, PCXML, "EditorialOffice", publisher)
    _office(sub(control, PCXML, "PublishingOffice"), PCX_EB, "OfficeInfo", publisher)
    if alert.msg_type is MsgType.CANCEL or alert.note:
        # 訂正・取消理由: why this edition replaces or withdraws the previous one.
        errata = sub(control, PCXML, "Errata")
        sub(errata, PCX_EB, "Description", alert.note or "取消")
        sub(errata, PCX_EB, "DateTime", sent)

    head = sub(report, PCX_IB, "Head")
    sub(head, PCX_IB, "Title", f"{publisher.organization_name}: {v.CATEGORY_EVENTS[category]}")
    sub(head, PCX_IB, "CreateDateTime", sent)
    sub(head, PCX_IB, "FirstCreateDateTime", _time(_first_sent(alert)))
    sub(head, PCX_IB, "ReportDateTime", reported)
    sub(head, PCX_IB, "TargetDateTime", reported)
    if info.expires:
        sub(head, PCX_IB, "ValidDateTime", _time(info.expires))
    sub(head, EDXL_DE, "distributionID", dist_id)
    sub(head, EDXL_DE, "distributionType", dist_type)
    sub(head, COMMONS, "documentRevision", revision)
    if previous is not None:
        sub(head, COMMONS, "previousDocumentRevision", previous)
    sub(head, COMMONS, "documentID", doc_id)
    headline = sub(head, PCX_IB, "Headline")
    sub(headline, PCX_IB, "Text", headline_text or info.description or info.headline or info.event)
    head_area = sub(sub(headline, PCX_IB, "Areas"), PCX_IB, "Area")
    sub(head_area, COMMONS, "areaName", publisher.target_name)
    sub(head_area, COMMONS, "jisX0402", publisher.organization_code)

    lines: list[str] = []
    try:
        if category == "EvacuationOrder":
            lines = bodies.evacuation(report, info, municipality=publisher.organization_code, since=reported)
        else:
            lines = bodies.shelter(report, info, since=reported)
    except PermanentError:
        # A cancel withdraws the document by id and revision; it needs no body to do so.
        if alert.msg_type is not MsgType.CANCEL:
            raise
    prefix = "取消 " if alert.msg_type is MsgType.CANCEL else ""
    description.text = prefix + (" / ".join(lines) or info.headline or info.event)

    sub(content, COMMONS, "publishingOfficeName", f"{publisher.organization_name}{publisher.office_name}")
    sub(content, COMMONS, "publishingOfficeID", publisher.organization_code)
    sub(content, COMMONS, "publishingOfficeDomainName", publisher.domain)
    if previous is not None:
        sub(content, COMMONS, "previousDocumentRevision", previous)
    sub(content, COMMONS, "documentRevision", revision)
    sub(content, COMMONS, "documentID", doc_id)
    sub(content, COMMONS, "category", category)
    return Built(element=root, document_id=doc_id, revision=revision, distribution_type=dist_type)


def serialize(element: etree._Element) -> bytes:
    return etree.tostring(element, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def build_document(
    alert: Alert, *, revision: int, publisher: PublisherInfo, headline_text: str | None = None
) -> bytes:
    """The commons document for `alert` at `revision`, in its EDXL-DE wrapper, as UTF-8 bytes.

    Takes evacuation orders (and their lifting) and shelter openings/closings, and cancels of
    them. Raises PermanentError for anything the commons cannot carry from a town (another kind,
    a Draft) and ValueError for a revision that cannot be (below 1, or a cancel at 1).
    """
    built = build_element(alert, revision=revision, publisher=publisher, headline_text=headline_text)
    return serialize(built.element)
