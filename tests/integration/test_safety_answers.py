"""Residents' safety answers (安否確認) end to end: the e-mail of a safety check carries each
address's own link (a real SMTP server), the page records 無事 / 支援が必要 / 避難済み per
household, deduplicated and changeable, and coverage counts them; forged, another town's and
old links open nothing."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from pydantic import SecretStr

from adapters.outbound.email import EmailAdapter
from broadcaster.coverage.config import CoverageSettings
from broadcaster.coverage.counts import compute
from broadcaster.model import now
from broadcaster.pipeline.adapters import adapter_env
from broadcaster.settings import ChannelSettings
from broadcaster.store import tables as t
from broadcaster.store.audiences import Audiences, Person
from tests.fakes.deliveries import delivery, text
from tests.fakes.smtp import FakeSMTP
from tests.rules_helpers import manual
from tests.web_helpers import client, web_env

HANAKO, ICHIRO, SABURO = "hanako@example.jp", "ichiro@example.jp", "saburo@example.jp"
PEOPLE = [
    Person("R-1", name="川島 一郎", districts=("kawashima",), household="k1", endpoints=(("email", ICHIRO),)),
    Person("R-2", name="川島 花子", districts=("kawashima",), household="k1", endpoints=(("email", HANAKO),)),
    Person("R-3", name="岩田 三郎", districts=("kawashima",), household="k2", endpoints=(("email", SABURO),)),
]
LINK = re.compile(r"(https?://\S+/s/anamizu/[A-Za-z0-9_-]+)")


async def test_an_email_link_records_one_changeable_answer_per_household(tmp_path: Path) -> None:
    async with web_env(tmp_path) as env, FakeSMTP() as smtp:
        await Audiences(env.ledger.db).import_people("anamizu", PEOPLE)
        alert = manual(status="Actual", kind="evacuation", event="避難指示", headline="川島地区に避難指示",
                       parameters={"safety_check": "yes"}, at=now())  # fmt: skip
        await env.ledger.record_alert(alert)
        settings = ChannelSettings(
            credentials={"password": SecretStr("unused")},
            options={"host": "127.0.0.1", "port": smtp.port, "security": "none", "login": False,
                     "from_address": "bousai@town.anamizu.example", "mode": "bcc"},
        )  # fmt: skip
        adapter = EmailAdapter.from_settings("email", settings, adapter_env(env.settings, "anamizu"))
        await adapter.send(
            delivery("email", text("【穴水町】避難指示"), alert=alert, recipients=[HANAKO, ICHIRO, SABURO])
        )
        await adapter.close()
        links: dict[str, str] = {}
        for arrived in smtp.arrived:
            (to,) = arrived.rcpt_tos
            body = arrived.message.get_body(preferencelist=("plain",)).get_content()
            assert "安否をお知らせください" in body
            (links[to],) = LINK.findall(body)
        assert set(links) == {HANAKO, ICHIRO, SABURO}, (
            "a safety check gives each address its own message, even in BCC mode"
        )
        assert len(set(links.values())) == 3
        local = {a: link.replace(env.settings.web.public_url, env.base) for a, link in links.items()}

        async with client() as http:
            async with http.get(local[HANAKO]) as r:
                page = await r.text()
                assert r.status == 200 and "無事" in page and "支援が必要" in page and "避難済み" in page

            async def answer(who: str, value: str, note: str = "") -> None:
                async with http.post(
                    local[who], data={"answer": value, "note": note}, allow_redirects=False
                ) as r:
                    assert r.status == 303, await r.text()

            await answer(HANAKO, "safe")
            await answer(HANAKO, "safe")  # a double tap
            await answer(ICHIRO, "evacuated", "公民館にいます")  # the same household changes its answer
            await answer(SABURO, "need_help", "足が悪く動けません")
            async with http.get(local[HANAKO]) as r:
                assert "いまの回答：<strong>避難済み</strong>" in await r.text()
            async with http.post(local[SABURO], data={"answer": "maybe"}, allow_redirects=False) as r:
                assert r.status == 400
            # Another town's route, a forged token, a GET never records.
            async with http.get(local[HANAKO].replace("/s/anamizu/", "/s/wajima/")) as r:
                assert r.status == 404
            token = local[HANAKO].rsplit("/", 1)[1]
            async with http.post(
                local[HANAKO].replace(token, token[:-3] + "AAA"),
                data={"answer": "safe"},
                allow_redirects=False,
            ) as r:
                assert r.status == 404

        rows = await env.ledger.db.read(lambda c: c.execute(
            sa.select(t.safety_answers.c.household, t.safety_answers.c.answer, t.safety_answers.c.changes,
                      t.safety_answers.c.person).order_by(t.safety_answers.c.household)).all())  # fmt: skip
        assert [tuple(r) for r in rows] == [("k1", "evacuated", 1, "R-1"), ("k2", "need_help", 0, "R-3")]
        cov = await compute(
            env.ledger.db, "anamizu", alert.identifier, {"kawashima": "川島"}, CoverageSettings()
        )
        assert cov is not None
        (row,) = cov.districts
        assert dict(row.safety) == {"evacuated": 1, "need_help": 1} and row.reached == 2
        assert row.by_medium["safety"] == 2


async def test_a_link_of_an_old_or_ordinary_alert_opens_nothing(tmp_path: Path) -> None:
    from broadcaster import safety_links, unsubscribe

    async with web_env(tmp_path) as env:
        await Audiences(env.ledger.db).import_people("anamizu", PEOPLE)
        old = manual(status="Actual", kind="evacuation", event="避難指示", headline="古い", parameters={"safety_check": "yes"},
                     at=now() - timedelta(days=8))  # fmt: skip
        plain = manual(status="Actual", kind="evacuation", event="避難指示", headline="普通", at=now())
        for a in (old, plain):
            await env.ledger.record_alert(a)
        key = unsubscribe.key_of(env.settings)
        async with client() as http:
            for a, status in ((old, 410), (plain, 404)):
                value = safety_links.token(key, "anamizu", a.identifier, "email", HANAKO)
                async with http.post(
                    f"{env.base}/s/anamizu/{value}", data={"answer": "safe"}, allow_redirects=False
                ) as r:
                    assert r.status == status
        assert (
            await env.ledger.db.read(
                lambda c: c.execute(sa.select(sa.func.count()).select_from(t.safety_answers)).scalar()
            )
            == 0
        )
