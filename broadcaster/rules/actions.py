"""A matched rule's actions turned into Decisions: which audiences, when, and why.

Safety limits live here, whatever a rule file says:
* an Immediate or Extreme alert is never delayed (quiet hours and delays are for the rest);
* lalert_out never carries an alert that came from L-Alert (it would echo back to TV and portals).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime, timedelta

from broadcaster.audience import AudienceName
from broadcaster.model import Explanation, MsgType, Severity, Urgency
from broadcaster.rules.conditions import in_window, window_text
from broadcaster.rules.decision import Decision, DedupeMark
from broadcaster.rules.facts import Facts
from broadcaster.rules.schema import Dedupe, Rule, Window

OWN_ALERTS_ONLY = "lalert_out"


def _district_label(f: Facts, d: str) -> str:
    name = f.ctx.district_names.get(d)
    return f"{name} ({d})" if name else d


def resolve_audiences(word: str, topic: str | None, f: Facts) -> Iterator[tuple[AudienceName, str]]:
    """Concrete audiences for a rule's audience word, each with the reason it was chosen."""
    base, _, scope = word.partition(":")
    named = f.ctx.districts
    if base == "public":
        yield AudienceName("public", None, topic), "everyone"
    elif base == "district" and scope:
        yield AudienceName("district", scope, topic), f"district {_district_label(f, scope)}"
    elif base == "district":
        if not named:
            yield AudienceName("public", None, topic), "the alert names no district: everyone"
        for d in named:
            yield AudienceName("district", d, topic), f"the alert names {_district_label(f, d)}"
    elif base in ("leaders", "deputies") and scope:
        yield AudienceName(base, scope), f"{base} of {_district_label(f, scope)}"
    elif base in ("leaders", "deputies"):
        if not named:
            yield AudienceName(base, None), f"all {base}: the alert names no district"
        for d in named:
            yield AudienceName(base, d), f"{base} of {_district_label(f, d)}, which the alert names"
    else:  # officers[:group]
        yield AudienceName("officers", scope or None), f"officers{' of group ' + scope if scope else ''}"


def _urgent(f: Facts) -> bool:
    return f.urgency is Urgency.IMMEDIATE or f.severity is Severity.EXTREME


def _window_end(w: Window, at: datetime) -> datetime:
    end = at.replace(hour=w.end.hour, minute=w.end.minute, second=0, microsecond=0)
    return end if end > at else end + timedelta(days=1)


def schedule(rule: Rule, f: Facts) -> tuple[datetime | None, list[str]]:
    """When the rule's dispatches may go (None: at once) and why."""
    if rule.delay is None and rule.quiet_hours is None:
        return None, []
    if _urgent(f):
        return None, [f"not delayed: urgency {f.urgency.value}, severity {f.severity.value}"]
    due: datetime | None = None
    reasons: list[str] = []
    if rule.delay is not None:
        due = f.at + rule.delay
        reasons.append(f"delayed {_duration(rule.delay)} until {due:%H:%M} JST")
    if rule.quiet_hours is not None and in_window(rule.quiet_hours, due or f.at):
        due = _window_end(rule.quiet_hours, due or f.at)
        reasons.append(f"quiet hours {window_text(rule.quiet_hours)}: held until {due:%m-%d %H:%M} JST")
    return due, reasons


def _duration(d: timedelta) -> str:
    minutes = int(d.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def dedupe_mark(d: Dedupe, f: Facts) -> DedupeMark:
    values: list[tuple[str, object]] = []
    for field in d.by:
        if field == "kind":
            value: object = f.kind
        elif field == "event":
            value = f.info.event
        elif field == "event_key":
            value = f.alert.event_key
        elif field == "headline":
            value = f.info.headline or ""
        elif field == "level":
            value = f.level[0]
        elif field == "intensity":
            value = f.intensity_text()
        elif field == "warnings":
            value = sorted(f.warnings)
        elif field == "districts":
            value = list(f.ctx.districts)
        else:
            value = f.params.get(field.removeprefix("parameter:"), [])
        values.append((field, value))
    material = json.dumps(values, ensure_ascii=False, sort_keys=True, default=str)
    text = ", ".join(f"{k}={v}" for k, v in values)
    return DedupeMark(hashlib.sha256(material.encode()).hexdigest()[:32], d.window.total_seconds(), text)


def decisions_of(rule: Rule, reasons: list[str], f: Facts, seen: set[tuple[str, str]], tail: tuple[str, ...]) -> list[Decision]:
    """The rule's decisions for the slots not yet taken by a rule of higher precedence."""
    out: list[Decision] = []
    due, timing = schedule(rule, f)
    mark = dedupe_mark(rule.dedupe, f) if rule.dedupe else None
    extra = list(timing)
    if mark is not None and rule.dedupe is not None:
        extra.append(f"once per {_duration(rule.dedupe.window)} for the same {mark.text}")
    if rule.topic:
        extra.append(f"topic {rule.topic}: residents who chose other topics only are left out")
    for word in rule.audiences:
        for audience, why in resolve_audiences(word, rule.topic if word.split(":")[0] in ("public", "district") else None, f):
            name = str(audience)
            channels = [c for c in rule.channels if (c, name) not in seen and (c != OWN_ALERTS_ONLY or f.origin == "manual")]
            if not channels:
                continue
            # Built from checked values: construct, don't validate again (this is the hot path).
            explanation = Explanation.model_construct(
                rule=rule.name, source=rule.where, reasons=(*reasons, f"audience {name}: {why}", *extra, *tail)
            )
            for channel in channels:
                seen.add((channel, name))
                out.append(
                    Decision(
                        channel=channel,
                        audience=name,
                        template=rule.template,
                        priority=rule.priority,
                        requires_approval=rule.require_approval,
                        explanation=explanation,
                        not_before=due,
                        dedupe=mark,
                        safety_check=rule.safety_check,
                    )
                )
    if f.msg_type is MsgType.ALERT:
        out.extend(_escalations(rule, reasons, f, seen, tail))
    return out


def _escalations(rule: Rule, reasons: list[str], f: Facts, seen: set[tuple[str, str]], tail: tuple[str, ...]) -> list[Decision]:
    out: list[Decision] = []
    for step in rule.escalate:
        due = f.at + step.after
        for audience, why in resolve_audiences(step.audience, None, f):
            explanation = Explanation.model_construct(
                rule=rule.name,
                source=rule.where,
                reasons=(
                    *reasons,
                    f"escalation: {audience} ({why}) at {due:%H:%M} JST unless the leaders acknowledge "
                    f"within {_duration(step.after)}",
                    *tail,
                ),
            )
            for channel in step.channels:
                slot = (channel, str(audience))
                if slot in seen:
                    continue
                seen.add(slot)
                out.append(
                    Decision(
                        channel=channel,
                        audience=str(audience),
                        template=rule.template,
                        priority=rule.priority,
                        requires_approval=rule.require_approval,
                        explanation=explanation,
                        not_before=due,
                        purpose="escalation",
                        scope=audience.scope,
                    )
                )
    return out
