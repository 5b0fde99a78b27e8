"""The console's coverage page and `broadcaster coverage`: a district turns from red to green as its
households are reached; another tenant's officer sees nothing of it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest

from broadcaster.coverage import marks
from broadcaster.coverage.district_map import parse
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


async def test_a_district_with_no_household_on_the_roster_is_not_shown_as_reached(env: WebEnv) -> None:
    # 大町 has nobody on the roster: 0 of 0 is not "100 %, OK" (a green row would hide that the
    # town cannot know whether anyone there was told).
    await Audiences(env.ledger.db).import_people("anamizu", PEOPLE[:3])
    alert = manual(status="Actual", kind="evacuation", event="避難指示", headline="川島地区に避難指示")
    await env.ledger.record_alert(alert)
    path = f"/t/anamizu/alerts/{quote(alert.identifier, safe='')}/coverage"
    s = client()
    await env.login(s, "viewer")
    status, html = await _page(env, s, path)
    await s.close()
    assert status == 200
    row = html.split('data-district="omachi"')[1].split("</tr>")[0]
    assert 'class="coverage-none" data-district="omachi"' in html
    # 川島 (0 of 2 households, long past the time to flag) is still flagged beside it.
    assert 'class="coverage-flagged" data-district="kawashima"' in html
    assert "100%" not in row and "良好" not in row
    assert "登録世帯なし" in row


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


def _square(lon: float, lat: float, size: float = 0.01) -> list[list[float]]:
    return [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]


MAP = {
    "type": "FeatureCollection",
    "features": [
        {"type": "Feature", "properties": {"district": "kawashima"},
         "geometry": {"type": "Polygon", "coordinates": [_square(136.90, 37.23)]}},
        {"type": "Feature", "properties": {"district": "omachi"},
         "geometry": {"type": "MultiPolygon", "coordinates": [[_square(136.91, 37.23)], [_square(136.93, 37.24, 0.005)]]}},
    ],
}  # fmt: skip


async def test_the_district_view_draws_the_towns_map_and_turns_a_district_green(tmp_path: Path) -> None:
    maps = tmp_path / "maps"
    maps.mkdir()
    (maps / "anamizu.geojson").write_text(json.dumps(MAP), encoding="utf-8")
    (maps / "wajima.geojson").write_text('{"type": "FeatureCollection", "features": [{"x": 1}]}', encoding="utf-8")
    async with web_env(tmp_path, coverage={"maps_dir": str(maps)}) as env:
        await Audiences(env.ledger.db).import_people("anamizu", PEOPLE)
        alert = manual(status="Actual", kind="evacuation", event="避難指示", headline="川島地区に避難指示")
        await env.ledger.record_alert(alert)
        path = f"/t/anamizu/alerts/{quote(alert.identifier, safe='')}/coverage"
        s = client()
        await env.login(s, "viewer")
        status, html = await _page(env, s, path)
        assert status == 200 and '<svg xmlns="http://www.w3.org/2000/svg" class="coverage-map"' in html
        assert '<g class="district-flagged" data-district="kawashima">' in html
        assert '<g class="district-flagged" data-district="omachi">' in html
        assert html.count(" Z") >= 3, "a MultiPolygon is drawn whole"
        assert "<title>川島 0/2 (0%)</title>" in html

        await marks.mark(env.ledger.db, "anamizu", alert.identifier, "k1", "leader", actor="leader:L-1")
        await marks.mark(env.ledger.db, "anamizu", alert.identifier, "k2", "safety", actor="resident:R-3")
        status, html = await _page(env, s, path)
        assert '<g class="district-ok" data-district="kawashima">' in html and "<title>川島 2/2 (100%)</title>" in html
        assert '<g class="district-flagged" data-district="omachi">' in html
        await s.close()

        # A town without a usable map gets the table alone.
        wajima = manual(tenant="wajima", status="Actual", kind="evacuation", event="避難指示", headline="避難指示")
        await env.ledger.record_alert(wajima)
        async with client() as s2:
            await env.login(s2, "wajima_op")
            status, html = await _page(env, s2, f"/t/wajima/alerts/{quote(wajima.identifier, safe='')}/coverage")
        assert status == 200 and '<table class="coverage">' in html and "<svg" not in html


def test_a_map_that_is_not_geojson_is_refused_with_the_reason() -> None:
    assert [o.district for o in parse(json.dumps(MAP))] == ["kawashima", "omachi"]
    for bad, reason in (
        ("[]", "FeatureCollection"),
        ('{"type": "FeatureCollection", "features": [{"properties": {}, "geometry": {}}]}', "properties.district"),
        (json.dumps({"type": "FeatureCollection", "features": [{"properties": {"district": "x"},
         "geometry": {"type": "Point", "coordinates": [1, 2]}}]}), "not a Polygon"),
        (json.dumps({"type": "FeatureCollection", "features": [{"properties": {"district": "x"},
         "geometry": {"type": "Polygon", "coordinates": [[[500, 1], [1, 1], [1, 2], [500, 1]]]}}]}), "out of range"),
    ):  # fmt: skip
        with pytest.raises(ValueError, match=reason):
            parse(bad)
