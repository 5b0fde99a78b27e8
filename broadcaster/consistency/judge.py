"""What each medium should show of an event, and whether it does. Pure.

The ledger says what the newest message of the event on each channel is; the medium (or, where it
cannot be read back, the provider's accepted record) says what it shows. A surface that shows the
right message with different facts disagrees at once; one that still shows an older state is
stale only once the new state is `lag_s` old, counted from when the first medium took it
(docs/consistency.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from broadcaster.cap.publish import for_publication, placed
from broadcaster.channels import Carried
from broadcaster.consistency.facts import differences, facts_of, in_force
from broadcaster.model import Alert, MsgType, ResponseType
from broadcaster.store.consistency import MediumState, Sent

# Dispatches that never carried (or will not yet carry) the message to the medium.
_NOT_SENT = frozenset({"recorded", "held", "superseded"})


def expected_on(alerts: Sequence[Alert], sent: Sequence[Sent], channel: str) -> Alert | None:
    """The newest message of the event that the channel was given to carry."""
    given = {s.alert_id for s in sent if s.channel == channel and s.state not in _NOT_SENT}
    return next((a for a in reversed(alerts) if a.identifier in given), None)


def accepted_on(alerts: Sequence[Alert], sent: Sequence[Sent], channel: str) -> Alert | None:
    """The newest message of the event the channel's provider accepted (its record)."""
    done = {s.alert_id for s in sent if s.channel == channel and s.state == "accepted"}
    return next((a for a in reversed(alerts) if a.identifier in done), None)


def due_since(alert: Alert, sent: Sequence[Sent]) -> datetime | None:
    """When the other media began to show the message: its first acceptance anywhere, else when its
    dispatches were decided."""
    mine = [s for s in sent if s.alert_id == alert.identifier]
    accepted = [s.accepted_at for s in mine if s.accepted_at is not None]
    if accepted:
        return min(accepted)
    return min((s.created for s in mine), default=None)


def provider_record(alerts: Sequence[Alert], sent: Sequence[Sent], channel: str) -> Carried:
    got = accepted_on(alerts, sent, channel)
    return Carried(
        surface=channel,
        alert_id=got.identifier if got is not None else None,
        facts=facts_of(got) if got is not None else {},
        where=f"the {channel} provider's accepted record",
    )


def _shows_right_message(c: Carried, expected: Alert, at: datetime) -> bool | None:
    """Whether the surface shows the message it should; None when the surface is not judged."""
    if c.listed is None:
        return c.alert_id == expected.identifier
    if c.surface == "cap_feed":
        # The CAP feed keeps cancels and lifts so that aggregators withdraw; an expired message
        # leaves it, and may or may not be there until the publish that ends it.
        if expected.msg_type is MsgType.CANCEL or _lift(expected) or in_force(expected, at):
            return c.alert_id == expected.identifier
        return None
    if in_force(expected, at):
        return c.alert_id == expected.identifier
    return c.alert_id is None


def _lift(alert: Alert) -> bool:
    return bool(alert.info) and ResponseType.ALL_CLEAR in alert.primary.response_type


def _feed_facts(expected: Alert, earlier: Sequence[Alert], c: Carried) -> dict[str, str]:
    """What the CAP feed must say of the message: it as published (docs/cap.md, *Publishing*),
    with an expiry and references to documents the feed holds; where the message names no area
    an aggregator can place, the feed names the town, which the ledger does not know."""
    want = facts_of(for_publication(expected, earlier=earlier, town="", codes=()))
    if expected.info and not placed(expected.primary.area):
        want["areas"] = c.facts.get("areas", "")
    return want


def judge(
    channel: str,
    source: str,
    expected: Alert,
    carried: Sequence[Carried],
    due: datetime | None,
    at: datetime,
    lag_s: float,
    earlier: Sequence[Alert] = (),
) -> list[MediumState]:
    """`earlier`: the event's messages this channel carried before `expected`, oldest first."""
    want = facts_of(expected)
    out: list[MediumState] = []
    for c in carried:
        right = _shows_right_message(c, expected, at)
        facts = _feed_facts(expected, earlier, c) if c.surface == "cap_feed" else want
        diffs = differences(facts, c.facts) if right and c.alert_id is not None else []
        if right is None or (right and not diffs):
            problem = None
        elif diffs:
            problem = "differs"
        elif due is not None and (at - due).total_seconds() < lag_s:
            problem = "waiting"
        else:
            problem = "stale"
        out.append(
            MediumState(
                channel=channel,
                surface=c.surface,
                source=source,
                expected_id=expected.identifier,
                carried_id=c.alert_id,
                problem=problem,
                facts={
                    "expected": facts,
                    "carried": dict(c.facts),
                    "listed": c.listed,
                    "should_list": in_force(expected, at) if c.listed is not None else None,
                    "differences": [d.field for d in diffs],
                    "where": c.where,
                },
                due=due,
            )
        )
    return out
