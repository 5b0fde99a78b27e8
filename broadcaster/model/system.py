"""System alerts: what the broadcaster itself tells a town's duty officers.

A delivery that failed, a feed gone silent, a resident who pressed 1 for help, a circular nobody
confirmed, a cancel one officer sent alone: each is an Alert of status System and kind `system`
that the rules route to the officers (rules/*/00-system.yaml). They are built here so that they
all carry the same sender, origin and event-key shape: `system|<tenant>|<topic>`, so that the
notices of one topic (one channel's failures, one feed) follow each other in order on the bus.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from broadcaster.model.alert import (
    Alert,
    Category,
    Certainty,
    Info,
    MsgType,
    NamedValue,
    ResponseType,
    Severity,
    Status,
    Urgency,
)
from broadcaster.model.kinds import KIND, Kind
from broadcaster.model.timeutil import now

SYSTEM_ORIGIN = "broadcaster"


def system_sender(tenant: str) -> str:
    return f"{tenant}@broadcaster"


def system_event_key(tenant: str, topic: str) -> str:
    return f"system|{tenant}|{topic}"


def system_alert(
    *,
    tenant: str,
    identifier: str,
    topic: str,
    event: str,
    headline: str,
    category: Category,
    severity: Severity,
    description: str | None = None,
    instruction: str | None = None,
    parameters: Sequence[tuple[str, str]] = (),
    urgency: Urgency = Urgency.IMMEDIATE,
    response_type: Sequence[ResponseType] = (),
    msg_type: MsgType = MsgType.ALERT,
    references: Sequence[str] = (),
    at: datetime | None = None,
) -> Alert:
    """One System alert for `tenant`'s officers; `topic` names what it is about (`delivery|line`,
    `feed|jma`) and so its event key. `identifier` must be derived from what it reports, so that
    raising it again (a retry, a redelivery) records it once."""
    sent = at or now()
    return Alert(
        identifier=identifier,
        sender=system_sender(tenant),
        sent=sent,
        status=Status.SYSTEM,
        msg_type=msg_type,
        references=tuple(references),
        info=(
            Info(
                category=(category,),
                event=event,
                response_type=tuple(response_type),
                urgency=urgency,
                severity=severity,
                certainty=Certainty.OBSERVED,
                event_code=(NamedValue(value_name=KIND, value=Kind.SYSTEM.value),),
                headline=headline,
                description=description,
                instruction=instruction,
                parameter=tuple(NamedValue(value_name=k, value=v) for k, v in parameters),
            ),
        ),
        tenant=tenant,
        event_key=system_event_key(tenant, topic),
        origin=SYSTEM_ORIGIN,
        received=sent,
    )
