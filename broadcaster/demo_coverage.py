"""The demo's safety-check drill: coverage per district rising as residents answer and a leader
marks the households on their list (docs/coverage.md, docs/drills.md).

An officer sends a 安否確認 (an alert with the `safety_check` parameter) to two districts; the
demo's invented residents then answer the way they would: taps on LINE's quick reply go through
the LINE webhook's own handler, e-mail answers are POSTed to the town's answer page (the web app
on a loopback port), and one district's leader marks households they told as the leader's page
does. After each step the demo reads coverage back from the ledger and prints it, so every
figure is what was recorded, never a number of the demo's own.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa

from broadcaster import safety_links, unsubscribe
from broadcaster.audience import AudienceName
from broadcaster.coverage import marks
from broadcaster.coverage.counts import Coverage, compute
from broadcaster.coverage.report import pad, render, text_width
from broadcaster.followers import Conversation
from broadcaster.pipeline.runtime import Runtime
from broadcaster.settings import Settings
from broadcaster.store import tables as t
from broadcaster.store.ledger import Ledger

TENANT = "anamizu"
# Who answers, per district (by the demo resident's number, broadcaster/demo.py) and what.
LINE_ANSWERS: Sequence[tuple[int, str]] = ((1, "safe"), (3, "evacuated"), (5, "need_help"), (7, "safe"))
EMAIL_ANSWERS: Sequence[tuple[int, str]] = ((0, "safe"), (4, "evacuated"), (8, "safe"))
# How many households the leader of the first district tells (the ones not reached otherwise).
LEADER_TELLS = 3
TIMELINE_HEAD = "Coverage per district over time (households reached / households):"


@dataclass(frozen=True, slots=True)
class Snapshot:
    label: str
    coverage: Coverage


async def run(runtime: Runtime, alert_id: str, echo: Callable[[str], None]) -> list[Snapshot]:
    """Drive the answers and marks for `alert_id`; print coverage after each step and a table."""
    settings, ledger = runtime.settings, runtime.ledger
    town = settings.tenants[TENANT]
    districts = {d.id: d.name for d in town.districts}
    started = time.monotonic()
    shots: list[Snapshot] = []

    async def snapshot(label: str) -> None:
        cov = await compute(ledger.db, TENANT, alert_id, districts, settings.coverage)
        assert cov is not None
        seconds = time.monotonic() - started
        shots.append(Snapshot(f"t+{seconds:.0f}s {label}", cov))
        parts = ", ".join(f"{row.name} {row.reached}/{row.households}" for row in cov.districts)
        echo(f"    t+{seconds:4.1f}s  {pad(label, 26, right=False)} {parts}")

    await snapshot("sent")
    # Residents answer where the alert's personal media (LINE, e-mail) went: its districts.
    targets = await _addressed(ledger, alert_id)
    tapped = await _line_taps(runtime.conversation, settings, alert_id, targets)
    await snapshot(f"{tapped} LINE taps")
    # The town's answer page, on a loopback port of its own for the drill.
    from broadcaster.web.app import WebServer, build_app
    from broadcaster.web.context import WebContext

    ctx = WebContext.build(runtime)
    server = WebServer(build_app(ctx), "127.0.0.1", 0)
    try:
        port = await server.start()
        posted = await _email_answers(settings, alert_id, targets, port)
        await snapshot(f"{posted} e-mail answers")
        told = await _leader_marks(ledger, settings, alert_id, targets[0], districts)
        await snapshot(f"leader told {told}")
        confirmed = await _leader_confirms(ctx, alert_id, targets[-1], port)
        await snapshot(f"{districts[targets[-1]]}'s leader confirms" if confirmed else "no circular to confirm")
    finally:
        await server.stop()
    echo("")
    echo(TIMELINE_HEAD)
    for line in timeline(shots):
        echo("  " + line)
    echo("")
    for line in render(shots[-1].coverage):
        echo("  " + line)
    return shots


def timeline(shots: Sequence[Snapshot]) -> list[str]:
    """One row per district, one column per snapshot (named in a legend below)."""
    head = ["district", *(f"({n})" for n in range(1, len(shots) + 1))]
    rows = [head]
    for i, first in enumerate(shots[0].coverage.districts):
        cells = [first.name or first.district]
        for s in shots:
            row = s.coverage.districts[i]
            cells.append(f"{row.reached}/{row.households} {row.share:.0%}")
        rows.append(cells)
    widths = [max(text_width(r[k]) for r in rows) for k in range(len(head))]
    out = ["  ".join(pad(c, widths[k], right=k > 0) for k, c in enumerate(r)).rstrip() for r in rows]
    out += [f"({n}) {s.label}" for n, s in enumerate(shots, 1)]
    return out


async def _addressed(ledger: Ledger, alert_id: str) -> list[str]:
    """The districts the alert's dispatches named (`district:kawashima`, `leaders:omachi`...)."""
    d = t.dispatches
    query = sa.select(d.c.audience).where(d.c.tenant == TENANT, d.c.alert_id == alert_id).distinct()
    scopes: set[str] = set()
    for text in await ledger.db.read(lambda c: list(c.execute(query).scalars())):
        with contextlib.suppress(ValueError):
            scope = AudienceName.parse(text).scope
            if scope is not None:
                scopes.add(scope)
    return sorted(scopes)


def resident_line(t_index: int, d_index: int, i: int) -> str:
    """The LINE user id of the demo's resident `i` of the town's `d_index`th district: shaped as
    LINE's (U and 32 hex digits), which the webhook requires."""
    return f"U{t_index:02x}{d_index:02x}{i:028x}"


def _index(settings: Settings, district: str) -> int:
    return [d.id for d in settings.tenants[TENANT].districts].index(district)


async def _line_taps(conversation: Conversation, settings: Settings, alert_id: str, targets: Sequence[str]) -> int:
    """Residents tap the quick reply's buttons: LINE's webhook events, handled by the process's
    LINE conversation as the webhook hands them on (the demo has no LINE channel secret, so the
    webhook's door is the one part not run here; tests/integration/test_safety_line.py runs it)."""
    now_ms = int(time.time() * 1000)
    t_index = list(settings.tenants).index(TENANT)
    events: list[dict[str, Any]] = []
    for district in targets:
        d_index = _index(settings, district)
        for i, answer in LINE_ANSWERS:
            events.append(
                {
                    "type": "postback",
                    "mode": "active",
                    "timestamp": now_ms,
                    "webhookEventId": f"01DEMO{d_index:02d}{i:02d}{len(events):04d}",
                    "deliveryContext": {"isRedelivery": False},
                    "source": {"type": "user", "userId": resident_line(t_index, d_index, i)},
                    "replyToken": f"demo-{d_index}-{i}",
                    "postback": {"data": safety_links.postback(alert_id, answer)},
                }
            )
    recorded = 0
    for event in conversation.read(json.dumps({"destination": "Udemo", "events": events}).encode("utf-8")).events:
        if (await conversation.handle(TENANT, event, reply=False)).startswith("safety:recorded"):
            recorded += 1
    return recorded


def _email(tenant: str, district: str, i: int) -> str:
    return f"{tenant}.{district}.{i}@example.jp"


async def _email_answers(settings: Settings, alert_id: str, targets: Sequence[str], web_port: int) -> int:
    """Residents open the link their e-mail carries (the token the e-mail adapter makes) and
    press a button on the town's answer page, a POST to the web app on loopback."""
    key = unsubscribe.key_of(settings)
    base = f"http://127.0.0.1:{web_port}"
    answered = 0
    async with aiohttp.ClientSession() as session:
        for district in targets:
            for i, answer in EMAIL_ANSWERS:
                value = safety_links.token(key, TENANT, alert_id, "email", _email(TENANT, district, i))
                link = safety_links.url(base, TENANT, value)
                async with session.post(link, data={"answer": answer, "note": ""}, allow_redirects=False) as r:
                    if r.status in (302, 303):
                        answered += 1
    return answered


async def _leader_marks(
    ledger: Ledger, settings: Settings, alert_id: str, district: str, districts: dict[str, str]
) -> int:
    """The district's leader tells households on their list (those not reached yet) and marks
    them 伝えた, recorded and audited as the leader's page does (broadcaster/web/circular_leader.py)."""
    cov = await compute(ledger.db, TENANT, alert_id, districts, settings.coverage)
    assert cov is not None
    row = next(r for r in cov.districts if r.district == district)
    leader = await _leader_id(ledger, district)
    actor = f"leader:{leader}"
    told = 0
    for household in row.unreached[:LEADER_TELLS]:
        if await marks.mark(ledger.db, TENANT, alert_id, household.key, "leader", actor=actor):
            await ledger.audit(
                actor=actor, action="coverage_household_told", tenant=TENANT, target=alert_id, origin="demo",
                detail={"district": district, "household": household.key},
            )  # fmt: skip
            told += 1
    return told


async def _leader_confirms(ctx: Any, alert_id: str, district: str, port: int) -> bool:
    """The district's leader presses 確認しました on the alert's circular, by their personal link
    (a POST to the leader's page): the households it goes round count as reached by it."""
    from broadcaster.circulars import store as cs
    from broadcaster.web.circular_web import circulars

    svc = circulars(ctx)
    for c in await cs.circulars_of(ctx.ledger.db, TENANT):
        if c.alert_id != alert_id:
            continue
        for d in await cs.deliveries(ctx.ledger.db, c.id):
            if d.district == district and d.role == "leader":
                path = "/c/" + svc.link(d.id, d.link_version).rsplit("/c/", 1)[1]
                async with aiohttp.ClientSession() as session, session.post(
                    f"http://127.0.0.1:{port}{path}/confirm", allow_redirects=False
                ) as r:
                    return r.status == 303
    return False


async def _leader_id(ledger: Ledger, district: str) -> str:
    s, sd = t.subscribers, t.subscriber_districts
    query = (
        sa.select(s.c.external_ref)
        .select_from(s.join(sd, sd.c.subscriber_id == s.c.id))
        .where(s.c.tenant == TENANT, s.c.kind == "leader", sd.c.district == district)
    )
    found = await ledger.db.read(lambda c: c.execute(query).scalar())
    return str(found or district)


def sample(samples: Path) -> Path:
    return samples / "manual" / "safety_check.json"
