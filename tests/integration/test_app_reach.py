"""The residents' app reports back (docs/coverage.md): a notification opened marks the household
reached by the app, and the app's safety answer is recorded for the household. The app proves who
it is with its push subscription (and, for an answer, its registration id) as at sign-up; another
app's id, another town, an alert that asks nothing and an old alert record nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from broadcaster.coverage.config import CoverageSettings
from broadcaster.coverage.counts import compute
from broadcaster.coverage.safety import standing
from broadcaster.model import now
from tests.integration.test_web_site import push_settings, subscription
from tests.rules_helpers import manual
from tests.web_helpers import WebEnv, client, web_env

DISTRICTS = {"kawashima": "川島", "omachi": "大町"}


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[WebEnv]:
    async with web_env(tmp_path, channels={"app_push": push_settings()}) as e:
        yield e


async def _sign_up(e: WebEnv, sub: dict[str, Any], district: str) -> str:
    async with client() as s, s.post(
        f"{e.base}/app/anamizu/subscriptions", json={"subscription": sub, "districts": [district]}
    ) as r:
        assert r.status == 201, await r.text()
        registration: str = (await r.json())["id"]
        return registration


async def _post(e: WebEnv, path: str, body: dict[str, Any], tenant: str = "anamizu") -> tuple[int, Any]:
    async with client() as s, s.post(f"{e.base}/app/{tenant}/{path}", json=body) as r:
        return r.status, await r.json()


async def test_an_opened_notification_marks_the_household_reached_by_the_app(env: WebEnv) -> None:
    phone, other = subscription(), subscription("https://push.example.jp/send/other")
    await _sign_up(env, phone, "kawashima")
    await _sign_up(env, other, "omachi")
    order = manual(status="Actual", kind="evacuation", event="避難指示", headline="川島地区に避難指示", at=now())
    await env.ledger.record_alert(order)
    cov = await compute(env.ledger.db, "anamizu", order.identifier, DISTRICTS, CoverageSettings())
    assert cov is not None and cov.reached == 0

    assert await _post(env, "opened", {"subscription": phone, "alert": order.identifier}) == (200, {"recorded": True})
    # The same tap reported twice counts once.
    assert await _post(env, "opened", {"subscription": phone, "alert": order.identifier}) == (200, {"recorded": False})
    cov = await compute(env.ledger.db, "anamizu", order.identifier, DISTRICTS, CoverageSettings())
    assert cov is not None
    rows = {r.district: r for r in cov.districts}
    assert rows["kawashima"].reached == 1 and rows["kawashima"].by_medium["app_open"] == 1
    assert rows["omachi"].reached == 0

    # A subscription that signed up nowhere, another town's path, a made-up alert: nothing.
    stranger = subscription("https://push.example.jp/send/stranger")
    assert (await _post(env, "opened", {"subscription": stranger, "alert": order.identifier}))[0] == 404
    assert (await _post(env, "opened", {"subscription": other, "alert": order.identifier}, "wajima"))[0] == 404
    assert (await _post(env, "opened", {"subscription": other, "alert": "no-such-alert"}))[0] == 404
    assert (await _post(env, "opened", {"subscription": other, "alert": order.identifier, "x": 1}))[0] == 400
    cov = await compute(env.ledger.db, "anamizu", order.identifier, DISTRICTS, CoverageSettings())
    assert cov is not None and cov.reached == 1


async def test_the_app_answers_a_safety_check_for_the_household(env: WebEnv) -> None:
    phone, other = subscription(), subscription("https://push.example.jp/send/other")
    mine = await _sign_up(env, phone, "kawashima")
    theirs = await _sign_up(env, other, "omachi")
    check = manual(status="Actual", kind="evacuation", event="避難指示", headline="安否確認",
                   parameters={"safety_check": "yes"}, at=now())  # fmt: skip
    plain = manual(status="Actual", kind="evacuation", event="避難指示", headline="避難指示", at=now())
    old = manual(status="Actual", kind="evacuation", event="避難指示", headline="前の安否確認",
                 parameters={"safety_check": "yes"}, at=now() - timedelta(days=30))  # fmt: skip
    for a in (check, plain, old):
        await env.ledger.record_alert(a)
    body = {"subscription": phone, "id": mine, "alert": check.identifier}

    assert await _post(env, "safety", {**body, "answer": "safe"}) == (200, {"outcome": "recorded", "answer": "safe"})
    assert (await _post(env, "safety", {**body, "answer": "safe"}))[1]["outcome"] == "unchanged"
    got = await _post(env, "safety", {**body, "answer": "evacuated", "note": "公民館にいます"})
    assert got == (200, {"outcome": "changed", "answer": "evacuated"})
    (person,) = [p for p in await _people(env) if p.external_id == mine]
    now_standing = await standing(env.ledger.db, "anamizu", check.identifier, person.household_key)
    assert now_standing is not None and now_standing.answer == "evacuated" and now_standing.note == "公民館にいます"
    cov = await compute(env.ledger.db, "anamizu", check.identifier, DISTRICTS, CoverageSettings())
    assert cov is not None and cov.safety["evacuated"] == 1 and cov.by_medium["safety"] == 1

    # The registration id is needed, and must be this subscription's own.
    assert (await _post(env, "safety", {"subscription": phone, "alert": check.identifier, "answer": "safe"}))[0] == 400
    assert (await _post(env, "safety", {**body, "id": theirs, "answer": "need_help"}))[0] == 404
    # An alert that asks no safety answer, an old one, another town, an answer not offered.
    assert (await _post(env, "safety", {**body, "alert": plain.identifier, "answer": "safe"}))[0] == 404
    assert (await _post(env, "safety", {**body, "alert": old.identifier, "answer": "safe"}))[0] == 404
    assert (await _post(env, "safety", {**body, "answer": "safe"}, "wajima"))[0] == 404
    assert (await _post(env, "safety", {**body, "answer": "maybe"}))[0] == 400
    final = await standing(env.ledger.db, "anamizu", check.identifier, person.household_key)
    assert final is not None and final.answer == "evacuated"


async def _people(env: WebEnv) -> list[Any]:
    from broadcaster.store.audiences import Audiences

    return list(await Audiences(env.ledger.db).people("anamizu"))
