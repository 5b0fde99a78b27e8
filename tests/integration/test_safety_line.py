"""Safety answers on LINE: a safety check's message carries 無事 / 支援が必要 / 避難済み as quick
replies (a real SDK send to the fake LINE API); a tap records the answer for the person's
household, changeable; a tap on an old or foreign button records nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from adapters.outbound.line import LineAdapter, LineSettings
from broadcaster import safety_links
from broadcaster.model import now
from broadcaster.store import tables as t
from broadcaster.store.audiences import Person
from tests.fakes.deliveries import delivery, text
from tests.fakes.line import FakeLine
from tests.integration.test_line_webhook import TOKEN, Hook, line_tenants
from tests.rules_helpers import manual
from tests.web_helpers import web_env

HER = "U" + "5a" * 16
HIM = "U" + "6b" * 16


@pytest.fixture
async def hook(tmp_path: Path) -> AsyncIterator[Hook]:
    async with (
        FakeLine(token=TOKEN) as fake,
        web_env(tmp_path, tenants=line_tenants(fake)) as env,
        aiohttp.ClientSession() as s,
    ):
        yield Hook(env, fake, s)


async def _answers(hook: Hook) -> list[tuple[str, str, int]]:
    a = t.safety_answers
    return await hook.env.ledger.db.read(
        lambda c: [
            tuple(r)
            for r in c.execute(sa.select(a.c.household, a.c.answer, a.c.changes).order_by(a.c.household))
        ]
    )


async def test_a_tap_on_the_quick_reply_answers_for_the_household(hook: Hook) -> None:
    await hook.audiences.import_people("anamizu", [
        Person("R-1", districts=("kawashima",), household="k1", endpoints=(("line", HER),)),
        Person("R-2", districts=("kawashima",), household="k1", endpoints=(("line", HIM),)),
    ])  # fmt: skip
    alert = manual(
        status="Actual",
        kind="evacuation",
        event="避難指示",
        headline="避難指示",
        parameters={"safety_check": "yes"},
        at=now(),
    )
    await hook.env.ledger.record_alert(alert)
    adapter = LineAdapter(
        LineSettings(token=SecretStr(TOKEN), base_url=hook.fake.url), tenant="anamizu", public_url="https://x"
    )
    await adapter.send(delivery("line", text("【穴水町】避難指示"), alert=alert, recipients=[HER, HIM]))
    await adapter.close()
    (sent,) = hook.fake.delivered
    buttons = [item["action"] for item in sent.messages[-1]["quickReply"]["items"]]
    assert [b["label"] for b in buttons] == ["無事", "支援が必要", "避難済み"]

    reply = await hook.tap(HER, buttons[0]["data"])
    assert "「無事」を受け付けました" in reply.texts()[0]
    await hook.tap(HER, buttons[0]["data"])
    assert await _answers(hook) == [("k1", "safe", 0)], "a second tap is the same answer"
    await hook.tap(HIM, buttons[2]["data"])
    assert await _answers(hook) == [("k1", "evacuated", 1)], "the household's answer changed"


async def test_a_button_of_an_old_or_plain_alert_records_nothing(hook: Hook) -> None:
    await hook.audiences.import_people(
        "anamizu", [Person("R-1", districts=("kawashima",), endpoints=(("line", HER),))]
    )
    old = manual(status="Actual", kind="evacuation", event="避難指示", headline="古い", parameters={"safety_check": "yes"},
                 at=now() - timedelta(days=8))  # fmt: skip
    plain = manual(status="Actual", kind="evacuation", event="避難指示", headline="普通", at=now())
    for a in (old, plain):
        await hook.env.ledger.record_alert(a)
        reply = await hook.tap(HER, safety_links.postback(a.identifier, "safe"))
        assert "もう終わっています" in reply.texts()[0]
    assert await _answers(hook) == []


async def test_a_typed_answer_counts_as_the_tap_for_the_newest_safety_check(hook: Hook) -> None:
    from broadcaster.coverage.safety import standing

    await hook.audiences.import_people("anamizu", [
        Person("R-1", districts=("kawashima",), household="k1", endpoints=(("line", HER),)),
        Person("R-2", districts=("kawashima",), household="k1", endpoints=(("line", HIM),)),
    ])  # fmt: skip
    # Without a safety check in force, 無事 is just a message: the help, and nothing recorded.
    status, _ = await hook.post(hook.fake.text(HER, "無事です"))
    assert status == 200 and await _answers(hook) == []

    earlier = manual(status="Actual", kind="evacuation", event="避難指示", headline="前の安否確認",
                     parameters={"safety_check": "yes"}, at=now() - timedelta(hours=2))  # fmt: skip
    newest = manual(status="Actual", kind="evacuation", event="避難指示", headline="安否確認",
                    parameters={"safety_check": "yes"}, at=now() - timedelta(minutes=5))  # fmt: skip
    plain = manual(status="Actual", kind="evacuation", event="避難指示", headline="普通", at=now())
    for a in (earlier, newest, plain):
        await hook.env.ledger.record_alert(a)

    event = hook.fake.text(HER, "無事です")
    await hook.post(event)
    (reply,) = hook.fake.replies_to(event)
    assert "「無事」を受け付けました" in reply.texts()[0]
    event = hook.fake.text(HIM, "避難済み　公民館にいます")
    await hook.post(event)
    assert await _answers(hook) == [("k1", "evacuated", 1)], "the same household, answered again"
    got = await standing(hook.env.ledger.db, "anamizu", newest.identifier, "k1")
    assert got is not None and (got.answer, got.note) == ("evacuated", "公民館にいます")
    assert await standing(hook.env.ledger.db, "anamizu", earlier.identifier, "k1") is None
    # Anything else typed is not an answer.
    await hook.post(hook.fake.text(HER, "無事かどうか分かりません"))
    assert await _answers(hook) == [("k1", "evacuated", 1)]
