"""Residents who pressed 1 ("I need help") on a voice call: a System alert to the town's duty
officers at once, naming them by the town's own roster ids (never their phone numbers), so that
someone can go or call back (docs/channels.md, *Voice*).

One alert per dispatch (its identifier is derived from the dispatch), so a redelivered receipt
does not tell the officers twice; the rules send System alerts to the officers (rules/*/00-system.yaml).
"""

from __future__ import annotations

from collections.abc import Sequence

from broadcaster.model import Alert, Category, Dispatch, Severity
from broadcaster.model.system import system_alert


def help_alert(d: Dispatch, people: Sequence[str], headline: str | None) -> Alert:
    """`people`: the roster ids (external ids) of those who asked for help."""
    listed = "、".join(people) if people else "（名簿にない番号）"
    return system_alert(
        tenant=d.tenant,
        identifier=f"sys-help-{d.tenant}-{d.key}",
        topic=f"help|{d.key}",
        event="救助要請",
        category=Category.RESCUE,
        severity=Severity.SEVERE,
        headline=f"自動音声電話で「助けが必要」（1）が押されました：{len(people) or 1}人",
        description=f"お知らせ「{headline or d.alert_id}」の電話で、次の方が1を押しました。\n名簿番号：{listed}",
        instruction="名簿で連絡先を確認し、折り返し電話するか、地区の区長・消防団に確認を依頼してください。",
        parameters=(("alert", d.alert_id), ("dispatch", d.key)),
    )
