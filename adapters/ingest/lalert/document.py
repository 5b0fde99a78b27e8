"""One commons document: the content object's trailer and the Report's Control and Head parts.

Identity (document id, revision) is written twice, in the Head and in the content object's
trailer; both are read and must agree. The body (EvacuationOrder, Shelter, ...) is handed on as an
element for bodies/*.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from adapters.ingest.lalert.areas import Place, read_place
from adapters.ingest.lalert.namespaces import (
    COMMONS,
    EDXL_DE,
    attr,
    child,
    child_text,
    children,
    in_commons_family,
    local,
    namespace,
    text,
)
from broadcaster.errors import ParseError

_NOT_BODY = frozenset({"Control", "Head"})


@dataclass(frozen=True)
class Office:
    code: str | None
    office_name: str | None
    organization_name: str | None
    phone: str | None
    domain: str | None


@dataclass(frozen=True)
class Document:
    category: str | None
    document_id: str | None
    revision: int | None
    previous_revision: int | None
    description: str | None  # edxlde:contentDescription
    incident: str | None  # edxlde:incidentDescription: why it was issued
    control_status: str | None
    editorial: Office | None  # the municipality that decided (発令機関)
    publishing: Office | None  # who sent it into the commons
    publishing_office_name: str | None
    errata: str | None
    title: str | None
    created: str | None
    first_created: str | None
    reported: str | None
    target_time: str | None
    valid_until: str | None
    head_type: str | None
    info_type: str | None  # 発表 / 訂正 / 取消, where a sender writes it the JMA way
    headline: str | None
    headline_areas: tuple[Place, ...]
    urgency: str | None
    severity: str | None
    certainty: str | None
    body: etree._Element | None


def _revision(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        rev = int(value)
    except ValueError as e:
        raise ParseError("bad_revision", f"revision {value[:40]!r} is not a number") from e
    if rev < 0:
        raise ParseError("bad_revision", f"negative revision {rev}")
    return rev


def _agree(name: str, trailer: str | None, head: str | None) -> str | None:
    if trailer is not None and head is not None and trailer != head:
        reason = "document_id_conflict" if name == "documentID" else "revision_conflict"
        raise ParseError(reason, f"{name}: trailer {trailer[:60]!r}, head {head[:60]!r}")
    return trailer if trailer is not None else head


def _office(el: etree._Element | None) -> Office | None:
    if el is None:
        return None
    phone = next((c for c in children(el, "ContactInfo") if attr(c, "contactType") == "phone"), None)
    return Office(
        code=child_text(el, "OrganizationCode"),
        office_name=child_text(el, "OfficeName"),
        organization_name=child_text(el, "OrganizationName"),
        phone=text(phone),
        domain=child_text(el, "OfficeDomainName"),
    )


def _report(content: etree._Element) -> etree._Element:
    embedded = child(child(content, "xmlContent", EDXL_DE), "embeddedXMLContent", EDXL_DE)
    if embedded is None:
        raise ParseError("no_report", "content object without xmlContent/embeddedXMLContent")
    report = next((c for c in embedded.iterchildren() if isinstance(c.tag, str)), None)
    if report is None or local(report) != "Report":
        raise ParseError("no_report", "embeddedXMLContent holds no Report")
    if not in_commons_family(report):
        raise ParseError("wrong_namespace", f"Report in {namespace(report)!r}")
    return report


def read_document(content: etree._Element) -> Document:
    report = _report(content)
    control = child(report, "Control")
    head = child(report, "Head")
    headline = child(head, "Headline")
    areas = child(headline, "Areas")
    body = next(
        (
            c
            for c in report.iterchildren()
            if isinstance(c.tag, str) and in_commons_family(c) and local(c) not in _NOT_BODY
        ),
        None,
    )
    publishing = child(control, "PublishingOffice")
    errata = child(control, "Errata")
    category = child_text(content, "category", COMMONS) or child_text(control, "Title")
    document_id = _agree(
        "documentID", child_text(content, "documentID", COMMONS), child_text(head, "documentID", COMMONS)
    )
    revision = _agree(
        "documentRevision",
        child_text(content, "documentRevision", COMMONS),
        child_text(head, "documentRevision", COMMONS),
    )
    previous = child_text(content, "previousDocumentRevision", COMMONS) or child_text(
        head, "previousDocumentRevision", COMMONS
    )
    return Document(
        category=category,
        document_id=document_id,
        revision=_revision(revision),
        previous_revision=_revision(previous),
        description=child_text(content, "contentDescription", EDXL_DE),
        incident=child_text(content, "incidentDescription", EDXL_DE),
        control_status=child_text(control, "distributionStatus", EDXL_DE),
        editorial=_office(child(control, "EditorialOffice")),
        publishing=_office(child(publishing, "OfficeInfo")) if publishing is not None else None,
        publishing_office_name=child_text(content, "publishingOfficeName", COMMONS),
        errata=child_text(errata, "Description"),
        title=child_text(head, "Title"),
        created=child_text(head, "CreateDateTime"),
        first_created=child_text(head, "FirstCreateDateTime"),
        reported=child_text(head, "ReportDateTime"),
        target_time=child_text(head, "TargetDateTime"),
        valid_until=child_text(head, "ValidDateTime"),
        head_type=child_text(head, "distributionType", EDXL_DE),
        info_type=child_text(head, "InfoType"),
        headline=child_text(headline, "Text"),
        headline_areas=tuple(read_place(a) for a in children(areas, "Area")) if areas is not None else (),
        urgency=child_text(content, "urgency", COMMONS),
        severity=child_text(content, "severity", COMMONS),
        certainty=child_text(content, "certainty", COMMONS),
        body=body,
    )
