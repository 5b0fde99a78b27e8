"""route: Alert → Dispatches, recorded in the ledger before any is published.

Three paths (docs/decisions.md, decision 3):
* an Alert goes where the tenant's rules say;
* an Update goes where the rules say and also everywhere the earlier messages of its event went
  (or will go), so that nobody who heard the first word misses the change;
* a Cancel goes exactly where the earlier messages went, batch for batch, whatever the rules say
  now; what they still had scheduled is called off.

The rules decide audiences, never people: the stage then expands each (channel, audience) into
fixed recipient batches once, so a retry resends the same batch. A channel that reaches its whole
audience at once (a web page, an SNS account) gets one dispatch to ``public`` however many
audiences the rules named, so that the town's website posts each alert once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from pydantic import ValidationError

from broadcaster import safety_links
from broadcaster.audience import dispatch_topic
from broadcaster.bus import Ack, Bus, DeadLetter, Outcome, Record, Retry
from broadcaster.bus.topics import backoff
from broadcaster.channels import ChannelProfile
from broadcaster.logging import get_logger
from broadcaster.model import (
    KIND,
    Alert,
    Dispatch,
    Explanation,
    MsgType,
    NamedValue,
    Priority,
    now,
)
from broadcaster.pipeline import two_person
from broadcaster.pipeline.hops import H_ROUTED, H_TENANT, carry, stamp
from broadcaster.pipeline.messages import alert_message, order_message
from broadcaster.pipeline.tenancy import TenantDirectory
from broadcaster.pipeline.two_person_notice import cancel_alone_notice
from broadcaster.preference import personal_channels
from broadcaster.render.languages import SUPPORTED, canonical
from broadcaster.rules.engine import Decision, RulesEngine
from broadcaster.store import routing
from broadcaster.store.audiences import Audiences
from broadcaster.store.ledger import Ledger

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Batch:
    recipients: tuple[str, ...]
    languages: tuple[str, ...]


@dataclass
class Routed:
    """The outcome of routing one alert, before anything is recorded."""

    dispatches: list[Dispatch] = field(default_factory=list)
    scheduled: list[routing.Scheduled] = field(default_factory=list)
    held: bool = False
    # Why it waits for a second officer, or why one officer's cancel went alone (two_person.py).
    verdict: two_person.Verdict = field(default_factory=lambda: two_person.Verdict(False))
    suppressed: list[Decision] = field(default_factory=list)
    marks: list[tuple[str, str, str]] = field(default_factory=list)
    # A rule that carried it asks for a safety answer (docs/coverage.md).
    safety_check: bool = False


def asking_safety(alert: Alert) -> Alert:
    """The alert with the `safety_check` parameter on each info block."""
    ask = NamedValue(value_name=safety_links.PARAMETER, value="yes")
    info = tuple(
        i.model_copy(update={"parameter": (*(p for p in i.parameter if p.value_name != ask.value_name), ask)})
        for i in alert.info
    )
    # Validated afresh: a copy would keep the original's cached views of its info.
    return Alert.model_validate_json(alert.model_copy(update={"info": info}).model_dump_json(by_alias=True))


def _languages(lang: str) -> tuple[str, ...]:
    # A reader of another language (easy Japanese included) gets the Japanese original below.
    return ("ja",) if canonical(lang) == "ja" else (lang, "ja")


class RouteStage:
    group = "route"

    def __init__(
        self,
        bus: Bus,
        ledger: Ledger,
        audiences: Audiences,
        directory: TenantDirectory,
        engines: Callable[[str], RulesEngine],
        profiles: Mapping[str, ChannelProfile],
        deadlines: Mapping[str, float],
        retry_tiers: Sequence[float] = (1.0, 5.0, 30.0),
        cancel_texts: Callable[[str], Sequence[two_person.CancelText]] | None = None,
    ) -> None:
        self.bus = bus
        self.ledger = ledger
        self.audiences = audiences
        self.directory = directory
        self.engines = engines
        self.profiles = profiles
        self.deadlines = deadlines
        self.retry_tiers = retry_tiers
        # The tenant's pre-approved cancel texts (templates/.../_compose/_cancel.yaml).
        self.cancel_texts = cancel_texts or (lambda tenant: two_person.DEFAULT_CANCEL_TEXTS)

    async def handle(self, record: Record) -> Outcome:
        try:
            alert = Alert.model_validate_json(record.value)
        except ValidationError as e:
            return DeadLetter(f"not an Alert: {str(e)[:500]}")
        if alert.tenant is None or alert.tenant not in self.directory.tenants:
            return DeadLetter(f"alert for unknown tenant {alert.tenant!r}")
        try:
            routed = await self.route(alert)
            if routed.safety_check and not safety_links.asks(alert):
                # The rules ask for a safety answer: the alert says so wherever it is read
                # (the channels' buttons and links, the answer pages), as an officer's tick would.
                alert = asking_safety(alert)
                await self.ledger.replace_alert_data(alert)
            assert alert.tenant is not None
            # Said once, when the alert is first held (not again on a redelivery).
            newly_held = routed.held and await self.ledger.alert_state(alert.tenant, alert.identifier) != "held"
            # One transaction: the dispatches, the put-off ones and the dedupe marks are recorded
            # together or not at all (then the alert is routed again to the same keys).
            to_publish = await self.ledger.record_routing(
                alert,
                routed.dispatches,
                held=routed.held,
                scheduled=routed.scheduled,
                marks=routed.marks,
                marks_at=self._at(alert),
            )
            if routed.verdict.cancel_alone:
                await self._tell_approvers(alert)
            if newly_held:
                # Why it waits, in the record the approver and any later inquiry read.
                await self.ledger.audit(
                    actor=alert.source or "-",
                    action="held",
                    tenant=alert.tenant,
                    target=alert.identifier,
                    origin="route",
                    detail={"reasons": list(routed.verdict.reasons)},
                )
            if not routed.held and not to_publish:
                # Nothing left to send (a 取消 adopted before its original, with nothing to follow
                # yet): no receipt will ever come to finish it, so it is finished here.
                await self.ledger.complete_if_final(alert.tenant, alert.identifier)
        except Exception as e:
            log.error("route_failed", tenant=alert.tenant, alert=alert.identifier, error=str(e))
            return Retry(backoff(record.attempt, self.retry_tiers), f"route: {type(e).__name__}: {e}")
        headers = stamp(carry(record.headers), H_ROUTED, now())
        headers[H_TENANT] = alert.tenant
        await self.bus.publish_many([order_message(alert, d, headers) for d in _flash_first(to_publish)])
        log.info(
            "alert_routed",
            tenant=alert.tenant,
            alert=alert.identifier,
            dispatches=len(routed.dispatches),
            published=len(to_publish),
            scheduled=len(routed.scheduled),
            suppressed=len(routed.suppressed),
            held=routed.held,
            why=list(routed.verdict.reasons),
        )
        return Ack()

    @staticmethod
    def _at(alert: Alert) -> datetime:
        return alert.received or alert.sent

    async def route(self, alert: Alert) -> Routed:
        assert alert.tenant is not None
        earlier = await self.ledger.earlier_alerts(alert)
        revision = len(earlier) + 1
        if alert.msg_type is MsgType.CANCEL:
            called_off = await routing.supersede_scheduled(self.ledger.db, alert.tenant, earlier)
            if called_off:
                log.info("scheduled_called_off", tenant=alert.tenant, alert=alert.identifier, dispatches=called_off)
            routed = Routed(dispatches=await self._follow(alert, earlier, revision))
            return await self._two_person(alert, earlier, routed, rules_hold=False)
        ctx = self.directory.context(alert.tenant, alert)
        decisions = _first_per_slot(
            c for c in (self._collapse(d) for d in self.engines(alert.tenant).decide(alert, ctx)) if c is not None
        )
        routed = Routed(safety_check=any(d.safety_check for d in decisions))
        decisions = await self._dedupe(alert, decisions, routed)
        decisions = decisions + await self._preferred(alert, decisions)
        current = now()
        # Audiences overlap (a leader is also a resident of the district): each address gets the
        # alert once per channel, in the first audience by precedence. Escalations are reminders
        # with a purpose of their own and are counted apart.
        given: dict[tuple[str, str], set[str]] = {}
        for dec in decisions:
            dispatches = await self._expand(alert, dec, revision, given.setdefault((dec.purpose, dec.channel), set()))
            if dec.not_before is not None and dec.not_before > current:
                routed.scheduled.extend(
                    routing.Scheduled(
                        _deadline_from(d, dec.not_before, self.deadlines),
                        dec.not_before,
                        dec.purpose if dec.purpose == "escalation" else "delay",
                        dec.scope,
                    )
                    for d in dispatches
                )
            else:
                routed.dispatches.extend(dispatches)
        if alert.msg_type is MsgType.UPDATE:
            await self._follow_for_update(alert, earlier, revision, routed, given)
        return await self._two_person(
            alert, earlier, routed, rules_hold=any(dec.requires_approval for dec in decisions)
        )

    async def _two_person(self, alert: Alert, earlier: Sequence[str], routed: Routed, *, rules_hold: bool) -> Routed:
        """Hold a person's message for a second officer where the rule in code or the tenant's
        rules say (pipeline/two_person.py). Sources (JMA, J-Alert, L-Alert) are never held."""
        assert alert.tenant is not None
        if not two_person.applies(alert):
            return routed
        before = [a for a in [await self.ledger.alert(alert.tenant, e) for e in earlier] if a is not None]
        earlier_held = any(
            e.dispatch.requires_approval for e in await routing.earlier_dispatches(self.ledger.db, alert.tenant, earlier)
        )
        audiences = [d.audience for d in routed.dispatches] + [s.dispatch.audience for s in routed.scheduled]
        verdict = two_person.decide(
            alert,
            earlier=before,
            earlier_held=earlier_held,
            audiences=audiences,
            rules_hold=rules_hold,
            cancel_texts=self.cancel_texts(alert.tenant),
        )
        routed.verdict = verdict
        routed.held = verdict.second_officer
        if routed.held:
            # Marked on each dispatch, so that an Update of this message is held in its turn.
            routed.dispatches = [d.model_copy(update={"requires_approval": True}) for d in routed.dispatches]
            routed.scheduled = [
                replace(s, dispatch=s.dispatch.model_copy(update={"requires_approval": True})) for s in routed.scheduled
            ]
        return routed

    async def _tell_approvers(self, cancel: Alert) -> None:
        """One officer cancelled the town's own message alone: the approvers hear of it at once
        (a System alert to the officers, and the audit log). Its identifier is derived from the
        cancel's, so routing the cancel again does not tell them twice."""
        assert cancel.tenant is not None
        notice = cancel_alone_notice(cancel)
        first = await self.ledger.record_alert(notice, submitted_by="system:two-person")
        await self.bus.publish_many([alert_message(notice)])
        if not first:
            return  # routed again (a redelivery): told and audited the first time
        await self.ledger.audit(
            actor=cancel.source or "-",
            action="cancel_alone",
            tenant=cancel.tenant,
            target=cancel.identifier,
            origin="route",
            detail={"references": list(cancel.referenced_identifiers()), "notice": notice.identifier},
        )

    @property
    def personal(self) -> frozenset[str]:
        return personal_channels({c: p.addressing for c, p in self.profiles.items()})

    async def _preferred(self, alert: Alert, decisions: Sequence[Decision]) -> list[Decision]:
        """Dispatches on the channels residents chose first that the rules did not name for their
        audience (a resident without a smartphone in a district the rules send LINE and the app:
        voice). Each resident with a preference gets their first channel only; the channel worker
        tries the next when it does not reach them (docs/audiences.md, *Channel preference and fallback*)."""
        assert alert.tenant is not None
        personal = self.personal
        named: dict[str, set[str]] = {}
        first: dict[str, Decision] = {}
        for dec in decisions:
            if dec.channel in personal and dec.purpose == "send" and dec.not_before is None:
                named.setdefault(dec.audience, set()).add(dec.channel)
                first.setdefault(dec.audience, dec)
        extra: list[Decision] = []
        for audience, channels in named.items():
            for channel in sorted(await self.audiences.preferred_channels(alert.tenant, audience, personal) - channels):
                dec = first[audience]
                extra.append(
                    replace(
                        dec,
                        channel=channel,
                        template="auto",
                        dedupe=None,
                        explanation=Explanation(
                            rule=dec.explanation.rule,
                            source=dec.explanation.source,
                            reasons=(
                                *dec.explanation.reasons,
                                f"residents of {audience} who chose {channel} first are sent there",
                            ),
                        ),
                    )
                )
        return extra

    def _collapse(self, dec: Decision) -> Decision | None:
        """A channel that reaches everyone at once gets one dispatch, to `public`."""
        profile = self.profiles.get(dec.channel)
        if profile is None or profile.addressing != "broadcast" or dec.audience == "public":
            return dec
        if dec.purpose == "escalation":
            # Reminding the deputies on the town's website would tell everyone and no one.
            log.warning("escalation_on_broadcast_channel", channel=dec.channel, rule=dec.explanation.rule)
            return None
        why = f"{dec.channel} reaches everyone at once: one post for {dec.audience}"
        explanation = dec.explanation.model_copy(update={"reasons": (*dec.explanation.reasons, why)})
        return replace(dec, audience="public", explanation=explanation)

    async def _dedupe(self, alert: Alert, decisions: list[Decision], routed: Routed) -> list[Decision]:
        assert alert.tenant is not None
        wanted = [d for d in decisions if d.dedupe is not None]
        if not wanted:
            return decisions
        at = self._at(alert)
        longest = max(d.dedupe.window_s for d in wanted if d.dedupe is not None)
        seen = await routing.seen_marks(
            self.ledger.db,
            alert.tenant,
            alert.identifier,
            [(d.dedupe.mark, d.channel, d.audience) for d in wanted if d.dedupe is not None],
            at - timedelta(seconds=longest),
        )
        kept: list[Decision] = []
        for d in decisions:
            last = seen.get((d.dedupe.mark, d.channel, d.audience)) if d.dedupe is not None else None
            if d.dedupe is not None and last is not None and last >= at - timedelta(seconds=d.dedupe.window_s):
                routed.suppressed.append(d)
                log.info(
                    "dispatch_deduplicated",
                    tenant=alert.tenant,
                    alert=alert.identifier,
                    channel=d.channel,
                    audience=d.audience,
                    same=d.dedupe.text,
                )
                continue
            if d.dedupe is not None:
                routed.marks.append((d.dedupe.mark, d.channel, d.audience))
            kept.append(d)
        return kept

    async def _follow_for_update(
        self,
        alert: Alert,
        earlier: Sequence[str],
        revision: int,
        routed: Routed,
        given: dict[tuple[str, str], set[str]],
    ) -> None:
        assert alert.tenant is not None
        taken = {(d.channel, d.audience) for d in routed.dispatches}
        taken |= {(s.dispatch.channel, s.dispatch.audience) for s in routed.scheduled}
        for e in await routing.earlier_dispatches(self.ledger.db, alert.tenant, earlier):
            d = e.dispatch
            # Slots still scheduled (an escalation not yet due) have told nobody anything yet.
            if e.state == routing.SCHEDULED or (d.channel, d.audience) in taken or d.channel not in self.profiles:
                continue
            taken.add((d.channel, d.audience))
            decision = Decision(
                channel=d.channel,
                audience=d.audience,
                template="auto",
                priority=d.priority,
                requires_approval=False,
                explanation=Explanation(
                    rule="follow-earlier",
                    reasons=(f"an update goes wherever {d.alert_id} went: {d.channel}/{d.audience}",),
                ),
            )
            routed.dispatches.extend(
                await self._expand(alert, decision, revision, given.setdefault(("send", d.channel), set()))
            )

    async def _follow(self, alert: Alert, earlier: Sequence[str], revision: int) -> list[Dispatch]:
        """The cancel's dispatches: one for each (channel, audience, batch) that an earlier had."""
        assert alert.tenant is not None
        created = now()
        out: dict[tuple[str, str, int], Dispatch] = {}
        for e in await routing.earlier_dispatches(self.ledger.db, alert.tenant, earlier):
            d = e.dispatch
            slot = (d.channel, d.audience, d.batch)
            if slot in out:
                continue
            out[slot] = Dispatch(
                tenant=alert.tenant,
                alert_id=alert.identifier,
                event_key=alert.event_key,
                channel=d.channel,
                audience=d.audience,
                batch=d.batch,
                batch_count=d.batch_count,
                recipients=d.recipients,
                template="auto",
                languages=d.languages,
                revision=revision,
                priority=d.priority,
                explanation=Explanation(
                    rule="cancel-follows-original",
                    source=d.explanation.source,
                    reasons=(
                        f"{d.alert_id} went to {d.channel}/{d.audience} batch {d.batch} "
                        f"(by rule {d.explanation.rule}); a cancel follows it there whatever the rules say now",
                    ),
                ),
                created=created,
                deadline=created + timedelta(seconds=self.deadlines.get(d.priority.value, 900.0)),
            )
        if not out:
            log.info("cancel_with_nothing_to_follow", tenant=alert.tenant, alert=alert.identifier)
        return list(out.values())

    async def _expand(self, alert: Alert, dec: Decision, revision: int, given: set[str]) -> list[Dispatch]:
        assert alert.tenant is not None
        profile = self.profiles.get(dec.channel)
        if profile is None:
            log.warning("rule_names_disabled_channel", channel=dec.channel, rule=dec.explanation.rule)
            return []
        kind = _kind(alert)
        if profile.kinds is not None and kind not in profile.kinds:
            # 緊急速報メール carries only the town's own disaster and evacuation information: a rule
            # that names it for an EEW would ring every phone a second time.
            log.warning("channel_refuses_kind", channel=dec.channel, kind=kind, rule=dec.explanation.rule)
            return []
        created = now()
        batches = await self._batches(alert, dec.audience, dec.channel, profile, given)
        return [
            Dispatch(
                tenant=alert.tenant,
                alert_id=alert.identifier,
                event_key=alert.event_key,
                channel=dec.channel,
                audience=dec.audience,
                batch=n,
                batch_count=len(batches),
                recipients=batch.recipients,
                template=dec.template,
                languages=batch.languages,
                revision=revision,
                priority=dec.priority,
                requires_approval=dec.requires_approval,
                explanation=dec.explanation,
                created=created,
                deadline=created + timedelta(seconds=self.deadlines.get(dec.priority.value, 900.0)),
            )
            for n, batch in enumerate(batches)
        ]

    async def _batches(
        self, alert: Alert, audience: str, channel: str, profile: ChannelProfile, given: set[str]
    ) -> list[Batch]:
        all_langs = tuple(dict.fromkeys(i.language.split("-")[0].lower() for i in alert.info)) or ("ja",)
        whole = profile.addressing == "broadcast" or (profile.addressing == "both" and audience == "public")
        if whole:
            return [Batch((), all_langs)]
        assert alert.tenant is not None
        if profile.addressing == "topics":
            # Leaders, deputies and officers are reached for their role: no device topic names them.
            return [_topic_batch(alert.tenant, audience)] if by_topic(audience) else []
        people = await self.audiences.recipients(alert.tenant, audience, channel, self.personal)
        by_lang: dict[str, list[str]] = {}
        for p in people:
            if p.address not in given:
                given.add(p.address)
                by_lang.setdefault(p.language, []).append(p.address)
        size = profile.max_recipients_per_request or 1000
        batches: list[Batch] = []
        for lang in sorted(by_lang, key=lambda x: (x != "ja", x)):
            addresses = list(dict.fromkeys(by_lang[lang]))
            for i in range(0, len(addresses), size):
                batches.append(Batch(tuple(addresses[i : i + size]), _languages(lang)))
        return batches


def by_topic(audience: str) -> bool:
    return audience.partition(":")[0].partition("/")[0] in ("public", "district")


def _topic_batch(tenant: str, audience: str) -> Batch:
    """A channel addressed by device topics (FCM topics, docs/push.md): one batch whose
    recipients are the audience's topic in every language a resident may choose, each sent with
    its own text; the provider fans each out to the devices subscribed. Nobody is looked up, so
    the dispatch costs the same for ten residents as for a hundred thousand."""
    return Batch(tuple(dispatch_topic(tenant, audience, tag) for tag in SUPPORTED), SUPPORTED)


def _kind(alert: Alert) -> str:
    kinds = alert.primary.event_codes(KIND) if alert.info else ()
    return kinds[0] if kinds else "other"


def _deadline_from(d: Dispatch, due: datetime, deadlines: Mapping[str, float]) -> Dispatch:
    """A put-off dispatch is late relative to when it is due, not to when it was decided."""
    return d.model_copy(update={"deadline": due + timedelta(seconds=deadlines.get(d.priority.value, 900.0))})


def _first_per_slot(decisions: Iterable[Decision]) -> list[Decision]:
    """One decision per (channel, audience): the first, which has the higher precedence."""
    out: dict[tuple[str, str], Decision] = {}
    for d in decisions:
        out.setdefault(d.slot, d)
    return list(out.values())


_PRIORITY_ORDER = {Priority.FLASH: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3}


def _flash_first(dispatches: Sequence[Dispatch]) -> list[Dispatch]:
    return sorted(dispatches, key=lambda d: _PRIORITY_ORDER[d.priority])


