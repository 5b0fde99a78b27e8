"""The approvers' notice of a cancel that one officer sent alone (docs/approval.md).

A pre-approved 'sent in error' cancel of the town's own message goes at once on one officer's
word; so that no one can silence a town unnoticed, the officers (approvers among them) get a
System alert at the same moment, naming who cancelled what.
"""

from __future__ import annotations

from broadcaster.model import Alert, Category, Severity
from broadcaster.model.system import system_alert


def cancel_alone_notice(cancel: Alert) -> Alert:
    assert cancel.tenant is not None
    who = cancel.source or "-"
    cancelled = "、".join(cancel.referenced_identifiers()) or "-"
    headline = cancel.primary.headline or cancel.primary.event
    return system_alert(
        tenant=cancel.tenant,
        identifier=f"sys-cancel-{cancel.identifier}",
        topic=f"cancel-alone|{cancel.identifier}",
        event="取消の送信",
        category=Category.SAFETY,
        severity=Severity.SEVERE,
        headline=f"職員1人の判断で取消を送信しました：{headline}",
        description=(
            f"{who} が「送信の誤り」の定型文で次の情報を取り消しました（二人目の承認なし）。\n"
            f"取り消した情報：{cancelled}\n取消：{cancel.identifier}"
        ),
        instruction="取消が正しかったか、送信した職員に確認してください。誤った取消なら改めて情報を送ってください。",
        parameters=(("alert", cancel.identifier), ("officer", who)),
    )
