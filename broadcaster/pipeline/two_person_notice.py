"""The approvers' notice of a cancel that one officer sent alone (docs/approval.md).

A pre-approved 'sent in error' cancel of the town's own message goes at once on one officer's
word; so that no one can silence a town unnoticed, the officers (approvers among them) get a
System alert at the same moment, naming who cancelled what.
"""

from __future__ import annotations

from broadcaster.model import (
    KIND,
    Alert,
    Category,
    Certainty,
    Info,
    Kind,
    MsgType,
    NamedValue,
    Severity,
    Status,
    Urgency,
    now,
)

ORIGIN = "broadcaster"


def cancel_alone_notice(cancel: Alert) -> Alert:
    assert cancel.tenant is not None
    at = now()
    who = cancel.source or "-"
    cancelled = "、".join(cancel.referenced_identifiers()) or "-"
    headline = cancel.primary.headline or cancel.primary.event
    return Alert(
        identifier=f"sys-cancel-{cancel.identifier}",
        sender=f"{cancel.tenant}@broadcaster",
        sent=at,
        status=Status.SYSTEM,
        msg_type=MsgType.ALERT,
        info=(
            Info(
                category=(Category.SAFETY,),
                event="取消の送信",
                urgency=Urgency.IMMEDIATE,
                severity=Severity.SEVERE,
                certainty=Certainty.OBSERVED,
                event_code=(NamedValue(value_name=KIND, value=Kind.SYSTEM.value),),
                headline=f"職員1人の判断で取消を送信しました：{headline}",
                description=(
                    f"{who} が「送信の誤り」の定型文で次の情報を取り消しました（二人目の承認なし）。\n"
                    f"取り消した情報：{cancelled}\n取消：{cancel.identifier}"
                ),
                instruction="取消が正しかったか、送信した職員に確認してください。誤った取消なら改めて情報を送ってください。",
                parameter=(
                    NamedValue(value_name="alert", value=cancel.identifier),
                    NamedValue(value_name="officer", value=who),
                ),
            ),
        ),
        tenant=cancel.tenant,
        event_key=f"system|{cancel.tenant}|cancel-alone|{cancel.identifier}",
        origin=ORIGIN,
        received=at,
    )
