"""Control and Head: what every JMA telegram carries, whatever its type."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from adapters.ingest.jma.xmltools import (
    NS_REPORT,
    Element,
    first,
    local,
    namespace,
    text,
)
from broadcaster.errors import ParseError
from broadcaster.model import MsgType, Status

STATUS = {"通常": Status.ACTUAL, "訓練": Status.EXERCISE, "試験": Status.TEST}
INFO_TYPE = {"発表": MsgType.ALERT, "訂正": MsgType.UPDATE, "取消": MsgType.CANCEL}

# JMA never dates a telegram ahead (辞書: 「未来時刻にはならない」) beyond rounding to the minute, so
# a ReportDateTime well ahead of reception is corruption or forgery; it would also outrank every
# later real telegram of the same event. The tolerance is wider than the 9 hours by which a
# server that mistakes JST for UTC would be off, so that such a clock fault cannot silence warnings.
FUTURE_TOLERANCE = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class Envelope:
    title: str  # Control/Title: what kind of telegram this is
    status: Status
    editorial_office: str
    publishing_office: str
    control_datetime: datetime  # when this very transmission was made
    head_title: str
    report_datetime: datetime  # 発表時刻, CAP sent
    target_datetime: datetime | None
    # Head/ValidDateTime: until when the information holds (竜巻注意情報, 津波予報, 海上警報…).
    valid_datetime: datetime | None
    event_id: str
    info_type: str  # 発表 / 訂正 / 取消 as written
    msg_type: MsgType
    serial: str
    info_kind: str
    info_kind_version: str
    headline_text: str
    headline: Element | None
    body: Element | None
    body_ns: str


def _datetime(value: str, field: str) -> datetime:
    try:
        dt = datetime.fromisoformat(value)
    except ValueError as e:
        raise ParseError("bad_datetime", f"{field}: {value[:40]!r}") from e
    if dt.tzinfo is None:
        raise ParseError("bad_datetime", f"{field} has no offset: {value[:40]!r}")
    return dt


def _required(el: Element | None, *names: str) -> str:
    value = text(el, *names)
    if not value:
        raise ParseError("missing_field", "/".join(names))
    return value


def _optional_datetime(head: Element | None, tag: str) -> datetime | None:
    value = text(head, tag)
    try:
        return _datetime(value, f"Head/{tag}") if value else None
    except ParseError:
        # A secondary time that does not parse must not cost a warning its delivery.
        return None


def read_envelope(root: Element, *, received: datetime) -> Envelope:
    if local(root) != "Report" or namespace(root) != NS_REPORT:
        raise ParseError("not_jma", f"root element {str(root.tag)[:120]}")
    control = first(root, "Control")
    head = first(root, "Head")
    if control is None:
        raise ParseError("missing_field", "Control")
    if head is None:
        raise ParseError("missing_field", "Head")

    status_text = _required(control, "Status")
    status = STATUS.get(status_text)
    if status is None:
        raise ParseError("unknown_status", status_text[:40])
    info_type = _required(head, "InfoType")
    msg_type = INFO_TYPE.get(info_type)
    if msg_type is None:
        raise ParseError("unknown_info_type", info_type[:40])

    report_dt = _datetime(_required(head, "ReportDateTime"), "Head/ReportDateTime")
    if report_dt - received > FUTURE_TOLERANCE:
        raise ParseError(
            "future_timestamp", f"ReportDateTime {report_dt.isoformat()} is after {received.isoformat()}"
        )
    target = text(head, "TargetDateTime")
    try:
        target_dt = _datetime(target, "Head/TargetDateTime") if target else None
    except ParseError:
        # A secondary time that does not parse must not cost a warning its delivery.
        target_dt = None
    body = first(root, "Body")
    editorial = _required(control, "EditorialOffice")
    return Envelope(
        title=_required(control, "Title"),
        status=status,
        editorial_office=editorial,
        publishing_office=text(control, "PublishingOffice") or editorial,
        control_datetime=_datetime(_required(control, "DateTime"), "Control/DateTime"),
        head_title=text(head, "Title"),
        report_datetime=report_dt,
        target_datetime=target_dt,
        valid_datetime=_optional_datetime(head, "ValidDateTime"),
        event_id=text(head, "EventID"),
        info_type=info_type,
        msg_type=msg_type,
        serial=text(head, "Serial"),
        info_kind=text(head, "InfoKind"),
        info_kind_version=text(head, "InfoKindVersion"),
        headline_text=text(head, "Headline", "Text"),
        headline=first(head, "Headline"),
        body=body,
        body_ns=namespace(body) if body is not None else "",
    )
