"""The console's coverage page and `broadcaster coverage`: a district turns from red to green as its
households are reached; another tenant's officer sees nothing of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest

from broadcaster.coverage import marks
from broadcaster.store.audiences import Audiences, Person
from tests.rules_helpers import manual
from tests.web_helpers import WebEnv, client, web_env

PEOPLE = [
    Person(
        "R-1",
        name="川島 一郎",
        districts=("kawashima",),
        household="k1",
        endpoints=(("phone", "0768520001"),),
    ),
    Person(
        "R-2",
        name="川島 花子",
        districts=("kawashima",),
        household="k1",
        endpoints=(("phone", "0768520002"),),
    ),
    Person(
        "R-3",
        name="岩田 三郎",
        districts=("kawashima",),
        household="k2",
        endpoints=(("phone", "0768520003"),),
    ),
    Person(
        "R-5", name="大町 五郎", districts=("omachi",), household="o1", endpoints=(("phone", "0768520005"),)
    ),
]


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[WebEnv]:
    async with web_env(tmp_path) as e:
        yield e


async def _page(env: WebEnv, s: aiohttp.ClientSession, path: str) -> tuple[int, str]:
    async with s.get(f"{env.base}{path}") as r:
        return r.status, await r.text()


async def test_a_district_turns_from_red_to_green(env: WebEnv) -> None:
    await Audiences(env.ledger.db).import_people("anamizu", PEOPLE)
    alert = manual(status="Actual", kind="evacuation", event="避難指示", headline="川島地区に避難指示")
    await env.ledger.record_alert(alert)  # received long ago: past the time to flag
    path = f"/t/anamizu/alerts/{quote(alert.identifier, safe='')}/coverage"

    s = client()
    await env.login(s, "viewer")  # a one-time code: one login per test
    status, html = await _page(env, s, path)
    assert status == 200
    assert 'class="coverage-flagged" data-district="kawashima"' in html
    assert 'class="coverage-flagged" data-district="omachi"' in html

    await marks.mark(env.ledger.db, "anamizu", alert.identifier, "k1", "leader", actor="leader:L-1")
    await marks.mark(env.ledger.db, "anamizu", alert.identifier, "k2", "safety", actor="resident:R-3")
    status, html = await _page(env, s, path)
    assert 'class="coverage-ok" data-district="kawashima"' in html
    assert 'class="coverage-flagged" data-district="omachi"' in html
    assert "岩田" not in html, "the page shows counts, never the people"

    status, text = await _page(env, s, path + ".csv")
    await s.close()
    assert status == 200 and "kawashima,川島,2,2,1.000" in text and "omachi,大町,1,0,0.000" in text


async def test_another_tenants_officer_sees_nothing(env: WebEnv) -> None:
    await Audiences(env.ledger.db).import_people("anamizu", PEOPLE)
    alert = manual(status="Actual", kind="evacuation", event="避難指示", headline="避難指示")
    await env.ledger.record_alert(alert)
    path = f"/t/anamizu/alerts/{quote(alert.identifier, safe='')}/coverage"
    async with client() as s:
        await env.login(s, "wajima_op")
        for suffix in ("", ".csv"):
            status, body = await _page(env, s, path + suffix)
            assert status in (403, 404) and "kawashima" not in body
