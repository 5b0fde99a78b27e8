"""The circular pages over HTTP: personal links (own circular only; tampered, expired, revoked),
rate limits, the officers' console and the API."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from broadcaster.circulars import routine
from broadcaster.circulars import store as cs
from broadcaster.circulars.board import CircularBoard
from broadcaster.circulars.chain import Chain
from broadcaster.circulars.service import Circulars, job_id
from broadcaster.store.audiences import Audiences
from broadcaster.web.keys import CONTEXT
from tests.circular_helpers import LINK_KEY, add_people, links_in, path_of
from tests.contract.test_circulars_contract import delivery_of, evacuation
from tests.fakes.clock import ManualClock
from tests.web_helpers import WebEnv, client, web_env

BROWSER = {"Sec-Fetch-Dest": "document"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


@dataclass
class Env:
    web: WebEnv
    svc: Circulars
    clock: ManualClock
    tmp: Path

    @property
    def base(self) -> str:
        return self.web.base

    def links(self, channel: str = "line") -> list[str]:
        import json

        path = self.tmp / "outbox" / "anamizu" / f"{channel}.jsonl"
        out: list[str] = []
        for line in path.read_text().splitlines():
            for text in json.loads(line)["texts"]:
                out.extend(links_in(text["body"]) or ([text["extra"]["url"]] if "url" in text.get("extra", {}) else []))
        return out


async def _env(tmp: Path, **circulars: Any) -> AsyncIterator[Env]:
    async with web_env(tmp, circulars={"link_key": LINK_KEY, **circulars}) as w:
        # The process's own circulars (broadcaster/app.py), on a clock the test moves.
        svc = w.app[CONTEXT].runtime.circulars
        clock = ManualClock()
        svc.clock = clock
        await add_people(Audiences(w.ledger.db))
        yield Env(w, svc, clock, tmp)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async for e in _env(tmp_path):
        yield e


async def _emergency(env: Env) -> tuple[str, dict[str, str]]:
    """An evacuation circular to 山田 and 鈴木; their links by name."""
    alert = evacuation()
    await env.svc.ledger.record_alert(alert)
    board = CircularBoard(env.svc)
    await board.send(delivery_of(alert, "leaders:kawashima", ("L-yamada",)))
    await board.send(delivery_of(alert, "leaders:omachi", ("L-suzuki",)))
    (c,) = await cs.circulars_of(env.svc.db, "anamizu")
    by_name = {d.name or "": env.svc.link(d.id, d.link_version) for d in await cs.deliveries(env.svc.db, c.id)}
    return c.id, by_name


async def _routine(env: Env, districts: tuple[str, ...] = ("omachi",)) -> tuple[str, dict[str, str]]:
    spec = routine.RoutineSpec(title="町内会費のお知らせ", body="今年度の町内会費は3,000円です。", districts=districts, form="yesno", question="集金は終わりましたか")
    cid = await routine.create(env.svc, "anamizu", spec, [("会費.png", PNG)], "officer:anamizu/tanaka")
    await Chain(env.svc).run("anamizu", cid)
    return cid, {d.name or "": env.svc.link(d.id, d.link_version) for d in await cs.deliveries(env.svc.db, cid)}


async def test_a_link_opens_only_its_own_circular_for_its_own_leader(env: Env) -> None:
    evac, evac_links = await _emergency(env)
    notice_id, notice_links = await _routine(env)
    (file_id,) = [f.id for f in await cs.attachments(env.svc.db, notice_id)]
    async with client() as s:
        async with s.get(env.base + path_of(evac_links["山田太郎"]), headers=BROWSER) as r:
            page = await r.text()
            assert r.status == 200
            assert r.headers["Cache-Control"] == "no-store"
            assert r.headers["Referrer-Policy"] == "no-referrer", "the link must not leak through a Referer"
        assert "山田太郎" in page and "川島地区に避難指示" in page
        assert "鈴木" not in page and "町内会費" not in page
        # 山田's link cannot reach the file of a circular he never got.
        async with s.get(env.base + path_of(evac_links["山田太郎"]) + f"/files/{file_id}") as r:
            assert r.status == 404
        async with s.get(env.base + path_of(notice_links["鈴木花子"]) + f"/files/{file_id}") as r:
            assert r.status == 200
            assert r.headers["Content-Type"] == "image/png"
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            assert "private" in r.headers["Cache-Control"]
            assert await r.read() == PNG
        async with s.post(env.base + path_of(evac_links["山田太郎"]) + "/confirm", allow_redirects=False) as r:
            assert r.status == 303
    confirmed = {d.name: d.confirmed_at is not None for d in await cs.deliveries(env.svc.db, evac)}
    assert confirmed == {"山田太郎": True, "鈴木花子": False}, "a link confirms for its own person only"


async def test_tampered_expired_and_revoked_links_are_refused(env: Env) -> None:
    cid, links = await _emergency(env)
    path = path_of(links["鈴木花子"])
    tampered = path[:-2] + ("AA" if not path.endswith("AA") else "BB")
    other_delivery = path.replace(path.split("/")[2][:4], "ffff", 1)
    async with client() as s:
        for bad in (tampered, other_delivery, "/c/not-a-token", "/c/" + "0" * 32 + ".1.9999999999.AAAAAAAAAAAAAAAAAAAAAA"):
            for method, suffix in (("GET", ""), ("POST", "/confirm"), ("POST", "/answer"), ("GET", "/files/x")):
                async with s.request(method, env.base + bad + suffix, allow_redirects=False) as r:
                    assert r.status in (404, 429), (bad, suffix, r.status)
                    assert "鈴木" not in await r.text()
        env.clock.advance(days=15)
        async with s.get(env.base + path, headers=BROWSER) as r:
            assert r.status == 410
            assert "期限が切れました" in await r.text()
        env.clock.advance(days=-15)
        (suzuki,) = [d for d in await cs.deliveries(env.svc.db, cid) if d.name == "鈴木花子"]
        async with s.post(
            f"{env.base}/api/v1/tenants/anamizu/circulars/{cid}/deliveries/{suzuki.id}/revoke?resend=1",
            headers={"Authorization": f"Bearer {env.web.tokens['anamizu_operator']}"},
        ) as r:
            assert r.status == 200, await r.text()
            assert (await r.json())["link_version"] == 2
        async with s.get(env.base + path, headers=BROWSER) as r:
            assert r.status == 410
            assert "使えなくなりました" in await r.text()
        async with s.post(env.base + path + "/confirm", allow_redirects=False) as r:
            assert r.status == 410
        # The new link goes out with the circular's job, and opens.
        (job,) = [j for j in env.svc.scheduler.jobs() if j["id"] == job_id(cid)]
        await Chain(env.svc).run("anamizu", cid)
        new = [link for link in env.links() if ".2." in link]
        assert len(new) == 1
        async with s.get(env.base + path_of(new[0]), headers=BROWSER) as r:
            assert r.status == 200
    assert job["next_run"] <= env.clock.at


async def test_the_leaders_pages_are_rate_limited(tmp_path: Path) -> None:
    async for env in _env(tmp_path, page_requests_per_minute=8, bad_links_per_minute=3):
        _, links = await _emergency(env)
        async with client() as s:
            statuses = []
            for _ in range(5):
                async with s.get(env.base + "/c/" + "0" * 32 + ".1.9999999999.AAAAAAAAAAAAAAAAAAAAAA") as r:
                    statuses.append(r.status)
                    retry_after = r.headers.get("Retry-After")
            assert statuses == [404, 404, 404, 429, 429], "a few wrong links, then guessing waits"
            assert retry_after is not None and int(retry_after) >= 1
            statuses = []
            for _ in range(4):
                async with s.get(env.base + path_of(links["山田太郎"])) as r:
                    statuses.append(r.status)
            assert statuses[-1] == 429, "every page request counts toward the address's budget"


async def test_the_leader_page_takes_answers_and_explains_mistakes(env: Env) -> None:
    cid, links = await _emergency(env)
    base = env.base + path_of(links["鈴木花子"])
    async with client() as s:
        async with s.post(base + "/answer", data={"nonce": "x" * 20, "safe": "十八"}) as r:
            assert r.status == 422
            page = await r.text()
        assert "数字を入れてください" in page and 'value="十八"' in page, "the mistake explained, the input kept"
        async with s.post(base + "/answer", data={"nonce": "y" * 20, "safe": "12"}, headers={"Origin": "https://evil.example"}) as r:
            assert r.status == 400, "a form posted from another site is refused"
        rebound = {"Host": "rebound.example", "Origin": "http://rebound.example"}
        async with s.post(base + "/answer", data={"nonce": "w" * 20, "safe": "12"}, headers=rebound) as r:
            assert r.status == 400, "nor from a name that resolves to us (the Origin equal to a forged Host)"
        async with s.post(base + "/answer", json={"safe": 3}) as r:
            assert r.status == 400
        async with s.post(base + "/answer", data={"nonce": "z" * 20, "safe": "12", "need_help": "0"}, allow_redirects=False) as r:
            assert r.status == 303
    (suzuki,) = [d for d in await cs.deliveries(env.svc.db, cid) if d.name == "鈴木花子"]
    assert suzuki.answered_at is not None and suzuki.confirmed_at is not None, "an answer confirms too"


async def test_console_viewers_see_and_operators_write_with_csrf(env: Env) -> None:
    evac, _ = await _emergency(env)
    async with client() as s:
        await env.web.login(s, "viewer")
        async with s.get(f"{env.base}/t/anamizu/circulars") as r:
            assert r.status == 200
            page = await r.text()
        assert "川島地区に避難指示" in page and "安否確認の状況" in page
        async with s.get(f"{env.base}/t/anamizu/circulars/{evac}") as r:
            assert r.status == 200
            page = await r.text()
        assert "山田太郎" in page and "無効にして再送" not in page, "a viewer gets no write buttons"
        async with s.get(f"{env.base}/t/anamizu/circulars/{evac}/export.csv") as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/csv")
            body = (await r.read()).decode("utf-8")
        assert body.startswith("\ufeff地区,役割,氏名")
        async with s.get(f"{env.base}/t/anamizu/circulars/new", allow_redirects=False) as r:
            assert r.status == 403
    async with client() as s:
        csrf = await env.web.login(s, "tanaka")
        async with s.get(f"{env.base}/t/anamizu/circulars/new") as r:
            assert r.status == 200
        form = aiohttp.FormData()
        form.add_field("title", "防災訓練のお知らせ")
        form.add_field("body", "11月30日に訓練を行います。")
        form.add_field("districts", "kawashima")
        form.add_field("form", "none")
        form.add_field("files", PNG, filename="地図.png", content_type="image/png")
        async with s.post(f"{env.base}/t/anamizu/circulars", data=form, allow_redirects=False) as r:
            assert r.status == 403, "no CSRF token"
        form = aiohttp.FormData()
        form.add_field("csrf", csrf)
        form.add_field("title", "防災訓練のお知らせ")
        form.add_field("body", "11月30日に訓練を行います。")
        form.add_field("districts", "kawashima")
        form.add_field("files", b"<html>", filename="evil.html", content_type="text/html")
        async with s.post(f"{env.base}/t/anamizu/circulars", data=form) as r:
            assert r.status == 422
            assert "PDF・PNG・JPEG" in await r.text()
        form = aiohttp.FormData()
        form.add_field("csrf", csrf)
        form.add_field("title", "防災訓練のお知らせ")
        form.add_field("body", "11月30日に訓練を行います。")
        form.add_field("districts", "kawashima")
        form.add_field("form", "yesno")
        form.add_field("question", "参加しますか")
        form.add_field("files", PNG, filename="地図.png", content_type="image/png")
        async with s.post(f"{env.base}/t/anamizu/circulars", data=form, allow_redirects=False) as r:
            assert r.status == 303, await r.text()
            where = r.headers["Location"]
        new_id = where.rsplit("/", 1)[1]
        assert [j["id"] for j in env.svc.scheduler.jobs()].count(job_id(new_id)) == 1, "its release is on the scheduler"
        async with s.get(env.base + where) as r:
            page = await r.text()
        assert "無効にして再送" not in page and "今すぐ配信" in page
        csrf_now = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf_now
        async with s.post(f"{env.base}/t/anamizu/circulars/{new_id}/cancel", data={"csrf": csrf_now.group(1)}, allow_redirects=False) as r:
            assert r.status == 303
    c = await cs.circular(env.svc.db, new_id)
    assert c is not None and c.state == "cancelled"
    audit = await env.web.ledger.db.read(lambda c: list(c.exec_driver_sql("select action from audit_log").scalars()))
    assert "circular_created" in audit and "circular_cancelled" in audit


async def test_the_api_writes_and_reports_circulars_for_its_own_tenant(env: Env) -> None:
    evac, links = await _emergency(env)
    op = {"Authorization": f"Bearer {env.web.tokens['anamizu_operator']}"}
    viewer = {"Authorization": f"Bearer {env.web.tokens['anamizu_viewer']}"}
    other = {"Authorization": f"Bearer {env.web.tokens['wajima_operator']}"}
    url = f"{env.base}/api/v1/tenants/anamizu/circulars"
    body = {
        "title": "町内会費",
        "body": "集金をお願いします。",
        "districts": ["omachi"],
        "form": "yesno",
        "question": "集金は終わりましたか",
        "attachments": [{"filename": "会費.pdf", "content_base64": base64.b64encode(b"%PDF-1.7\n%%EOF").decode()}],
    }
    async with client() as s:
        async with s.post(url, json=body, headers=viewer) as r:
            assert r.status == 403
        async with s.post(url, json=body, headers=other) as r:
            assert r.status == 403
        async with s.post(url, json={**body, "districts": ["kawai"]}, headers=op) as r:
            assert r.status == 422
            assert "この町にない地区" in str(await r.json())
        async with s.post(url, json=body, headers=op) as r:
            assert r.status == 201, await r.text()
            created = (await r.json())["id"]
        await Chain(env.svc).run("anamizu", created)
        async with s.post(env.base + path_of(links["山田太郎"]) + "/answer", data={"nonce": "q" * 20, "safe": "18", "need_help": "2", "unreachable": "1"}, allow_redirects=False) as r:
            assert r.status == 303
        async with s.get(f"{url}/{evac}", headers=viewer) as r:
            detail = await r.json()
        kawashima = next(d for d in detail["districts"] if d["district"] == "kawashima")
        assert (kawashima["confirmed"], kawashima["answered"], kawashima["answers"]) == (1, 1, {"safe": 18, "need_help": 2, "unreachable": 1})
        assert kawashima["coverage"] == pytest.approx(20 / 420)
        async with s.get(f"{url}/coverage", headers=viewer) as r:
            coverage = await r.json()
        assert coverage["circular"] == evac
        assert {d["district"]: d["confirmed"] for d in coverage["districts"]} == {"kawashima": 20, "omachi": 0}
        async with s.get(f"{url}/{evac}/export.csv", headers=viewer) as r:
            assert r.status == 200
            assert "山田太郎" in (await r.read()).decode("utf-8")
        async with s.get(url, headers=viewer) as r:
            listed = [c["id"] for c in (await r.json())["circulars"]]
        assert set(listed) == {evac, created}
        async with s.get(f"{url}/{evac}", headers=other) as r:
            assert r.status == 403
        async with s.get(f"{env.base}/api/v1/tenants/wajima/circulars/{evac}", headers=other) as r:
            assert r.status == 404, "another town's circular does not exist for wajima"
        async with s.post(f"{url}/{created}/release", headers=op) as r:
            assert r.status == 409, "already released"
