"""One run of a circular's job: release it when due, remind, call the deputies, tell the officers.

The scheduler keeps one persisted job per circular (``circular:<id>``), always at the circular's
next due time; each run does what is due at `clock()` and puts the job at the next time (or
removes it). Everything is decided from the ledger at run time, so a job that runs late, twice,
or after the leader confirmed does the right thing: confirming is what stops the chain.

Steps, for each leader's delivery not confirmed (by the leader, or by a deputy of the district):

* ``remind`` at N minutes: the leader gets the link again ("まだ確認されていません");
* ``deputy`` at M: the district's deputies get the circular with links of their own;
* ``officers`` at K: a System alert to the tenant's officers (rules route kind ``system`` to
  them) naming the leaders and their phone numbers; the dashboard lists them too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from broadcaster.circulars import ids, steps
from broadcaster.circulars import store as cs
from broadcaster.circulars.notifier import Notifier
from broadcaster.circulars.records import Circular, CircularState, Delivery, Target
from broadcaster.circulars.service import Circulars
from broadcaster.logging import get_logger
from broadcaster.model import JST, Alert, Category, Severity
from broadcaster.model.system import system_alert
from broadcaster.pipeline.messages import alert_message

log = get_logger(__name__)
LABELS = {"Exercise": "【訓練】", "Test": "【試験】", "Draft": "【下書き】"}


def _jst(at: datetime | None) -> str:
    return "—" if at is None else f"{at.astimezone(JST):%H:%M}"


def officers_alert(
    svc: Circulars, c: Circular, late: Sequence[Delivery], phones: dict[int, list[str]], at: datetime
) -> Alert:
    label = LABELS.get(c.status, "")
    districts = "、".join(dict.fromkeys(svc.district_name(c.tenant, d.district) or "地区未設定" for d in late))
    lines = []
    for d in late:
        numbers = "、".join(phones.get(d.subscriber_id or -1, [])) or "電話番号の登録なし"
        lines.append(
            f"{svc.district_name(c.tenant, d.district) or ''} {d.who}：電話 {numbers}"
            f"（送信 {_jst(d.created)}、督促 {_jst(d.reminded_at)}、副区長へ {_jst(d.deputy_at)}）"
        )
    return system_alert(
        tenant=c.tenant,
        identifier=ids.officers_alert(c.id, [d.id for d in late]),
        topic=f"circular|{c.id}",
        event="回覧未確認",
        category=Category.SAFETY,
        severity=Severity.SEVERE if c.origin == "emergency" and not c.is_drill else Severity.MODERATE,
        headline=f"{label}回覧「{c.title[:60]}」の確認がありません：{districts}（{len(late)}人）",
        description="\n".join(lines),
        instruction=(
            "電話で安否と回覧の確認をしてください。"
            f"回覧の状況：{svc.settings.web.public_url.rstrip('/')}/t/{c.tenant}/circulars/{c.id}"
        ),
        parameters=(("circular", c.id),),
        at=at,
    )


class Chain:
    def __init__(self, svc: Circulars) -> None:
        self.svc = svc
        self.notifier = Notifier(svc)

    async def run(self, tenant: str, circular_id: str) -> None:
        svc = self.svc
        at = svc.clock()
        c = await cs.circular(svc.db, circular_id, tenant)
        if c is None:
            await svc.scheduler.remove(f"circular:{circular_id}")
            return
        if c.state == CircularState.SCHEDULED and (c.release_at or c.created) <= at:
            await self.release(c, at)
        elif c.state == CircularState.RELEASED:
            await self.steps(c, at)
        await self.notifier.send(await steps.sendable(svc.db, c.id, at))
        if self._officers_step(c):
            for did in await steps.unreachable(svc.db, c.id):
                await steps.expedite_officers(svc.db, did, at)
        await svc.schedule_tick(tenant, c.id)

    def _officers_step(self, c: Circular) -> bool:
        """Whether this kind of circular ever calls the officers (a routine one, by default, not):
        only then does a leader nobody can reach go to them early."""
        timing = self.svc.settings.circulars.timing_for(c.kind, emergency=c.origin == "emergency")
        return timing.officers_after_min is not None

    async def release(self, c: Circular, at: datetime) -> None:
        """A routine circular goes out: every leader of its districts (all, if none named)."""
        svc = self.svc
        timing = svc.settings.circulars.timing_for(c.kind, emergency=False)
        audiences = [f"leaders:{d}" for d in c.districts] or ["leaders"]
        targets: dict[str, Target] = {}
        for name in audiences:
            addresses = [r.address for r in await svc.audiences.recipients(c.tenant, name, "circular")]
            scope = name.split(":", 1)[1] if ":" in name else None
            for tg in await cs.resolve(svc.db, c.tenant, addresses, "leader", scope, svc.settings.circulars.notify_channels):
                targets.setdefault(tg.recipient, tg)
        def after(minutes: float | None) -> datetime | None:
            return None if minutes is None else at + timedelta(minutes=minutes)

        dues = {
            "remind": after(timing.remind_after_min),
            "deputy": after(timing.deputy_after_min),
            "officers": after(timing.officers_after_min),
        }
        ready = [
            Target(tg.recipient, tg.subscriber_id, tg.role, tg.district, tg.name, tg.title, tg.channels, dict(dues))
            for tg in targets.values()
        ]
        done = await cs.release(svc.db, c.id, ready, at)
        log.info("circular_released", circular=c.id, people=len(ready), released=done is not None)

    async def steps(self, c: Circular, at: datetime) -> None:
        due = await steps.due(self.svc.db, c.id, at)
        if due["remind"]:
            await self._remind(c, due["remind"], at)
        if due["deputy"]:
            await self._deputies(c, due["deputy"], at)
        if due["officers"]:
            await self._officers(c, due["officers"], at)

    async def _channels(self, c: Circular, people: Sequence[Delivery], role: str) -> dict[str, tuple[str, ...]]:
        found = await cs.resolve(
            self.svc.db, c.tenant, [d.recipient for d in people], role, None, self.svc.settings.circulars.notify_channels
        )
        by_recipient = {t.recipient: t.channels for t in found}
        return {d.id: by_recipient.get(d.recipient, ()) for d in people}

    async def _remind(self, c: Circular, people: Sequence[Delivery], at: datetime) -> None:
        channels = await self._channels(c, people, "leader")
        notices = [(did, "reminder", ch) for did, chs in channels.items() for ch in chs]
        taken = await steps.take(self.svc.db, "remind", [d.id for d in people], at, notices=notices)
        log.info("circular_reminded", circular=c.id, people=len(taken))

    async def _deputies(self, c: Circular, people: Sequence[Delivery], at: datetime) -> None:
        svc = self.svc
        by_district: dict[str | None, list[Delivery]] = {}
        for d in people:
            by_district.setdefault(d.district, []).append(d)
        for district, leaders in by_district.items():
            stand_ins: list[Target] = []
            if district is not None:
                addresses = [r.address for r in await svc.audiences.recipients(c.tenant, f"deputies:{district}", "circular")]
                stand_ins = await cs.resolve(svc.db, c.tenant, addresses, "deputy", district, svc.settings.circulars.notify_channels)
            taken = await steps.take(svc.db, "deputy", [d.id for d in leaders], at, stand_ins=stand_ins)
            if taken and not stand_ins and self._officers_step(c):
                # No deputy to turn to: the officers are the next step, now.
                for did in taken:
                    await steps.expedite_officers(svc.db, did, at)
            log.info("circular_deputies_called", circular=c.id, district=district, deputies=len(stand_ins), leaders=len(taken))

    async def _officers(self, c: Circular, people: Sequence[Delivery], at: datetime) -> None:
        svc = self.svc
        phones = await cs.phones(svc.db, [d.subscriber_id for d in people if d.subscriber_id is not None])
        alert = officers_alert(svc, c, people, phones, at)
        # Recorded before it is published, as every alert is; recorded already (a run that died
        # before claiming the step) means published or left for the re-driver: not again.
        if await svc.ledger.record_alert(alert, submitted_by="system:circulars"):
            await svc.bus.publish_many([alert_message(alert)])
        taken = await steps.take(svc.db, "officers", [d.id for d in people], at)
        log.warning("circular_officers_told", circular=c.id, leaders=len(taken), alert=alert.identifier)
