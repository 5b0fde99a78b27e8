"""The two-person rule without side doors (docs/approval.md), one test per door that was open:

1. one operator (an API token) sent a real missile alert, or a `notice` headed 【警戒レベル５】
   緊急安全確保, to every medium at once;
2. one operator cancelled JMA's real 大津波警報 on every medium, saying that it was an error;
3. an approved evacuation order was changed or cancelled without approval by an Update or
   Cancel of kind `notice`; two approver API tokens of one town approved by themselves.

The town's rules here hold nothing: every hold below is the rule in code.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pyotp
import pytest
import sqlalchemy as sa

from broadcaster.model import RawEvent
from broadcaster.pipeline.approval import ApprovalError, approve, check_approver
from broadcaster.store import tables as t
from broadcaster.store.users import Role, Users
from broadcaster.web.app import WebServer, build_app
from broadcaster.web.auth import hash_password
from broadcaster.web.context import WebContext
from tests.canaries import OFFICER_PASSWORD, canary_totp, remember
from tests.helpers import ROOT, Running, eventually, make_settings, running_pipeline
from tests.web_helpers import client, free_port

TENANTS = {
    "anamizu": {
        "name": "穴水町",
        "areas": {"jma": ["1746100"]},
        "districts": [{"id": "kawashima", "name": "川島"}],
    },
    "wajima": {"name": "輪島市", "areas": {"jma": ["1720400"]}, "delegates": ["anamizu"]},
}
# The town's rules send everything everywhere and hold nothing.
RULES = """rules:
  - name: system to officers
    match: {kind: system}
    channels: [email]
    audience: officers
  - name: the town's own also to L-Alert
    match: {origin: [manual]}
    channels: [website, line, email, lalert_out]
  - name: everything everywhere
    default: true
    channels: [website, line, email]
"""
OFFICERS = {
    "tanaka": ("anamizu", {"anamizu": Role.OPERATOR}),
    "sato": ("anamizu", {"anamizu": Role.APPROVER}),
    "suzuki": ("anamizu", {"anamizu": Role.APPROVER}),
}


@dataclass
class Doors:
    run: Running
    base: str
    secrets: dict[str, str]
    tokens: dict[str, str]

    async def login(self, s: aiohttp.ClientSession, user: str) -> str:
        data = {"username": user, "password": OFFICER_PASSWORD, "code": pyotp.TOTP(self.secrets[user]).now()}
        async with s.post(f"{self.base}/login", data=data, allow_redirects=False) as r:
            assert r.status == 303, await r.text()
        async with s.get(f"{self.base}/console") as r:
            found = re.search(r'name="csrf" value="([^"]+)"', await r.text())
        assert found
        return found.group(1)

    async def api_send(self, token: str, doc: dict[str, Any]) -> str:
        async with (
            client() as s,
            s.post(
                f"{self.base}/api/v1/tenants/anamizu/alerts",
                json=doc,
                headers={"Authorization": f"Bearer {token}"},
            ) as r,
        ):
            assert r.status == 202, await r.text()
            return str((await r.json())["alert_id"])

    async def settled(self, alert_id: str) -> str:
        """The alert's state once the route stage has decided (held, routed or done)."""

        async def state() -> str | None:
            s = await self.run.ledger.alert_state("anamizu", alert_id)
            return s if s in ("held", "routed", "done") else None

        return str(await eventually(state))

    async def dispatch_states(self, alert_id: str) -> set[str]:
        d = t.dispatches
        rows = await self.run.ledger.db.read(
            lambda c: c.execute(sa.select(d.c.state).where(d.c.alert_id == alert_id)).all()
        )
        return {r.state for r in rows}

    def sent(self, alert_id: str) -> list[dict[str, Any]]:
        return [
            r
            for ch in ("website", "line", "email", "lalert_out")
            for r in self.run.outbox("anamizu", ch)
            if r["alert"] == alert_id
        ]


@asynccontextmanager
async def doors(tmp: Path) -> AsyncIterator[Doors]:
    rules = tmp / "rules" / "_default"
    rules.mkdir(parents=True)
    (rules / "10.yaml").write_text(RULES, encoding="utf-8")
    port = free_port()
    settings = make_settings(
        tmp,
        tenants=TENANTS,
        rules_dir=tmp / "rules",
        web={"port": port, "public_url": f"http://127.0.0.1:{port}"},
    )
    async with running_pipeline(settings) as run:
        await run.ledger.ensure_tenants((x.id, x.name) for x in settings.tenants.values())
        users = Users(run.ledger.db)
        secrets = {}
        pw = hash_password(OFFICER_PASSWORD)
        for name, (home, roles) in OFFICERS.items():
            secrets[name] = canary_totp()
            await users.add(
                name,
                display_name=name,
                home_tenant=home,
                password_hash=pw,
                totp_secret=secrets[name],
                roles=roles,
            )
        tokens = {
            "operator": await users.create_token("anamizu", "cms", Role.OPERATOR),
            "approver_a": await users.create_token("anamizu", "ops-a", Role.APPROVER),
            "approver_b": await users.create_token("anamizu", "ops-b", Role.APPROVER),
        }
        for token in tokens.values():
            remember(token, "API token")
        for n in range(3):
            await run.runtime.audiences.add(
                "anamizu",
                districts=["kawashima"],
                endpoints={"line": f"U{n:032x}", "email": f"r{n}@example.jp"},
            )
        ctx = WebContext.build(run.runtime)
        server = WebServer(build_app(ctx), "127.0.0.1", port)
        await server.start()
        try:
            yield Doors(run, f"http://127.0.0.1:{port}", secrets, tokens)
        finally:
            await server.stop()


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Doors]:
    async with doors(tmp_path) as e:
        yield e


MISSILE = {
    "status": "Actual",
    "kind": "missile",
    "event": "弾道ミサイル情報",
    "headline": "ミサイル発射情報",
    "description": "ミサイルが発射されたものとみられます。建物の中、又は地下に避難してください。",
    "urgency": "Immediate",
    "severity": "Extreme",
    "certainty": "Observed",
}


# -- door 1 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param(MISSILE, id="missile"),
        pytest.param(
            {
                "status": "Actual",
                "kind": "notice",
                "event": "お知らせ",
                "headline": "【警戒レベル５】緊急安全確保",
            },
            id="notice-named-level-5",
        ),
    ],
)
async def test_door1_one_operator_token_cannot_send_a_life_safety_alert(
    env: Doors, doc: dict[str, Any]
) -> None:
    alert_id = await env.api_send(env.tokens["operator"], doc)
    assert await env.settled(alert_id) == "held"
    assert await env.dispatch_states(alert_id) == {"held"}
    assert env.sent(alert_id) == [], "nothing reaches residents before a second officer"
    rows = await env.run.ledger.db.read(
        lambda c: c.execute(
            sa.select(t.audit_log.c.actor, t.audit_log.c.detail).where(
                t.audit_log.c.action == "held", t.audit_log.c.target == alert_id
            )
        ).all()
    )
    assert [r.actor for r in rows] == ["token:anamizu/cms"], "held once, in the audit log, with why"
    assert rows[0].detail["reasons"]


async def test_door1_an_ordinary_notice_still_goes_at_once(env: Doors) -> None:
    doc = {"status": "Actual", "kind": "notice", "event": "お知らせ", "headline": "ごみ収集日の変更"}
    alert_id = await env.api_send(env.tokens["operator"], doc)
    assert await env.settled(alert_id) in ("routed", "done")
    assert await eventually(lambda: len(env.sent(alert_id)) >= 3)


# -- door 2 ------------------------------------------------------------------------------------


async def test_door2_one_officer_cannot_cancel_jmas_tsunami_warning(env: Doors) -> None:
    body = (ROOT / "samples" / "jma" / "02_vtse41_otsunami_keiho.xml").read_bytes()
    await env.run.submit(RawEvent(source="jma", body=body, submitted_by="feed:jma"))

    async def jma_alert() -> str | None:
        rows = await env.run.ledger.db.read(
            lambda c: c.execute(
                sa.select(t.alerts.c.identifier, t.alerts.c.state).where(t.alerts.c.tenant == "anamizu")
            ).all()
        )
        return next((r.identifier for r in rows if r.state in ("routed", "done")), None)

    jma_id = str(await eventually(jma_alert))
    assert await eventually(lambda: env.sent(jma_id)), "JMA's warning itself is relayed at once, never held"
    async with client() as s:
        csrf = await env.login(s, "tanaka")
        url = f"{env.base}/t/anamizu/alerts/{jma_id}/cancel"
        async with s.post(
            url, data={"csrf": csrf, "reason": "mistake", "confirm": jma_id}, allow_redirects=False
        ) as r:
            assert r.status == 400, "'sent in error' is not a text for a source's warning"
        async with s.get(f"{env.base}/t/anamizu/alerts/{jma_id}") as r:
            page = await r.text()
        assert 'value="relay_withdrawn"' in page and 'value="mistake"' not in page
        async with s.post(
            url, data={"csrf": csrf, "reason": "relay_withdrawn", "confirm": jma_id}, allow_redirects=False
        ) as r:
            assert r.status == 303, await r.text()
            cancel_id = r.headers["Location"].rsplit("/", 1)[1]
    assert await env.settled(cancel_id) == "held"
    assert env.sent(cancel_id) == []
    cancel = await env.run.ledger.alert("anamizu", cancel_id)
    assert cancel is not None
    text = cancel.primary.description or ""
    assert "気象庁" in text and "取りやめます" in text and "誤り" not in text
    # The relay text, approved by a second officer, goes where JMA's warning went.
    approve_url = f"{env.base}/api/v1/tenants/anamizu/alerts/{{}}/approve"
    async with client() as s:
        csrf = await env.login(s, "sato")
        async with s.post(approve_url.format(cancel_id), headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 200, await r.text()
    assert await eventually(lambda: env.sent(cancel_id))
    # Through the API, in words that call JMA wrong: held too, and no second officer can let it go.
    wrong = await env.api_send(
        env.tokens["operator"],
        {
            "status": "Actual",
            "msgType": "Cancel",
            "references": [jma_id],
            "kind": "tsunami",
            "event": "大津波警報",
            "headline": "取消：大津波警報",
            "description": "先ほどの情報は誤りでした。取り消します。",
        },
    )
    assert await env.settled(wrong) == "held"
    async with client() as s:
        csrf = await env.login(s, "suzuki")
        async with s.post(approve_url.format(wrong), headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 409
            assert "withdraws its relay" in (await r.json())["error"]
    assert env.sent(wrong) == []


# -- door 3 ------------------------------------------------------------------------------------


async def _approved_evacuation_order(env: Doors) -> str:
    doc = {
        "status": "Actual",
        "kind": "evacuation",
        "level": 4,
        "event": "避難指示",
        "headline": "【警戒レベル４】川島地区に避難指示",
        "districts": ["kawashima"],
        "severity": "Severe",
    }
    order = await env.api_send(env.tokens["operator"], doc)
    assert await env.settled(order) == "held"
    async with client() as s:
        csrf = await env.login(s, "sato")
        async with s.post(
            f"{env.base}/t/anamizu/alerts/{order}/approve", data={"csrf": csrf}, allow_redirects=False
        ) as r:
            assert r.status == 303, await r.text()
    assert await eventually(lambda: env.sent(order))
    return order


@pytest.mark.parametrize(
    "follow",
    [
        pytest.param(
            {
                "msgType": "Update",
                "headline": "お知らせ",
                "description": "川島地区の皆さんは自宅へお戻りください。",
            },
            id="update",
        ),
        pytest.param(
            {"msgType": "Cancel", "headline": "取消", "description": "先ほどの情報を取り消します。"},
            id="cancel",
        ),
    ],
)
async def test_door3_an_approved_order_cannot_be_changed_by_a_notice_alone(
    env: Doors, follow: dict[str, Any]
) -> None:
    order = await _approved_evacuation_order(env)
    doc = {"status": "Actual", "kind": "notice", "event": "お知らせ", "references": [order], **follow}
    changed = await env.api_send(env.tokens["operator"], doc)
    assert await env.settled(changed) == "held"
    assert env.sent(changed) == [], "not on L-Alert (television), not anywhere"


async def test_door3_two_approver_tokens_are_not_two_officers(env: Doors) -> None:
    held = await env.api_send(env.tokens["operator"], MISSILE)
    assert await env.settled(held) == "held"
    for token in ("approver_a", "approver_b"):
        async with (
            client() as s,
            s.post(
                f"{env.base}/api/v1/tenants/anamizu/alerts/{held}/approve",
                headers={"Authorization": f"Bearer {env.tokens[token]}"},
            ) as r,
        ):
            assert r.status == 403
            assert "token cannot approve" in (await r.json())["error"]
    assert await env.run.ledger.alert_state("anamizu", held) == "held"
    # The same below the web: whatever calls approve() with a token's identity is refused.
    with pytest.raises(ApprovalError, match="never an API token"):
        await approve(env.run.bus, env.run.ledger, "anamizu", held, "token:anamizu/ops-a")
    assert env.sent(held) == []


async def test_an_approver_needs_an_account_the_role_and_a_second_factor(env: Doors) -> None:
    db = env.run.ledger.db
    await check_approver(db, "anamizu", "officer:anamizu/sato")
    for who, why in (
        ("officer:anamizu/nobody", "no active officer"),
        ("officer:anamizu/tanaka", "not an approver"),
        ("officer:wajima/sato", "no active officer"),  # another town's name for the same account
    ):
        with pytest.raises(ApprovalError, match=why):
            await check_approver(db, "anamizu", who)
    await db.write(
        lambda c: c.execute(t.users.update().where(t.users.c.username == "suzuki").values(totp_secret=None))
    )
    with pytest.raises(ApprovalError, match="no second factor"):
        await check_approver(db, "anamizu", "officer:anamizu/suzuki")


async def test_one_officer_corrects_the_towns_own_mistake_at_once_and_the_approvers_are_told(
    env: Doors,
) -> None:
    order = await _approved_evacuation_order(env)
    async with client() as s:
        csrf = await env.login(s, "tanaka")
        async with s.post(
            f"{env.base}/t/anamizu/alerts/{order}/cancel",
            data={"csrf": csrf, "reason": "mistake", "confirm": order},
            allow_redirects=False,
        ) as r:
            assert r.status == 303, await r.text()
            cancel_id = r.headers["Location"].rsplit("/", 1)[1]
    assert await env.settled(cancel_id) in ("routed", "done")
    assert await eventually(lambda: len(env.sent(cancel_id)) >= 3), "the correction is not held"
    notice = await eventually(lambda: env.run.ledger.alert("anamizu", f"sys-cancel-{cancel_id}"))
    assert "取消" in (notice.primary.headline or "") and "tanaka" in (notice.primary.description or "")
    rows = await env.run.ledger.db.read(
        lambda c: c.execute(
            sa.select(t.audit_log.c.action, t.audit_log.c.target).where(
                t.audit_log.c.action == "cancel_alone"
            )
        ).all()
    )
    assert [(r.action, r.target) for r in rows] == [("cancel_alone", cancel_id)]
