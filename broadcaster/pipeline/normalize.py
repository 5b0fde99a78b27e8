"""normalize: RawEvent → per-tenant Alerts, or a quarantine entry that says why not.

Nothing that arrives is dropped: input no parser accepts, input a parser refuses, and input that
makes a parser crash all land in quarantine with the raw bytes and the reason, and the stage goes
on with the next message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from broadcaster.bus import Ack, Bus, Outcome, Outgoing, Record, Retry
from broadcaster.bus.topics import backoff
from broadcaster.errors import ParseError
from broadcaster.logging import get_logger
from broadcaster.model import (
    DISTRICT_CODE,
    KIND,
    Alert,
    Area,
    MsgType,
    RawEvent,
    ResponseType,
    Severity,
    cap_datetime,
    now,
)
from broadcaster.model.warnstate import Claim
from broadcaster.offloop import Lane
from broadcaster.parsing import SourceParser
from broadcaster.pipeline.coast import as_lifted, localize
from broadcaster.pipeline.hops import H_NORMALIZED, H_TENANT, carry, stamp
from broadcaster.pipeline.merge import change_of
from broadcaster.pipeline.messages import alert_message
from broadcaster.pipeline.shaking import localize_quake
from broadcaster.pipeline.tenancy import TenantDirectory
from broadcaster.pipeline.warnstate import claims_of
from broadcaster.store.ledger import Ledger

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Refused:
    reason: str
    detail: str


def pick_parser(raw: RawEvent, parsers: Sequence[SourceParser]) -> SourceParser | None:
    for parser in parsers:
        try:
            if parser.accepts(raw):
                return parser
        except Exception as e:  # a parser's sniffing must not stop the others from trying
            log.warning("parser_accepts_failed", parser=parser.name, error=str(e))
    return None


def parse(raw: RawEvent, parsers: Sequence[SourceParser]) -> list[Alert] | Refused:
    parser = pick_parser(raw, parsers)
    if parser is None:
        return Refused("no_parser", f"no parser accepts source={raw.source} content_type={raw.content_type}")
    try:
        return list(parser.parse(raw))
    except ParseError as e:
        return Refused(e.reason, f"{parser.name}: {e.detail or e}")
    except ValidationError as e:
        return Refused("invalid_alert", f"{parser.name}: {str(e)[:1500]}")
    except Exception as e:
        # A parser bug is quarantined like bad input: the stage must go on, and the raw bytes
        # are kept so the telegram can be re-driven once the parser is fixed.
        log.exception("parser_crashed", parser=parser.name, raw=raw.id)
        return Refused("parser_crashed", f"{parser.name}: {type(e).__name__}: {e}")


def assign_tenants(
    alerts: Sequence[Alert],
    raw: RawEvent,
    directory: TenantDirectory,
    followers: Sequence[set[str]] | None = None,
) -> list[Alert] | Refused:
    """Per-tenant copies of each alert: the source's tenant, or those its areas cover.

    `followers[i]` are the tenants that had earlier messages of alert i's event: an update or
    cancel reaches them even when it names no area (or fewer areas than the original).
    """
    out: list[Alert] = []
    for index, alert in enumerate(alerts):
        if raw.tenant is not None:
            if raw.tenant not in directory.tenants:
                return Refused("unknown_tenant", f"tenant {raw.tenant!r} is not served by this deployment")
            if alert.tenant not in (None, raw.tenant):
                return Refused("tenant_mismatch", f"{alert.tenant} from a source of {raw.tenant}")
            out.append(_enrich(alert.for_tenant(raw.tenant), raw, directory))
        elif alert.tenant is not None:
            return Refused("tenant_claimed", "a shared source may not name a tenant; areas decide")
        else:
            tenants = set(directory.match(alert))
            if followers is not None and alert.msg_type is not MsgType.ALERT:
                tenants |= {t for t in followers[index] if t in directory.tenants}
            out.extend(_enrich(alert.for_tenant(t), raw, directory) for t in sorted(tenants))
    return out


def _enrich(alert: Alert, raw: RawEvent, directory: TenantDirectory) -> Alert:
    """Received time, the tenant's own names for the districts an alert names by id, and a
    tsunami rated by the tenant's own coast (pipeline/coast.py), an earthquake by its own 震度
    (pipeline/shaking.py)."""
    assert alert.tenant is not None
    names = {d.id: d.name for d in directory.tenants[alert.tenant].districts}
    infos = []
    for info in alert.info:
        areas = []
        for area in info.area:
            codes = area.codes(DISTRICT_CODE)
            if len(codes) == 1 and area.area_desc == codes[0] and codes[0] in names:
                area = Area.model_validate({**area.model_dump(by_alias=True), "areaDesc": names[codes[0]]})
            areas.append(area)
        infos.append(info.model_copy(update={"area": tuple(areas)}))
    alert = alert.model_copy(update={"received": alert.received or raw.received, "info": tuple(infos)})
    ctx = directory.context(alert.tenant or "", alert)
    return localize_quake(localize(alert, ctx), ctx)


async def resolve_references(alert: Alert, ledger: Ledger) -> Alert | Refused:
    """Manual alerts name earlier alerts by identifier; fill in CAP's triple and the event key.

    An officer's update or cancel of an alert the ledger does not know is refused: it would
    otherwise be sent to nobody, silently.
    """
    if not alert.references or all(not r.endswith(",") for r in alert.references):
        return alert
    assert alert.tenant is not None
    refs: list[str] = []
    event_key = alert.event_key
    for i, ref in enumerate(alert.references):
        if not ref.endswith(","):
            refs.append(ref)
            continue
        identifier = ref.split(",")[1]
        earlier = await ledger.alert(alert.tenant, identifier)
        if earlier is None:
            return Refused(
                "unknown_reference", f"{alert.msg_type.value} of {identifier}, which this tenant never had"
            )
        refs.append(f"{earlier.sender},{earlier.identifier},{cap_datetime(earlier.sent)}")
        if i == 0:
            event_key = earlier.event_key
    return alert.model_copy(update={"references": tuple(refs), "event_key": event_key})


async def lift_as_update(alert: Alert, ledger: Ledger, claims: Sequence[Claim] | None = None) -> Alert:
    """A shared source's alert that lifts or lowers what a tenant was told becomes an Update of
    the latest alert the tenant had of the same event, so that it reaches every medium and
    audience that carried the graver word (docs/decisions.md, decisions 3 and 10).

    A lift is `allLifted` (a tsunami 解除 on the town's coast, every warning lifted), or a tsunami
    telegram that leaves the town's coast at 若干の海面変動 after the town was told of an
    advisory or a warning: it carries responseType AllClear. A tsunami lowered on the town's coast
    (大津波警報 to 津波注意報) is an Update without it. A lift for a town that was never told
    anything of the event stays as it came, and so does a telegram as grave as the last or graver
    (the rules send it as news).

    A warning lift (`claims`, pipeline/warnstate.py) is an all-clear of the alerts that told the
    town those warnings, in whichever format they came (docs/r06.md): the older format's lift
    after the level-based warning reaches where the level-based warning went.
    """
    if (
        alert.msg_type is not MsgType.ALERT
        or alert.origin == "manual"
        or not alert.info
        or alert.tenant is None
    ):
        return alert
    info = alert.primary
    lifted = (info.param("allLifted") or "").lower() == "true"
    tsunami = "tsunami" in info.event_codes(KIND)
    if not lifted and not tsunami:
        return alert
    earlier = await ledger.earlier_alerts(alert)
    tellers: list[str] = []
    if lifted and claims:
        tellers = await ledger.warning_tellers(
            alert.tenant, sorted({(c.area, h) for c in claims for h in c.hazards})
        )
    latest_id = earlier[-1] if earlier else (tellers[-1] if tellers else None)
    latest = await ledger.alert(alert.tenant, latest_id) if latest_id else None
    if latest is None or not latest.info:
        return alert
    told = latest.primary
    if not lifted:
        if ResponseType.ALL_CLEAR in told.response_type or _rank(info.severity) >= _rank(told.severity):
            return alert  # nothing lowered: the rules decide, as for any news
        if info.severity is Severity.MINOR:
            if told.severity not in _WARNED:
                return alert
            alert = as_lifted(alert)  # 若干の海面変動 after an advisory: the advisory is over
            info = alert.primary
            lifted = True
    response = info.response_type
    if lifted and ResponseType.ALL_CLEAR not in response:
        response = (*response, ResponseType.ALL_CLEAR)
    return alert.model_copy(
        update={
            "msg_type": MsgType.UPDATE,
            "references": await _references(ledger, latest, tellers),
            "info": (info.model_copy(update={"response_type": response}), *alert.info[1:]),
        }
    )


async def cancel_as_told(alert: Alert, ledger: Ledger) -> Alert:
    """A shared source's 取消 says, to each tenant, what that tenant was told: the severity and
    the event of the latest alert of the event the tenant had (a 大津波警報 coast hears that its
    大津波警報 is cancelled, the next coast its 津波警報), not the telegram's general title."""
    if (
        alert.msg_type is not MsgType.CANCEL
        or alert.origin == "manual"
        or not alert.info
        or alert.tenant is None
    ):
        return alert
    told: Alert | None = None
    for identifier in reversed(await ledger.earlier_alerts(alert)):
        earlier = await ledger.alert(alert.tenant, identifier)
        if earlier is not None and earlier.info and earlier.msg_type is not MsgType.CANCEL:
            told = earlier
            break
    if told is None:
        return alert
    # What the cancelled telegram told the town no longer holds (docs/r06.md): the corrected
    # telegram that follows is news again.
    await ledger.forget_warnings(alert.tenant, [told.identifier])
    was = told.primary
    info = alert.primary.model_copy(update={"severity": was.severity, "event": was.event})
    return alert.model_copy(update={"info": (info, *alert.info[1:])})


async def _references(ledger: Ledger, latest: Alert, tellers: Sequence[str]) -> tuple[str, ...]:
    """The alert the lift follows, and the alerts that told the town what it lifts."""
    tenant = latest.tenant or ""
    told = [latest] + [a for a in [await ledger.alert(tenant, i) for i in tellers] if a is not None]
    refs = [f"{a.sender},{a.identifier},{cap_datetime(a.sent)}" for a in told]
    return tuple(dict.fromkeys(refs))


def _rank(severity: Severity) -> int:
    order = (Severity.UNKNOWN, Severity.MINOR, Severity.MODERATE, Severity.SEVERE, Severity.EXTREME)
    return order.index(severity) if severity in order else 0


# What a town was told before a lift: an advisory or graver.
_WARNED = (Severity.EXTREME, Severity.SEVERE, Severity.MODERATE)


class NormalizeStage:
    group = "normalize"

    def __init__(
        self,
        bus: Bus,
        ledger: Ledger,
        parsers: Sequence[SourceParser],
        directory: TenantDirectory,
        retry_tiers: Sequence[float] = (1.0, 5.0, 30.0),
    ) -> None:
        self.retry_tiers = retry_tiers
        self.bus = bus
        self.ledger = ledger
        self.parsers = list(parsers)
        self.directory = directory
        # A telegram may be 5 MB of XML: parsed off the event loop, one at a time, as the
        # parsers' lxml objects are not shared between threads (broadcaster/offloop.py).
        self.lane = Lane("parse")

    async def handle(self, record: Record) -> Outcome:
        try:
            raw = RawEvent.model_validate_json(record.value)
        except ValidationError as e:
            # Not even a RawEvent: keep the bytes as one so nothing is lost.
            raw = RawEvent(source="unknown", body=record.value, submitted_by="bus", source_ref=record.topic)
            return await self._quarantine(raw, Refused("invalid_raw_event", str(e)[:1500]))
        parsed = await self.lane.run(parse, raw, self.parsers)
        if isinstance(parsed, Refused):
            return await self._quarantine(raw, parsed)
        try:
            followers = [
                await self.ledger.tenants_of_event(a.event_key, a.referenced_identifiers())
                if a.msg_type is not MsgType.ALERT and a.tenant is None and raw.tenant is None
                else set()
                for a in parsed
            ]
        except Exception as e:
            return Retry(backoff(record.attempt, self.retry_tiers), f"ledger: {e}")
        assigned = assign_tenants(parsed, raw, self.directory, followers)
        if isinstance(assigned, Refused):
            return await self._quarantine(raw, assigned)
        alerts: list[Alert] = []
        for alert in assigned:
            resolved = await resolve_references(alert, self.ledger)
            if isinstance(resolved, Refused):
                return await self._quarantine(raw, resolved)
            alerts.append(resolved)
        try:
            # A cancel names, to each town, what that town was told.
            alerts = [await cancel_as_told(a, self.ledger) for a in alerts]
            # A lift of everything the town was told is an all-clear of it, not news of its own.
            alerts = [
                await lift_as_update(
                    a, self.ledger, claims_of(a, self.directory.context(a.tenant, a)) if a.tenant else None
                )
                for a in alerts
            ]
            # Updates and cancels of this event that came first and reached nobody are recorded
            # for these tenants before this one: a cancelled original is then superseded, never sent.
            adopted = await self._adopt_orphans(raw, alerts)
            # One alert per real change (pipeline/merge.py): a report of a change another source
            # reported first is recorded as merged; a follow-up of such a report continues the
            # first report's event.
            alerts = await self.ledger.continue_merged(alerts)
            changes = [
                change_of(a, self.directory.context(a.tenant, a)) if a.tenant is not None else None
                for a in alerts
            ]
            # A warning telegram that changes nothing the town was told (another format of the
            # same change, docs/r06.md) is recorded as merged too, with the reason.
            warnings = [
                claims_of(a, self.directory.context(a.tenant, a)) if a.tenant is not None else None
                for a in alerts
            ]
            unchanged: dict[int, str] = {}
            states = await self.ledger.record_ingest(raw, alerts, changes, warnings, unchanged)
            if not alerts:
                orphan = next((a for a in parsed if a.msg_type is not MsgType.ALERT), None)
                if orphan is not None and raw.tenant is None:
                    await self.ledger.mark_orphan(raw.id, orphan.event_key)
        except Exception as e:  # the database is down: try again, nothing is lost meanwhile
            log.error("ledger_write_failed", stage=self.group, error=str(e))
            return Retry(backoff(record.attempt, self.retry_tiers), f"ledger: {e}")
        out: list[Outgoing] = []
        normalized = now()
        for index, (alert, state) in enumerate([*adopted, *zip(alerts, states, strict=True)]):
            reason = unchanged.get(index - len(adopted))
            if state == "merged" and reason is not None:
                log.info(
                    "alert_unchanged", tenant=alert.tenant, alert=alert.identifier, raw=raw.id, reason=reason
                )
                # On the town's audit trail, so that an officer asking why a telegram went
                # nowhere reads it on the console (docs/r06.md).
                await self._audit_unchanged(alert, raw, reason)
                continue
            if state == "merged":
                log.info("alert_merged", tenant=alert.tenant, alert=alert.identifier, raw=raw.id)
                continue
            if state != "received":
                log.info("alert_duplicate", tenant=alert.tenant, alert=alert.identifier, raw=raw.id)
                continue
            headers = stamp(carry(record.headers), H_NORMALIZED, normalized)
            headers[H_TENANT] = alert.tenant or ""
            out.append(alert_message(alert, headers))
            log.info(
                "alert_accepted",
                tenant=alert.tenant,
                alert=alert.identifier,
                status=alert.status.value,
                msg_type=alert.msg_type.value,
                raw=raw.id,
            )
        if not alerts:
            log.info("raw_unmatched", raw=raw.id, source=raw.source)
        await self.bus.publish_many(out)
        return Ack()

    async def _adopt_orphans(self, raw: RawEvent, alerts: Sequence[Alert]) -> list[tuple[Alert, str]]:
        """Record, for the tenants of `alerts`, the unmatched follow-ups of their events."""
        tenants: dict[str, set[str]] = {}
        for a in alerts:
            if a.tenant is not None and raw.tenant is None:
                tenants.setdefault(a.event_key, set()).add(a.tenant)
        if not tenants:
            return []
        out: list[tuple[Alert, str]] = []
        for orphan in await self.ledger.orphans_of(tenants):
            parsed = await self.lane.run(parse, orphan, self.parsers)
            if isinstance(parsed, Refused):
                continue
            followers = [tenants.get(a.event_key, set()) for a in parsed]
            assigned = assign_tenants(parsed, orphan, self.directory, followers)
            if isinstance(assigned, Refused) or not assigned:
                continue
            states = await self.ledger.record_ingest(orphan, assigned)
            out += list(zip(assigned, states, strict=True))
            log.info("orphan_adopted", raw=orphan.id, by=raw.id, alerts=len(assigned))
        return out

    async def _audit_unchanged(self, alert: Alert, raw: RawEvent, reason: str) -> None:
        try:
            await self.ledger.audit(
                actor="system:normalize",
                action="warning_unchanged",
                tenant=alert.tenant,
                target=alert.identifier,
                detail={"raw": raw.id, "reason": reason[:1000]},
            )
        except Exception as e:  # the alert is recorded; a lost audit line must not resend it
            log.error("audit_write_failed", stage=self.group, error=str(e))

    async def _quarantine(self, raw: RawEvent, refused: Refused) -> Outcome:
        log.warning(
            "raw_quarantined",
            raw=raw.id,
            source=raw.source,
            reason=refused.reason,
            detail=refused.detail[:300],
        )
        try:
            await self.ledger.record_quarantine(raw, refused.reason, refused.detail)
        except Exception as e:
            log.error("ledger_write_failed", stage=self.group, error=str(e))
            return Retry(2.0, f"ledger: {e}")
        return Ack()
