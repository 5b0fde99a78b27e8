"""`broadcaster rules simulate`: the decision table per tenant for a telegram or manual alert.

What the route stage would decide, without sending or recording anything: per (channel,
audience) the number of people (from the audience counts, when the ledger is reachable), the
template, the priority, whether an approver is needed and when it would go, and the rule that
decided with its reasons. Nothing here touches the bus.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from broadcaster.channels import ChannelProfile
from broadcaster.model import JST, Alert, MsgType, Status
from broadcaster.pipeline import two_person
from broadcaster.rules.engine import Context, RuleSet
from broadcaster.store.audiences import CountSnapshot


@dataclass(frozen=True, slots=True)
class Row:
    channel: str
    audience: str
    people: int | None  # None: the channel reaches everyone at once, or counts are unavailable
    broadcast: bool
    template: str
    priority: str
    approval: bool
    when: str  # "now", or the JST time it is scheduled for
    purpose: str
    rule: str
    source: str
    reasons: tuple[str, ...]


@dataclass
class Table:
    tenant: str
    tenant_name: str
    alert: Alert
    rows: list[Row] = field(default_factory=list)
    matched: list[tuple[str, str, list[str]]] = field(default_factory=list)  # rule, file:line, reasons
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        info = self.alert.primary
        return {
            "tenant": self.tenant,
            "alert": self.alert.identifier,
            "status": self.alert.status.value,
            "msgType": self.alert.msg_type.value,
            "event": info.event,
            "headline": info.headline,
            "matched": [{"rule": r, "source": s, "reasons": why} for r, s, why in self.matched],
            "notes": self.notes,
            "rows": [
                {
                    "channel": r.channel,
                    "audience": r.audience,
                    "people": r.people,
                    "broadcast": r.broadcast,
                    "template": r.template,
                    "priority": r.priority,
                    "approval": r.approval,
                    "when": r.when,
                    "purpose": r.purpose,
                    "rule": r.rule,
                    "source": r.source,
                    "reasons": list(r.reasons),
                }
                for r in self.rows
            ],
        }


def simulate(
    alert: Alert,
    rules: RuleSet,
    ctx: Context,
    profiles: Mapping[str, ChannelProfile],
    counts: CountSnapshot | None,
) -> Table:
    assert alert.tenant is not None
    table = Table(alert.tenant, ctx.tenant_name or alert.tenant, alert)
    if alert.msg_type is MsgType.CANCEL:
        table.notes.append(
            "a Cancel goes exactly where the messages it cancels went (the ledger knows where), "
            "whatever the rules say now; nothing else is decided for it"
        )
        return table
    if alert.msg_type is MsgType.UPDATE:
        table.notes.append("an Update also goes everywhere the earlier messages of its event went (not shown)")
    evaluation = rules.evaluate(alert, ctx)
    table.matched = [(r.name, r.where, why) for r, why in evaluation.matched]
    held = alert.origin == "manual" and alert.status is Status.ACTUAL
    seen: set[tuple[str, str]] = set()
    for d in evaluation.decisions:
        profile = profiles.get(d.channel)
        if profile is None:
            table.notes.append(f"{d.channel} is disabled in this deployment: rule {d.explanation.rule!r} names it")
            continue
        broadcast = profile.addressing == "broadcast" or (profile.addressing == "both" and d.audience == "public")
        audience = "public" if profile.addressing == "broadcast" else d.audience
        if (d.channel, audience) in seen:
            continue
        seen.add((d.channel, audience))
        # A channel addressed by device topics (FCM topics) does not know who follows them.
        unknown = broadcast or profile.addressing == "topics" or counts is None
        people = None if unknown or counts is None else counts.count(audience, d.channel)
        table.rows.append(
            Row(
                channel=d.channel,
                audience=audience,
                people=people,
                broadcast=broadcast,
                template=d.template,
                priority=d.priority.value,
                approval=held and d.requires_approval,
                when=_when(d.not_before),
                purpose=d.purpose,
                rule=d.explanation.rule,
                source=d.explanation.source,
                reasons=d.explanation.reasons,
            )
        )
        if d.dedupe is not None:
            table.notes.append(
                f"{d.channel}/{audience}: skipped if the same ({d.dedupe.text}) went there in the last "
                f"{int(d.dedupe.window_s // 60)} min"
            )
    # The rule in code holds by what the message does, whatever the rules say (docs/approval.md).
    verdict = two_person.decide(
        alert,
        earlier=(),
        earlier_held=False,
        audiences=[r.audience for r in table.rows],
        rules_hold=any(r.approval for r in table.rows),
        cancel_texts=(),
    )
    if verdict.second_officer:
        table.rows = [replace(r, approval=True) for r in table.rows]
        table.notes.append(
            "an officer's Actual alert: held until a second officer approves (two-person rule: "
            + "; ".join(verdict.reasons)
            + ")"
        )
    if counts is None:
        table.notes.append("people: unknown (the ledger could not be read); run `broadcaster db upgrade` first")
    return table


def _when(at: datetime | None) -> str:
    if at is None:
        return "now"

    return at.astimezone(JST).strftime("%m-%d %H:%M JST")


def render(tables: list[Table], source: Callable[[Table], str]) -> str:
    lines: list[str] = []
    for t in tables:
        info = t.alert.primary
        lines.append(
            f"{t.tenant_name} ({t.tenant}) <- {source(t)}: {info.event} "
            f"[{t.alert.status.value}/{t.alert.msg_type.value}] {t.alert.identifier}"
        )
        for name, where, why in t.matched:
            lines.append(f"  rule {name} ({where})")
            lines.append(f"       because {'; '.join(why)}")
        if t.rows:
            lines.append(
                f"  {'channel':<11}{'audience':<26}{'people':>8}  {'template':<10}{'priority':<9}{'approval':<9}when"
            )
            for r in t.rows:
                people = "all" if r.broadcast else ("?" if r.people is None else f"{r.people:,}")
                when = r.when if r.purpose == "send" else f"{r.when} (escalation)"
                lines.append(
                    f"  {r.channel:<11}{r.audience:<26}{people:>8}  {r.template:<10}{r.priority:<9}"
                    f"{'yes' if r.approval else '-':<9}{when}"
                )
        for note in t.notes:
            lines.append(f"  note: {note}")
        lines.append("")
    return "\n".join(lines)
