"""route: Alert → Dispatches, recorded in the ledger before any is published.

Three paths (DESIGN.md, Decisions 3):
* an Alert goes where the tenant's rules say;
* an Update goes where the rules say and also everywhere the earlier messages of its event went,
  so that nobody who heard the first word misses the change;
* a Cancel goes exactly where the earlier messages went, batch for batch, whatever the rules say
  now.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from pydantic import ValidationError

from broadcaster.bus import Ack, Bus, DeadLetter, Outcome, Outgoing, Record, Retry
from broadcaster.bus.topics import backoff, dispatch_topic
from broadcaster.channels import ChannelProfile
from broadcaster.logging import get_logger
from broadcaster.model import Alert, Dispatch, DispatchOrder, Explanation, MsgType, Priority, Status, now
from broadcaster.pipeline.hops import H_ROUTED, H_TENANT, carry, stamp
from broadcaster.pipeline.tenancy import TenantDirectory
from broadcaster.rules.engine import Decision, RulesEngine
from broadcaster.store.audiences import Audiences
from broadcaster.store.ledger import Ledger

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Batch:
    recipients: tuple[str, ...]
    languages: tuple[str, ...]


def _languages(lang: str) -> tuple[str, ...]:
    # A reader of another language gets the Japanese original below the translation.
    return ("ja",) if lang.startswith("ja") else (lang, "ja")


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
    ) -> None:
        self.bus = bus
        self.ledger = ledger
        self.audiences = audiences
        self.directory = directory
        self.engines = engines
        self.profiles = profiles
        self.deadlines = deadlines
        self.retry_tiers = retry_tiers

    async def handle(self, record: Record) -> Outcome:
        try:
            alert = Alert.model_validate_json(record.value)
        except ValidationError as e:
            return DeadLetter(f"not an Alert: {str(e)[:500]}")
        if alert.tenant is None or alert.tenant not in self.directory.tenants:
            return DeadLetter(f"alert for unknown tenant {alert.tenant!r}")
        try:
            dispatches, held = await self.decide(alert)
            to_publish = await self.ledger.record_dispatches(alert, dispatches, held=held)
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
            dispatches=len(dispatches),
            published=len(to_publish),
            held=held,
        )
        return Ack()

    async def decide(self, alert: Alert) -> tuple[list[Dispatch], bool]:
        assert alert.tenant is not None
        earlier = await self.ledger.earlier_alerts(alert)
        revision = len(earlier) + 1
        if alert.msg_type is MsgType.CANCEL:
            return await self._follow(alert, earlier, revision), False
        decisions = self.engines(alert.tenant).decide(alert)
        dispatches = await self._expand(alert, decisions, revision)
        if alert.msg_type is MsgType.UPDATE:
            taken = {(d.channel, d.audience) for d in dispatches}
            for d in await self.ledger.dispatches_of(alert.tenant, earlier):
                if (d.channel, d.audience) not in taken and d.channel in self.profiles:
                    taken.add((d.channel, d.audience))
                    decision = Decision(
                        channel=d.channel,
                        audience=d.audience,
                        template="auto",
                        priority=d.priority,
                        requires_approval=False,
                        explanation=Explanation(
                            rule="follow-earlier",
                            reasons=(f"an update goes wherever {d.alert_id} went",),
                        ),
                    )
                    dispatches.extend(
                        await self._expand(alert, [decision], revision, resolve_districts=False)
                    )
        # Two-person rule: only officers' own alerts wait for an approver. Sources (JMA, J-Alert,
        # L-Alert) are already official and must never be held.
        held = (
            alert.origin == "manual"
            and alert.status is Status.ACTUAL
            and any(dec.requires_approval for dec in decisions)
        )
        return dispatches, held

    async def _follow(self, alert: Alert, earlier: Sequence[str], revision: int) -> list[Dispatch]:
        """The cancel's dispatches: one for each (channel, audience, batch) that an earlier had."""
        assert alert.tenant is not None
        created = now()
        out: dict[tuple[str, str, int], Dispatch] = {}
        for d in await self.ledger.dispatches_of(alert.tenant, earlier):
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
                    reasons=(f"{d.alert_id} went to {d.channel}/{d.audience} batch {d.batch}",),
                ),
                created=created,
                deadline=created + timedelta(seconds=self.deadlines.get(d.priority.value, 900.0)),
            )
        if not out:
            log.info("cancel_with_nothing_to_follow", tenant=alert.tenant, alert=alert.identifier)
        return list(out.values())

    async def _expand(
        self, alert: Alert, decisions: Sequence[Decision], revision: int, *, resolve_districts: bool = True
    ) -> list[Dispatch]:
        assert alert.tenant is not None
        created = now()
        out: list[Dispatch] = []
        districts = self.directory.districts_of(alert.tenant, alert)
        for dec in decisions:
            profile = self.profiles.get(dec.channel)
            if profile is None:
                log.warning("rule_names_disabled_channel", channel=dec.channel, rule=dec.explanation.rule)
                continue
            for audience in _audiences(dec.audience, districts) if resolve_districts else [dec.audience]:
                batches = await self._batches(alert, audience, dec.channel, profile)
                for n, batch in enumerate(batches):
                    out.append(
                        Dispatch(
                            tenant=alert.tenant,
                            alert_id=alert.identifier,
                            event_key=alert.event_key,
                            channel=dec.channel,
                            audience=audience,
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
                            deadline=created
                            + timedelta(seconds=self.deadlines.get(dec.priority.value, 900.0)),
                        )
                    )
        return out

    async def _batches(
        self, alert: Alert, audience: str, channel: str, profile: ChannelProfile
    ) -> list[Batch]:
        all_langs = tuple(dict.fromkeys(i.language.split("-")[0].lower() for i in alert.info)) or ("ja",)
        whole = profile.addressing == "broadcast" or (profile.addressing == "both" and audience == "public")
        if whole:
            return [Batch((), all_langs)]
        assert alert.tenant is not None
        people = await self.audiences.recipients(alert.tenant, audience, channel)
        by_lang: dict[str, list[str]] = {}
        for p in people:
            by_lang.setdefault(p.language, []).append(p.address)
        size = profile.max_recipients_per_request or 1000
        batches: list[Batch] = []
        for lang in sorted(by_lang, key=lambda x: (x != "ja", x)):
            addresses = list(dict.fromkeys(by_lang[lang]))
            for i in range(0, len(addresses), size):
                batches.append(Batch(tuple(addresses[i : i + size]), _languages(lang)))
        return batches


def _audiences(audience: str, districts: Sequence[str]) -> list[str]:
    if audience == "district":
        return [f"district:{d}" for d in districts] or ["public"]
    if audience == "leaders" and districts:
        return [f"leaders:{d}" for d in districts]
    return [audience]


_PRIORITY_ORDER = {Priority.FLASH: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3}


def _flash_first(dispatches: Sequence[Dispatch]) -> list[Dispatch]:
    return sorted(dispatches, key=lambda d: _PRIORITY_ORDER[d.priority])


def order_message(alert: Alert, dispatch: Dispatch, headers: Mapping[str, str]) -> Outgoing:
    order = DispatchOrder(dispatch=dispatch, alert=alert)
    return Outgoing(
        dispatch_topic(dispatch.channel),
        order.model_dump_json(by_alias=True).encode("utf-8"),
        key=dispatch.bus_key,
        headers=dict(headers),
    )
