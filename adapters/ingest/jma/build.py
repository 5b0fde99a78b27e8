"""Assemble the Alert from the envelope and a family's draft."""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError

from adapters.ingest.jma import identity
from adapters.ingest.jma.draft import TITLE_CODE, Draft
from adapters.ingest.jma.envelope import Envelope
from broadcaster.errors import ParseError
from broadcaster.model import (
    KIND,
    LEVEL,
    Alert,
    Certainty,
    Info,
    MsgType,
    NamedValue,
    ResponseType,
    Severity,
    Urgency,
)

ORIGIN = "jma"
LANGUAGE = "ja-JP"


def _common_params(env: Envelope) -> list[NamedValue]:
    pairs = [
        ("infoType", env.info_type),
        ("infoKind", env.info_kind),
        ("eventId", env.event_id),
        ("serial", env.serial),
        ("editorialOffice", env.editorial_office),
        ("targetDateTime", env.target_datetime.isoformat() if env.target_datetime else ""),
    ]
    if env.msg_type is not MsgType.ALERT:
        pairs.append(("referenceScope", identity.reference_scope(env)))
    return [NamedValue(value_name=n, value=v) for n, v in pairs if v]


def _finish_cancel(draft: Draft) -> None:
    # A 取消 says only that the original no longer holds. Its severity stays the original type's
    # so that rules keyed on severity still route it; the action is over.
    draft.urgency = Urgency.PAST
    draft.certainty = Certainty.OBSERVED
    draft.response = [ResponseType.ALL_CLEAR]


def to_alert(env: Envelope, draft: Draft, *, received: datetime | None) -> Alert:
    if env.msg_type is MsgType.CANCEL:
        _finish_cancel(draft)
    codes = [NamedValue(value_name=KIND, value=draft.kind.value), *draft.codes]
    codes.append(NamedValue(value_name=TITLE_CODE, value=env.title))
    params = list(draft.params)
    if draft.level is not None:
        params.insert(0, NamedValue(value_name=LEVEL, value=str(draft.level)))
    params.extend(_common_params(env))
    description = "\n\n".join(t for t in (env.headline_text, *draft.texts) if t) or None
    try:
        info = Info(
            language=LANGUAGE,
            category=(draft.category,),
            event=draft.event or env.title,
            response_type=tuple(dict.fromkeys(draft.response)),
            urgency=draft.urgency,
            severity=draft.severity if draft.severity else Severity.UNKNOWN,
            certainty=draft.certainty,
            event_code=tuple(codes),
            effective=env.report_datetime,
            onset=draft.onset,
            expires=draft.expires or _valid_until(env),
            sender_name=env.publishing_office,
            headline=env.head_title or env.title,
            description=description,
            instruction=draft.instruction,
            parameter=tuple(params),
            area=tuple(draft.areas),
        )
        return Alert(
            identifier=identity.identifier(env),
            sender=identity.SENDER,
            sent=env.report_datetime,
            status=env.status,
            msg_type=env.msg_type,
            references=identity.references(env),
            info=(info,),
            tenant=None,
            event_key=identity.event_key(env),
            origin=ORIGIN,
            received=received,
        )
    except ValidationError as e:
        raise ParseError("invalid_alert", str(e)[:300]) from e


def _valid_until(env: Envelope) -> datetime | None:
    """Head/ValidDateTime, when it is after the report: a validity that ended before the telegram
    was written (seen in official samples of 海上警報（臨時）) says nothing."""
    valid = env.valid_datetime
    return valid if valid is not None and valid > env.report_datetime else None
