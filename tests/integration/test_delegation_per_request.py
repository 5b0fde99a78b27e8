"""Delegation is checked on every request, not only when a role is granted (docs/approval.md).

The door: an officer of 能登町 holding a role in 輪島市 sent for 輪島市 although 輪島市 names only
穴水町 as its delegate, and the send was audited as an ordinary one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from broadcaster.store import tables as t
from broadcaster.store.users import Role, Users
from tests.helpers import TENANTS
from tests.web_helpers import PASSWORD, WebEnv, client, web_env

THREE = {
    "anamizu": TENANTS["anamizu"],
    "wajima": {**TENANTS["wajima"], "delegates": ["anamizu"]},
    "noto": {"name": "能登町", "geocodes": [{"value_name": "test/city", "value": "1746300"}]},
}
NOTICE = {"status": "Exercise", "kind": "notice", "event": "お知らせ", "headline": "訓練のお知らせ"}


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[WebEnv]:
    from broadcaster.web.auth import hash_password
    from tests.canaries import canary_totp

    async with web_env(tmp_path, tenants=THREE) as e:
        users = Users(e.ledger.db)
        pw = hash_password(PASSWORD)
        # Both hold the operator role in 輪島市; only 穴水町 is among its delegates.
        for name, home in (("noto_op", "noto"), ("anamizu_op", "anamizu")):
            e.secrets[name] = canary_totp()
            await users.add(
                name,
                display_name=name,
                home_tenant=home,
                password_hash=pw,
                totp_secret=e.secrets[name],
                roles={home: Role.OPERATOR, "wajima": Role.OPERATOR},
            )
        yield e


async def _audit(env: WebEnv, action: str) -> list[Any]:
    return await env.ledger.db.read(
        lambda c: c.execute(
            sa.select(t.audit_log.c.actor, t.audit_log.c.tenant, t.audit_log.c.detail).where(
                t.audit_log.c.action == action
            )
        ).all()
    )


async def test_an_officer_of_a_town_that_is_not_a_delegate_is_refused_on_every_request(env: WebEnv) -> None:
    async with client() as s:
        csrf = await env.login(s, "noto_op")
        async with s.get(f"{env.base}/t/wajima/", allow_redirects=False) as r:
            assert r.status == 403
        async with s.post(
            f"{env.base}/api/v1/tenants/wajima/alerts", json=NOTICE, headers={"X-CSRF-Token": csrf}
        ) as r:
            assert r.status == 403
        async with s.get(f"{env.base}/t/noto/", allow_redirects=False) as r:
            assert r.status == 200, "their own town stays open"
    assert await _audit(env, "send") == []


async def test_a_delegates_change_is_audited_as_delegated(env: WebEnv) -> None:
    async with client() as s:
        csrf = await env.login(s, "anamizu_op")
        async with s.get(f"{env.base}/t/wajima/", allow_redirects=False) as r:
            assert r.status == 200
        async with s.post(
            f"{env.base}/api/v1/tenants/wajima/alerts", json=NOTICE, headers={"X-CSRF-Token": csrf}
        ) as r:
            assert r.status == 202, await r.text()
    rows = await _audit(env, "delegated")
    assert len(rows) == 1, "one state change, one delegated entry (reading is not audited)"
    actor, tenant, detail = rows[0]
    assert (actor, tenant) == ("officer:anamizu/anamizu_op", "wajima")
    assert detail["on_behalf_of"] == "wajima" and detail["officer_tenant"] == "anamizu"
    assert detail["method"] == "POST"
    _checked, broken = await env.ledger.verify_audit()
    assert broken == []
