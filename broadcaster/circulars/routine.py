"""What officers do with circulars (console and API alike): write, release, call off, revoke a link.

Nothing here sends: a routine circular is stored as ``scheduled`` with its release time, and the
circular's scheduler job releases it then (at once for "now") and sends the notices. Revoking a
link and sending a new one, or telling leaders a circular was called off, likewise leaves pending
notices for the job.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from broadcaster.circulars import attachments, ids
from broadcaster.circulars import store as cs
from broadcaster.circulars.config import FormKind
from broadcaster.circulars.forms import FORMS
from broadcaster.circulars.records import CircularState
from broadcaster.circulars.service import Circulars

MAX_TITLE = 100
MAX_BODY = 10_000
MAX_QUESTION = 300


class RoutineError(ValueError):
    """What is wrong with an officer's circular, each problem on its own (Japanese, for the form)."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True, slots=True)
class RoutineSpec:
    title: str
    body: str
    districts: tuple[str, ...] = ()
    form: str = "none"
    question: str | None = None
    due: datetime | None = None
    release_at: datetime | None = None  # None: now
    drill: bool = False


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").strip()
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")


def check(svc: Circulars, tenant: str, spec: RoutineSpec, files: Sequence[tuple[str, bytes]]) -> tuple[RoutineSpec, list[attachments.Checked]]:
    cfg = svc.settings.circulars
    problems: list[str] = []
    title, body = _clean(spec.title), _clean(spec.body)
    question = _clean(spec.question or "") or None
    if not title:
        problems.append("件名を入れてください。")
    elif len(title) > MAX_TITLE:
        problems.append(f"件名は{MAX_TITLE}文字までです。")
    if not body:
        problems.append("本文を入れてください。")
    elif len(body) > MAX_BODY:
        problems.append(f"本文は{MAX_BODY}文字までです。")
    if spec.form not in FORMS:
        problems.append("回答の形式が正しくありません。")
    if spec.form == "yesno" and not question:
        problems.append("「はい・いいえ」で答える質問を入れてください。")
    if question and len(question) > MAX_QUESTION:
        problems.append(f"質問は{MAX_QUESTION}文字までです。")
    known = {d.id for d in svc.settings.tenants[tenant].districts} if tenant in svc.settings.tenants else set()
    unknown = [d for d in spec.districts if d not in known]
    if unknown:
        problems.append(f"この町にない地区です: {', '.join(unknown)}")
    at = svc.clock()
    if spec.due is not None and spec.due <= at:
        problems.append("期限は今より後にしてください。")
    if spec.release_at is not None and spec.due is not None and spec.release_at >= spec.due:
        problems.append("配信の時刻は期限より前にしてください。")
    if len(files) > cfg.max_attachments:
        problems.append(f"添付ファイルは{cfg.max_attachments}つまでです。")
    checked: list[attachments.Checked] = []
    for name, data in files[: cfg.max_attachments]:
        try:
            checked.append(attachments.check(name, data, max_bytes=cfg.max_attachment_bytes))
        except attachments.AttachmentError as e:
            problems.append(str(e))
    if problems:
        raise RoutineError(problems)
    clean = RoutineSpec(title, body, tuple(dict.fromkeys(spec.districts)), spec.form, question, spec.due, spec.release_at, spec.drill)
    return clean, checked


async def create(svc: Circulars, tenant: str, spec: RoutineSpec, files: Sequence[tuple[str, bytes]], actor: str) -> str:
    """Store an officer's circular and put its release on the scheduler; the new circular's id."""
    clean, checked = check(svc, tenant, spec, files)
    form = cast(FormKind, clean.form)  # checked against FORMS above
    new = cs.NewCircular(
        id=ids.routine_circular(),
        tenant=tenant,
        origin="routine",
        kind="routine",
        status="Exercise" if clean.drill else "Actual",
        priority="normal",
        title=clean.title,
        body=clean.body,
        form=form,
        created_by=actor,
        question=clean.question if form == "yesno" else None,
        districts=clean.districts,
        due=clean.due,
        release_at=clean.release_at or svc.clock(),
    )
    await cs.create_routine(svc.db, new, checked, svc.clock())
    await svc.schedule_tick(tenant, new.id)
    return new.id


async def release_now(svc: Circulars, tenant: str, circular_id: str, actor: str) -> bool:
    at = svc.clock()
    if not await cs.set_release(svc.db, tenant, circular_id, at, actor, at):
        return False
    await svc.schedule_tick(tenant, circular_id)
    return True


async def call_off(svc: Circulars, tenant: str, circular_id: str, actor: str) -> bool:
    """Withdraw a routine circular; the leaders who had it are told it was called off."""
    c = await cs.circular(svc.db, circular_id, tenant)
    if c is None or not await cs.withdraw(svc.db, tenant, circular_id, actor, svc.clock()):
        return False
    if c.state == CircularState.RELEASED:
        people = await cs.deliveries(svc.db, circular_id)
        targets = await cs.resolve(svc.db, tenant, [d.recipient for d in people], "leader", None, svc.settings.circulars.notify_channels)
        reach = {t.recipient: t.channels for t in targets}
        channels_of = {d.id: reach.get(d.recipient, ()) for d in people}
        await cs.add_notices(svc.db, list(channels_of), "cancel", channels_of, svc.clock())
    await svc.schedule_tick(tenant, circular_id)
    return True


async def revoke_link(svc: Circulars, tenant: str, circular_id: str, delivery_id: str, actor: str, *, resend: bool) -> int | None:
    """Every link the person has stops working; with `resend`, they get a new one."""
    d = await cs.delivery(svc.db, delivery_id)
    if d is None or d.circular_id != circular_id or d.tenant != tenant:
        return None
    version = await cs.revoke(svc.db, tenant, delivery_id, actor, svc.clock())
    if version is not None and resend:
        targets = await cs.resolve(svc.db, tenant, [d.recipient], d.role, d.district, svc.settings.circulars.notify_channels)
        channels = targets[0].channels if targets else ()
        await cs.add_notices(svc.db, [delivery_id], f"reissue-{version}", {delivery_id: channels}, svc.clock())
        await svc.schedule_tick(tenant, circular_id)
    return version
