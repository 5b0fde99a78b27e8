"""The leader's checklist of people who need help (避難行動要支援者): the two regimes (consented
entries always, the others only while an alert is in force, and the page says why), marks,
audit of every view and mark; another district's leader, another tenant's officer and an expired
link see nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from broadcaster.circulars import routine
from broadcaster.circulars import store as cs
from broadcaster.circulars.chain import Chain
from broadcaster.coverage import support
from broadcaster.coverage.support import Entry
from broadcaster.store import tables as t
from tests.circular_helpers import path_of
from tests.integration.test_circular_web import BROWSER, Env, _env
from tests.rules_helpers import manual
from tests.web_helpers import client

LIST = [
    Entry("S-1", "kawashima", "能登 ハナ", "川島イ-1", "車いす", "長男 090-0000-0001", consent=True),
    Entry("S-2", "kawashima", "輪島 タロウ", "川島ロ-2", "目が不自由", None, consent=False),
    Entry("S-3", "omachi", "大町 ジロウ", "大町ハ-3", "寝たきり", None, consent=True),
]


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async for e in _env(tmp_path):
        yield e


async def _links(env: Env) -> dict[str, str]:
    spec = routine.RoutineSpec(
        title="名簿の確認", body="名簿を確認してください。", districts=("kawashima", "omachi")
    )
    cid = await routine.create(env.svc, "anamizu", spec, [], "officer:anamizu/tanaka")
    await Chain(env.svc).run("anamizu", cid)
    return {
        d.name or "": path_of(env.svc.link(d.id, d.link_version))
        for d in await cs.deliveries(env.svc.db, cid)
    }


async def _audit(env: Env, action: str) -> list[dict[str, object]]:
    a = t.audit_log
    rows = await env.svc.db.read(
        lambda c: c.execute(sa.select(a.c.actor, a.c.target, a.c.detail).where(a.c.action == action)).all()
    )
    return [{"actor": r.actor, "target": r.target, **r.detail} for r in rows]


async def test_two_regimes_marks_and_audit(env: Env) -> None:
    await support.replace_list(env.svc.db, "anamizu", LIST)
    links = await _links(env)
    yamada = env.base + links["山田太郎"] + "/support"
    async with client() as s:
        async with s.get(yamada, headers=BROWSER) as r:
            page = await r.text()
            assert r.status == 200
        # Normal times: only who consented, nothing to mark.
        assert "能登 ハナ" in page and "車いす" in page and "長男 090-0000-0001" in page
        assert "輪島 タロウ" not in page and "大町 ジロウ" not in page
        assert 'name="mark"' not in page
        async with s.post(yamada, data={"person": "S-1", "mark": "told"}, allow_redirects=False) as r:
            assert r.status == 409

        alert = manual(
            status="Actual",
            kind="evacuation",
            event="避難指示",
            headline="川島地区に避難指示",
            at=env.clock(),
        )
        await env.svc.ledger.record_alert(alert, state="routed")
        async with s.get(yamada, headers=BROWSER) as r:
            page = await r.text()
        assert "輪島 タロウ" in page and "目が不自由" in page, "in force: the entries without consent too"
        assert "「川島地区に避難指示」が出ているため" in page, "the page says why it can see them"
        assert "大町 ジロウ" not in page, "never another district's people"
        for person, mark in (("S-1", "told"), ("S-2", "help"), ("S-3", "evacuated")):
            async with s.post(
                yamada, data={"person": person, "mark": mark, "note": "玄関で話した"}, allow_redirects=False
            ) as r:
                assert r.status == 303
        async with s.get(yamada, headers=BROWSER) as r:
            page = await r.text()
        assert "伝達済 1人" in page and "支援要請 1人" in page and "避難済 0人" in page

        # The officers see counts per district, never the people.
        await env.web.login(s, "viewer")
        async with s.get(f"{env.base}/t/anamizu/support") as r:
            console = await r.text()
            assert r.status == 200
        assert "輪島" not in console and "能登" not in console
        assert (
            '<tr data-district="川島"><th scope="row">川島</th><td>2</td><td>1</td><td>0</td><td>0</td><td>1</td><td>0</td></tr>'
            in console
        )

        # The event ends: the entries without consent are gone from the page.
        env.clock.advance(hours=25)
        async with s.get(yamada, headers=BROWSER) as r:
            page = await r.text()
        assert "輪島 タロウ" not in page and "能登 ハナ" in page
        # An expired link shows nobody.
        env.clock.advance(days=15)
        async with s.get(yamada, headers=BROWSER) as r:
            assert r.status == 410
            assert "能登" not in await r.text()

    views = await _audit(env, "support_list_viewed")
    assert [v["people"] for v in views] == [1, 2, 2, 1]
    assert all(v["actor"] == "leader:L-yamada" and v["target"] == "kawashima" for v in views)
    marked = await _audit(env, "support_person_marked")
    assert [(m["person"], m["mark"]) for m in marked] == [("S-1", "told"), ("S-2", "help")], (
        "S-3 is not 山田's to mark"
    )


async def test_another_district_and_another_tenant_see_nothing(env: Env) -> None:
    await support.replace_list(env.svc.db, "anamizu", LIST)
    alert = manual(status="Actual", kind="evacuation", event="避難指示", headline="避難指示", at=env.clock())
    await env.svc.ledger.record_alert(alert, state="routed")
    links = await _links(env)
    async with client() as s:
        async with s.get(env.base + links["鈴木花子"] + "/support", headers=BROWSER) as r:
            page = await r.text()
        assert "大町 ジロウ" in page and "能登" not in page and "輪島 タロウ" not in page
        await env.web.login(s, "wajima_op")
        async with s.get(f"{env.base}/t/anamizu/support") as r:
            assert r.status in (403, 404) and "川島" not in await r.text()
    assert await support.event_in_force(env.svc.db, "wajima", env.svc.settings.coverage, env.clock()) is None
    assert await support.checklist(env.svc.db, "wajima", "kawashima", None) == []


def test_the_csv_is_checked_line_by_line() -> None:
    districts = {"kawashima": "kawashima", "川島": "kawashima"}
    text = "id,district,name,address,needs,contact,consent\nS-1,川島,能登,,,,はい\nS-1,大町,,,,,maybe\n"
    entries, problems = support.read_csv(text, districts)
    assert [e.id for e in entries] == ["S-1"] and entries[0].consent
    assert problems == [
        "line 3: id 'S-1' is empty, too long or repeated",
        "line 3: no district '大町' in this municipality",
        "line 3: name is empty",
        "line 3: consent 'maybe': yes or no",
    ]
