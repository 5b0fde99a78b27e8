"""A district under-reached goes to its leader: the circular, the list of households not reached
on the leader's page (own district only), 伝えた marks the household reached and is audited; a
district is flagged once; an expired link shows nobody."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from broadcaster.circulars import store as cs
from broadcaster.circulars.chain import Chain
from broadcaster.coverage import flags, safety
from broadcaster.coverage.counts import compute
from broadcaster.store import tables as t
from broadcaster.store.audiences import Audiences, Person
from tests.circular_helpers import path_of
from tests.integration.test_circular_web import BROWSER, Env, _env
from tests.rules_helpers import manual
from tests.web_helpers import client

DISTRICTS = {"kawashima": "川島", "omachi": "大町"}
PEOPLE = [
    Person("R-1", name="川島 一郎", districts=("kawashima",), household="k1", address="川島イ-1",
           endpoints=(("phone", "0768520101"),)),
    Person("R-3", name="岩田 三郎", districts=("kawashima",), household="k2", address="川島ロ-5",
           endpoints=(("phone", "0768520103"),)),
    Person("R-5", name="大町 五郎", districts=("omachi",), household="o1", address="大町ハ-3",
           endpoints=(("phone", "0768520105"),)),
]  # fmt: skip


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async for e in _env(tmp_path):
        yield e


async def _alert(env: Env) -> tuple[str, object]:
    await Audiences(env.svc.db).import_people("anamizu", PEOPLE)
    alert = manual(
        status="Actual",
        kind="evacuation",
        event="避難指示",
        headline="川島地区に避難指示",
        at=env.clock() - timedelta(minutes=40),
    )
    await env.svc.ledger.record_alert(alert, state="routed")
    return alert.identifier, alert.received


async def test_a_flagged_district_goes_to_its_leader_with_the_households_not_reached(env: Env) -> None:
    alert_id, _ = await _alert(env)
    made = await flags.sweep(env.svc)
    assert len(made) == 2, "both districts are under 80 % forty minutes in"
    assert await flags.sweep(env.svc) == [], "a district is flagged once per alert"
    assert set(await flags.flagged(env.svc.db, "anamizu", alert_id)) == {"kawashima", "omachi"}
    for cid in made:
        await Chain(env.svc).run("anamizu", cid)
    by_district = {}
    for cid in made:
        for d in await cs.deliveries(env.svc.db, cid):
            by_district[d.district] = (cid, d)
    cid, yamada = by_district["kawashima"]
    assert yamada.name == "山田太郎"
    circular = await cs.circular(env.svc.db, cid)
    assert circular is not None and circular.kind == "coverage" and "岩田" not in circular.body, (
        "the circular names no one"
    )
    link = path_of(env.svc.link(yamada.id, yamada.link_version))
    _, suzuki = by_district["omachi"]
    async with client() as s:
        async with s.get(env.base + link, headers=BROWSER) as r:
            page = await r.text()
            assert r.status == 200
        assert "岩田 三郎" in page and "川島ロ-5" in page and "山田太郎" in page
        assert "大町 五郎" not in page and "大町ハ-3" not in page, "another district's people are never shown"
        async with s.post(env.base + link + "/reached", data={"household": "k2"}, allow_redirects=False) as r:
            assert r.status == 303
        # 山田's link cannot mark a household of 大町.
        async with s.post(env.base + link + "/reached", data={"household": "o1"}, allow_redirects=False) as r:
            assert r.status == 303
        async with s.get(env.base + link, headers=BROWSER) as r:
            page = await r.text()
        assert "岩田 三郎" not in page and "川島 一郎" in page
        env.clock.advance(days=15)
        async with s.get(env.base + link, headers=BROWSER) as r:
            assert r.status == 410 and "川島" not in await r.text()
        async with s.post(env.base + link + "/reached", data={"household": "k1"}, allow_redirects=False) as r:
            assert r.status == 410
    cov = await compute(env.svc.db, "anamizu", alert_id, DISTRICTS, env.svc.settings.coverage)
    assert cov is not None
    rows = {r.district: r for r in cov.districts}
    assert rows["kawashima"].by_medium == {"leader": 1} and rows["omachi"].reached == 0
    audited = await env.svc.db.read(lambda c: c.execute(
        sa.select(t.audit_log.c.actor, t.audit_log.c.action, t.audit_log.c.detail).where(t.audit_log.c.action == "coverage_household_told")
    ).all())  # fmt: skip
    assert [(a, d["household"]) for a, _, d in audited] == [("leader:L-yamada", "k2")]
    assert suzuki.name == "鈴木花子"


async def test_a_drill_is_counted_but_sends_no_flag(env: Env) -> None:
    await Audiences(env.svc.db).import_people("anamizu", PEOPLE)
    drill = manual(
        status="Exercise",
        kind="evacuation",
        event="避難指示",
        headline="訓練",
        at=env.clock() - timedelta(minutes=40),
    )
    await env.svc.ledger.record_alert(drill, state="routed")
    assert await flags.sweep(env.svc) == []
    cov = await compute(
        env.svc.db, "anamizu", drill.identifier, DISTRICTS, env.svc.settings.coverage, at=env.clock()
    )
    assert cov is not None and [r.district for r in cov.flagged] == ["kawashima", "omachi"]


async def test_a_leader_confirming_the_alerts_circular_reaches_the_households_not_reached(env: Env) -> None:
    from tests.integration.test_circular_web import _emergency

    await Audiences(env.svc.db).import_people("anamizu", PEOPLE)
    _, links = await _emergency(env)
    (alert_id,) = {c.alert_id for c in await cs.circulars_of(env.svc.db, "anamizu")}
    assert alert_id is not None
    # 岩田's household answered the safety check already: it stays reached by its answer alone.
    await safety.record(env.svc.db, "anamizu", alert_id, "R-3", "k2", "safe", None, via="line")
    before = await compute(env.svc.db, "anamizu", alert_id, DISTRICTS, env.svc.settings.coverage)
    assert before is not None
    rows = {r.district: r for r in before.districts}
    assert rows["kawashima"].reached == 1 and rows["kawashima"].households > 1
    async with client() as s:
        for _ in range(2):  # a double tap confirms once
            async with s.post(env.base + path_of(links["山田太郎"]) + "/confirm", allow_redirects=False) as r:
                assert r.status == 303
    after = await compute(env.svc.db, "anamizu", alert_id, DISTRICTS, env.svc.settings.coverage)
    assert after is not None
    rows = {r.district: r for r in after.districts}
    k = rows["kawashima"]
    assert k.reached == k.households and k.by_medium["circular"] == k.households - 1
    assert k.by_medium["safety"] == 1
    assert rows["omachi"].reached == 0, "鈴木 has not confirmed: 大町 is not reached by the circular"
    marked = await env.svc.db.read(lambda c: c.execute(
        sa.select(t.reach_marks.c.household, t.reach_marks.c.actor).where(t.reach_marks.c.medium == "circular")
    ).all())  # fmt: skip
    assert "k2" not in {h for h, _ in marked} and {a for _, a in marked} == {"leader:L-yamada"}
    audited = await env.svc.db.read(lambda c: c.execute(
        sa.select(t.audit_log.c.detail).where(t.audit_log.c.action == "coverage_circular_confirmed")
    ).scalars().all())  # fmt: skip
    assert [d["households"] for d in audited] == [k.households - 1]
