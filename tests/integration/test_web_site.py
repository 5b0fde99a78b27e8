"""The built-in server's public site (/site, /alerts) and the residents' app API (/app)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from adapters.outbound.app_push.vapid import generate
from broadcaster.store.audiences import Audiences
from tests.fakes.site import SiteFixture, alert, site_delivery
from tests.fakes.webpush import b64e
from tests.web_helpers import WebEnv, client, web_env

PRIVATE, PUBLIC = generate()


def push_settings(**options: Any) -> dict[str, Any]:
    return {
        "credentials": {"vapid_private_key": PRIVATE},
        "options": {"subject": "mailto:bousai@example.jp", "extra_hosts": ["push.example.jp"], **options},
    }


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[tuple[WebEnv, SiteFixture]]:
    channels = {
        "website": {"options": {"site_dir": str(tmp_path / "www" / "{tenant}")}},
        "app_push": push_settings(),
    }
    async with web_env(tmp_path, channels=channels) as e:
        fixture = SiteFixture(tmp_path / "www" / "anamizu", url=f"{e.base}/site/anamizu/")
        yield e, fixture
        await fixture.close()


def subscription(endpoint: str = "https://push.example.jp/send/abc123", **override: Any) -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    sub: dict[str, Any] = {
        "endpoint": endpoint,
        "expirationTime": None,
        "keys": {"p256dh": b64e(point), "auth": b64e(bytes(16))},
    }
    sub.update(override)
    return sub


async def test_the_site_is_served_from_the_current_release(env: tuple[WebEnv, SiteFixture]) -> None:
    e, site = env
    await site.adapter().send(site_delivery(alert("anamizu-0001")))
    async with client() as s:
        async with s.get(f"{e.base}/site/anamizu", allow_redirects=False) as r:
            assert r.status == 301 and r.headers["Location"] == "/site/anamizu/"
        async with s.get(f"{e.base}/site/anamizu/") as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/html")
            assert r.headers["Cache-Control"] == "no-cache"
            assert "穴水町の緊急情報" in await r.text()
        async with s.get(f"{e.base}/site/anamizu/api/alerts.json") as r:
            assert r.status == 200 and r.headers["Access-Control-Allow-Origin"] == "*"
            assert [a["id"] for a in (await r.json())["alerts"]] == ["anamizu-0001"]
        async with s.get(f"{e.base}/site/anamizu/cap.atom") as r:
            assert r.headers["Content-Type"].startswith("application/atom+xml")
        async with s.get(f"{e.base}/site/anamizu/site.css") as r:
            assert r.status == 200 and "max-age" in r.headers["Cache-Control"]


@pytest.mark.parametrize(
    "path",
    [
        "/site/anamizu/.state.json",
        "/site/anamizu/.lock",
        "/site/anamizu/%2e%2e/%2e%2e/etc/passwd",
        "/site/anamizu/alerts/..%2f..%2f.state.json",
        "/site/anamizu/..%5c.state.json",
        "/site/anamizu/nothing-here.html",
        "/site/wajima/",
        "/site/no-such-town/index.html",
        "/alerts/anamizu/never-published",
        "/alerts/no-such-town/x",
    ],
)
async def test_nothing_outside_the_release_is_served(env: tuple[WebEnv, SiteFixture], path: str) -> None:
    e, site = env
    await site.adapter().send(site_delivery(alert("anamizu-0001")))
    async with client() as s, s.get(f"{e.base}{path}", allow_redirects=False) as r:
        assert r.status == 404, path
        text = await r.text()
        assert '"entries"' not in text and "root:" not in text


async def test_the_link_in_every_message_leads_to_the_alerts_page(env: tuple[WebEnv, SiteFixture]) -> None:
    e, site = env
    await site.adapter().send(site_delivery(alert("anamizu-0001")))
    async with client() as s:
        async with s.get(f"{e.base}/alerts/anamizu/anamizu-0001", allow_redirects=False) as r:
            assert r.status == 303
            assert r.headers["Location"] == "/site/anamizu/alerts/anamizu-0001.html"
        async with s.get(f"{e.base}/alerts/anamizu/anamizu-0001") as r:
            assert r.status == 200 and "避難指示" in await r.text()


async def test_the_link_in_every_message_leads_to_the_page_in_the_readers_language(
    env: tuple[WebEnv, SiteFixture],
) -> None:
    e, site = env
    await site.adapter().send(site_delivery(alert("anamizu-0002")))
    page = "/site/anamizu/{}alerts/anamizu-0002.html"
    cases = [
        ({"Accept-Language": "vi-VN,vi;q=0.9,en;q=0.8"}, "", page.format("vi/")),
        ({"Accept-Language": "en-US,en;q=0.9"}, "", page.format("en/")),
        ({"Accept-Language": "en-US,en;q=0.9"}, "?lang=pt", page.format("pt/")),
        ({"Accept-Language": "ja-JP,ja;q=0.9,en;q=0.8"}, "", page.format("")),
        # Thai: no pages in it, so easy Japanese, as the renderer falls back.
        ({"Accept-Language": "th-TH"}, "", page.format("ja-x-easy/")),
        ({}, "", page.format("")),
    ]
    async with client() as s:
        for headers, query, location in cases:
            async with s.get(
                f"{e.base}/alerts/anamizu/anamizu-0002{query}", headers=headers, allow_redirects=False
            ) as r:
                assert r.status == 303
                assert r.headers["Location"] == location, headers
        async with s.get(f"{e.base}/alerts/anamizu/anamizu-0002", headers={"Accept-Language": "vi"}) as r:
            assert r.status == 200
            assert '<html lang="vi">' in await r.text()


async def test_a_missing_page_says_so_in_the_readers_language(env: tuple[WebEnv, SiteFixture]) -> None:
    e, site = env
    await site.adapter().send(site_delivery(alert("anamizu-0003")))
    cases = [
        ("/site/anamizu/vi/alerts/gone.html", {}, "vi", "Không tìm thấy", "/site/anamizu/vi/"),
        (
            "/alerts/anamizu/gone",
            {"Accept-Language": "en-GB,en;q=0.9"},
            "en",
            "Not found",
            "/site/anamizu/en/",
        ),
        ("/alerts/anamizu/gone", {"Accept-Language": "ja"}, "ja", "見つかりません", "/site/anamizu/"),
        ("/site/anamizu/alerts/gone.html", {}, "ja", "見つかりません", "/site/anamizu/"),
    ]
    async with client() as s:
        for path, headers, lang, title, home in cases:
            async with s.get(f"{e.base}{path}", headers=headers) as r:
                assert r.status == 404
                body = await r.text()
                assert f'<html lang="{lang}">' in body, (path, headers)
                assert f"<h1>{title}</h1>" in body
                assert f'href="{home}"' in body


async def test_the_app_page_carries_the_towns_push_key(env: tuple[WebEnv, SiteFixture]) -> None:
    e, _ = env
    async with client() as s:
        async with s.get(f"{e.base}/app/anamizu/") as r:
            assert r.status == 200
            page = await r.text()
        assert f'data-vapid="{PUBLIC}"' in page
        assert 'value="kawashima"' in page and "川島" in page
        assert 'lang="vi"' in page, "the languages the town writes in"
        async with s.get(f"{e.base}/app/anamizu/sw.js") as r:
            assert r.status == 200 and r.headers["Content-Type"].startswith("text/javascript")
        async with s.get(f"{e.base}/app/anamizu/manifest.webmanifest") as r:
            manifest = json.loads(await r.text())
            assert manifest["scope"] == "/app/anamizu/" and manifest["start_url"] == "/app/anamizu/"
        async with s.get(f"{e.base}/app/nowhere/") as r:
            assert r.status == 404


async def test_a_resident_signs_up_changes_and_leaves(env: tuple[WebEnv, SiteFixture]) -> None:
    e, _ = env
    url = f"{e.base}/app/anamizu/subscriptions"
    sub = subscription()
    audiences = Audiences(e.ledger.db)
    async with client() as s:
        body = {
            "subscription": sub,
            "districts": ["kawashima"],
            "language": "vi-VN",
            "topics": ["気象", "避難"],
        }
        async with s.post(url, json=body) as r:
            assert r.status == 201, await r.text()
            first = await r.json()
        assert first["language"] == "vi" and first["districts"] == ["kawashima"]
        people = await audiences.people("anamizu")
        assert len(people) == 1
        person = people[0]
        assert person.external_id == first["id"] and person.language == "vi"
        assert person.districts == ("kawashima",) and set(person.topics) == {"気象", "避難"}
        ((channel, address),) = person.endpoints
        assert channel == "app_push" and json.loads(address)["endpoint"] == sub["endpoint"]
        assert await audiences.count("anamizu", "district:kawashima", "app_push") == 1

        # Changing the choice replaces the sign-up; it never doubles the person.
        body = {**body, "districts": ["omachi"], "id": first["id"]}
        async with s.post(url, json=body) as r:
            assert r.status == 201
            second = await r.json()
        active = [p for p in await audiences.people("anamizu") if p.endpoints]
        assert [p.external_id for p in active] == [second["id"]]
        assert await audiences.count("anamizu", "district:kawashima", "app_push") == 0
        assert await audiences.count("anamizu", "district:omachi", "app_push") == 1

        async with s.post(f"{url}/delete", json={"subscription": sub, "id": second["id"]}) as r:
            assert r.status == 200
            assert (await r.json()) == {"removed": 1, "left": True}
        assert await audiences.count("anamizu", "public", "app_push") == 0


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"subscription": subscription("http://push.example.jp/x")}, "https"),
        (
            {"subscription": subscription("https://169.254.169.254/latest/meta-data")},
            "not a known push service",
        ),
        ({"subscription": subscription("https://evil.example/x")}, "not a known push service"),
        ({"subscription": subscription("https://user:pw@push.example.jp/x")}, "plain https"),
        ({"subscription": subscription(keys={"p256dh": "AAAA", "auth": b64e(bytes(16))})}, "65 bytes"),
        (
            {
                "subscription": subscription(
                    keys={"p256dh": b64e(b"\x04" + bytes(64)), "auth": b64e(bytes(16))}
                )
            },
            "not a point",
        ),
        (
            {"subscription": subscription(keys={"p256dh": b64e(b"\x04" + bytes(64))})},
            "exactly p256dh and auth",
        ),
        ({"subscription": {**subscription(), "extra": 1}}, "unknown fields"),
        ({"subscription": "not an object"}, "JSON object"),
        ({"subscription": subscription(), "districts": ["atlantis"]}, "unknown districts"),
        ({"subscription": subscription(), "language": "klingon"}, "language"),
        ({"subscription": subscription(), "topics": ["<script>"]}, "topics"),
        ({"subscription": subscription(), "admin": True}, "unknown fields"),
        ({"subscription": subscription(), "id": "../../etc"}, "registration id"),
    ],
)
async def test_a_bad_sign_up_is_refused_and_stores_nothing(
    env: tuple[WebEnv, SiteFixture], body: dict[str, Any], why: str
) -> None:
    e, _ = env
    async with client() as s, s.post(f"{e.base}/app/anamizu/subscriptions", json=body) as r:
        assert r.status == 400
        assert why in (await r.json())["error"]
    assert await Audiences(e.ledger.db).people("anamizu") == []


async def test_sign_ups_are_rate_limited_and_size_limited(env: tuple[WebEnv, SiteFixture]) -> None:
    e, _ = env
    url = f"{e.base}/app/anamizu/subscriptions"
    async with client() as s:
        async with s.post(url, data=b"x" * 20000, headers={"Content-Type": "application/json"}) as r:
            assert r.status == 413
        statuses = []
        for _ in range(25):
            async with s.post(url, data=b"not json", headers={"Content-Type": "application/json"}) as r:
                statuses.append(r.status)
                if r.status == 429:
                    assert int(r.headers["Retry-After"]) >= 1
        assert statuses[:19] == [400] * 19 and statuses[-1] == 429


async def test_without_a_vapid_key_the_app_says_so(tmp_path: Path) -> None:
    async with web_env(tmp_path) as e, client() as s:
        async with s.get(f"{e.base}/app/anamizu/") as r:
            assert 'data-vapid=""' in await r.text()
        async with s.post(f"{e.base}/app/anamizu/subscriptions", json={"subscription": subscription()}) as r:
            assert r.status == 503


async def test_app_and_site_pages_send_the_security_headers(env: tuple[WebEnv, SiteFixture]) -> None:
    e, site = env
    await site.adapter().send(site_delivery(alert("anamizu-0001")))
    async with client() as s:
        for path in ("/app/anamizu/", "/site/anamizu/", "/site/anamizu/alerts/anamizu-0001.html"):
            async with s.get(f"{e.base}{path}") as r:
                assert "script-src 'self'" in r.headers["Content-Security-Policy"], path
                assert r.headers["X-Content-Type-Options"] == "nosniff"
