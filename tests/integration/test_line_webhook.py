"""The LINE webhook on a real app on loopback, replies through the real SDK to the fake LINE API."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from broadcaster.logging import configure, hash_id
from broadcaster.store import tables as t
from broadcaster.store.audiences import Audiences, Person
from broadcaster.store.line_webhook import LinkCodes
from broadcaster.web.line_hook import LineWebhook
from tests.canaries import canary
from tests.fakes.line import FakeLine, Replied
from tests.helpers import TENANTS
from tests.web_helpers import WebEnv, web_env

TOKEN = canary("line-token")
SECRET = canary("line-channel-secret")
HER = "U" + "1a2b3c4d" * 4  # the Vietnamese intern
HIM = "U" + "9e8d7c6b" * 4
THIRD = "U" + "00ff00ff" * 4


@dataclass
class Hook:
    env: WebEnv
    fake: FakeLine
    session: aiohttp.ClientSession

    @property
    def service(self) -> LineWebhook:
        return LineWebhook.of(self.env.app)

    @property
    def audiences(self) -> Audiences:
        return Audiences(self.env.ledger.db)

    async def post(
        self,
        *events: dict[str, Any],
        tenant: str = "anamizu",
        secret: str = SECRET,
        body: bytes | None = None,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        data = self.fake.body(*events) if body is None else body
        sent = {"Content-Type": "application/json", "X-Line-Signature": signature or self.fake.sign(secret, data), **(headers or {})}
        async with self.session.post(f"{self.env.base}/hooks/line/{tenant}", data=data, headers=sent) as r:
            answer = await r.json(content_type=None) if r.content_length != 0 else None
            status = r.status
        await self.service.drained()
        return status, answer

    async def people(self, uid: str) -> list[Person]:
        return await self.audiences.by_endpoint("anamizu", "line", uid)

    async def person(self, uid: str) -> Person:
        (p,) = await self.people(uid)
        return p

    async def tap(self, uid: str, data: str) -> Replied:
        event = self.fake.postback(uid, data)
        status, _ = await self.post(event)
        assert status == 200
        (reply,) = self.fake.replies_to(event)
        return reply

    async def events(self) -> list[Any]:
        e = t.line_webhook_events
        return await self.env.ledger.db.read(lambda c: list(c.execute(sa.select(e)).all()))


def line_tenants(fake: FakeLine) -> dict[str, Any]:
    tenants = copy.deepcopy(TENANTS)
    tenants["anamizu"]["districts"] += [
        {"id": "hiyomi", "name": "日吉", "name_en": "Hiyomi"},
        {"id": "kabuto", "name": "甲", "name_en": "Kabuto"},
    ]
    tenants["anamizu"]["districts"][0]["name_en"] = "Kawashima"
    tenants["anamizu"]["districts"][1]["name_en"] = "Omachi"
    tenants["anamizu"]["channels"] = {
        "line": {"credentials": {"token": TOKEN, "channel_secret": SECRET}, "options": {"base_url": fake.url}}
    }
    return tenants


@pytest.fixture
async def hook(tmp_path: Path) -> AsyncIterator[Hook]:
    async with FakeLine(token=TOKEN) as fake, web_env(tmp_path, tenants=line_tenants(fake)) as env, aiohttp.ClientSession() as s:
        yield Hook(env, fake, s)


# -- who may post --------------------------------------------------------------------------------


async def test_a_signed_follow_registers_and_an_unsigned_or_tampered_one_changes_nothing(hook: Hook) -> None:
    event = hook.fake.follow(HIM)
    body = hook.fake.body(event)
    good = hook.fake.sign(SECRET, body)
    tampered = body.replace(HIM.encode(), THIRD.encode())
    refusals: list[dict[str, Any]] = [
        {"body": body, "signature": "-"},  # not Base64
        {"body": body, "signature": hook.fake.sign("another-channel-secret-000000000", body)},
        {"body": tampered, "signature": good},
        {"body": body, "headers": {"X-Line-Signature": ""}},
        {"body": body, "signature": good, "tenant": "wajima"},  # a town without a LINE webhook
        {"body": body, "signature": good, "tenant": "atlantis"},  # no such town: the same answer
    ]
    for kw in refusals:
        status, answer = await hook.post(**kw)
        assert (status, answer) == (401, {"error": "refused", "reason": "signature"}), kw
    assert await hook.events() == [], "nothing of a refused request is recorded"
    assert await hook.people(HIM) == [] and await hook.people(THIRD) == []
    async with hook.session.post(f"{hook.env.base}/hooks/line/anamizu", data=body) as r:
        assert r.status == 401, "no signature header at all"

    status, answer = await hook.post(body=body, signature=good)
    assert (status, answer) == (200, {})
    him = await hook.person(HIM)
    assert (him.kind, him.language, him.districts, him.endpoints) == ("resident", "ja", (), (("line", HIM),))
    (reply,) = hook.fake.replies_to(event)
    assert "穴水町の防災情報をお届けします" in reply.texts()[0]
    assert [a["label"] for a in reply.quick_replies()] == ["🏠 地区", "🌐 言葉", "🔔 受け取る情報", "📄 最新の情報"]
    assert reply.quick_replies()[-1]["uri"] == f"{hook.env.base}/site/anamizu/"


async def test_the_consoles_verify_button_gets_200(hook: Hook) -> None:
    status, _ = await hook.post(body=json.dumps({"destination": "U" + "f" * 32, "events": []}).encode())
    assert status == 200


# -- replay and redelivery -----------------------------------------------------------------------


async def test_the_same_event_twice_is_processed_once_and_a_redelivery_is_acknowledged(hook: Hook) -> None:
    event = hook.fake.follow(HIM)
    body = hook.fake.body(event)
    assert (await hook.post(body=body))[0] == 200
    status, answer = await hook.post(body=body)
    assert (status, answer) == (401, {"error": "refused", "reason": "replayed"}), "a captured request sent again"

    again = {**event, "deliveryContext": {"isRedelivery": True}}
    assert (await hook.post(again))[0] == 200, "LINE's redelivery is answered 200..."
    assert len(await hook.people(HIM)) == 1, "...and changes nothing"
    assert len(hook.fake.replies) == 1

    (row,) = await hook.events()
    assert (row.event_id, row.state, row.outcome, row.payload) == (event["webhookEventId"], "done", "registered", None), (
        "the event's body (it names a person) is gone once processed; its id stays"
    )

    new = hook.fake.text(HIM, "こんにちは")
    status, _ = await hook.post(new, again)
    assert status == 200, "a request with a new event beside a repeat is processed"
    assert len(hook.fake.replies) == 2


async def test_old_and_future_events_are_refused_by_their_own_time(hook: Hook) -> None:
    now = datetime.now(UTC)
    old = hook.fake.follow(HIM, timestamp_ms=int((now - timedelta(days=4)).timestamp() * 1000))
    ahead = hook.fake.follow(HIM, timestamp_ms=int((now + timedelta(hours=1)).timestamp() * 1000))
    for event in (old, ahead):
        status, answer = await hook.post(event)
        assert (status, answer) == (401, {"error": "refused", "reason": "stale"})
    assert await hook.people(HIM) == [] and await hook.events() == []


# -- bad bodies ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b'{"events": "many"}', "{\"events\": [\"\xff\"]}".encode("latin-1"), b"\xef\xbb\xbf\x00\x00"],
)
async def test_a_signed_body_that_is_not_a_webhook_request_is_400(hook: Hook, body: bytes) -> None:
    status, answer = await hook.post(body=body)
    assert (status, answer) == (400, {"error": "refused", "reason": "bad_body"})
    assert await hook.events() == []


async def test_an_oversized_body_is_413_before_it_is_read_or_verified(hook: Hook) -> None:
    huge = hook.fake.body(hook.fake.text(HIM, "あ" * 100_000))
    status, answer = await hook.post(body=huge, signature="anything")
    assert (status, answer) == (413, {"error": "refused", "reason": "too_large"})

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the stream is cut off as it goes
        for _ in range(100):
            yield b" " * 8192

    async with hook.session.post(f"{hook.env.base}/hooks/line/anamizu", data=chunks()) as r:
        assert r.status == 413


async def test_unreadable_events_are_skipped_beside_good_ones(hook: Hook) -> None:
    good = hook.fake.follow(HIM)
    status, _ = await hook.post({"type": "follow", "webhookEventId": "bad id!"}, {"nonsense": True}, good)
    assert status == 200
    assert len(await hook.people(HIM)) == 1


# -- a resident's settings -----------------------------------------------------------------------


async def test_scenario_4_she_follows_in_vietnamese_and_picks_her_district(hook: Hook) -> None:
    hook.fake.profiles[HER] = {"displayName": "Nguyễn Thị Lan", "language": "vi-VN"}
    follow = hook.fake.follow(HER)
    assert (await hook.post(follow))[0] == 200
    her = await hook.person(HER)
    assert her.language == "vi", "the language LINE knows, as the renderer names it"
    assert her.name is None, "her display name is not kept"
    (welcome,) = hook.fake.replies_to(follow)
    assert welcome.texts()[0].startswith("Thị trấn Anamizu gửi thông tin phòng chống thiên tai")
    menu = {a["label"]: a for a in welcome.quick_replies()}
    assert "🏠 Khu vực" in menu

    districts = await hook.tap(HER, menu["🏠 Khu vực"]["data"])
    labels = {a["label"]: a for a in districts.quick_replies()}
    assert list(labels)[:4] == ["Kawashima", "Omachi", "Hiyomi", "Kabuto"]
    chosen = await hook.tap(HER, labels["Kawashima"]["data"])
    assert "Khu vực: Kawashima" in chosen.texts()[0]
    assert chosen.quick_replies()[0]["label"] == "✓ Kawashima"
    her = await hook.person(HER)
    assert her.districts == ("kawashima",)
    assert await hook.audiences.count("anamizu", "district:kawashima", "line") == 1
    assert await hook.audiences.count("anamizu", "district:kawashima/避難", "line") == 1

    topics = await hook.tap(HER, menu["🔔 Thông tin nhận"]["data"])
    weather = next(a for a in topics.quick_replies() if a["label"] == "✓ Thời tiết")
    await hook.tap(HER, weather["data"])
    her = await hook.person(HER)
    assert "気象" not in her.topics and "避難" in her.topics
    assert await hook.audiences.count("anamizu", "district:kawashima/気象", "line") == 0

    languages = await hook.tap(HER, menu["🌐 Ngôn ngữ"]["data"])
    page = {a["label"]: a for a in languages.quick_replies()}
    assert "日本語" in page and "Tiếng Việt" in page
    japanese = await hook.tap(HER, page["日本語"]["data"])
    assert japanese.texts()[0].startswith("設定を変えました。"), "the answer comes in the new language"
    assert (await hook.person(HER)).language == "ja"


async def test_someone_who_followed_before_the_webhook_is_registered_by_their_first_tap(hook: Hook) -> None:
    reply = await hook.tap(HIM, "ln1:d:omachi")
    assert (await hook.person(HIM)).districts == ("omachi",)
    assert "地区：大町" in reply.texts()[0]


async def test_hostile_input_is_answered_with_help_never_echoed_nor_logged(hook: Hook) -> None:
    buf = io.StringIO()
    configure("DEBUG", "json", stream=buf)
    try:
        nasty = ["<script>alert(1)</script>", "'; DROP TABLE subscribers; --", "{town}{0}%s", "\u202eevil", "Xin chào, tôi muốn hỏi", "避難所はどこですか？"]
        events = [hook.fake.text(HIM, text) for text in nasty]
        events.append(hook.fake.postback(HIM, "ln1:d:../../etc"))
        events.append(hook.fake.postback(HIM, "x" * 300))
        events.append(hook.fake.event("message", HIM, message={"type": "sticker", "id": "1", "packageId": "1", "stickerId": "1"}))
        status, _ = await hook.post(*events)
        assert status == 200
    finally:
        configure()
    replies = [r for e in events for r in hook.fake.replies_to(e)]
    assert len(replies) == len(events), "everyone gets an answer"
    for reply in replies:
        text = reply.texts()[0]
        assert "メッセージに個別にお返事することはできません" in text and "119" in text
        assert not any(n in text for n in nasty)
    log = buf.getvalue()
    assert HIM not in log and hash_id(HIM) in log, "the LINE id appears only hashed"
    assert not any(n in log for n in nasty), "nothing typed is logged"
    assert (await hook.person(HIM)).districts == ()


async def test_standby_mode_registers_but_does_not_speak(hook: Hook) -> None:
    assert (await hook.post(hook.fake.follow(HIM, mode="standby")))[0] == 200
    assert len(await hook.people(HIM)) == 1
    assert hook.fake.replies == []


async def test_a_failed_reply_does_not_undo_the_registration(hook: Hook) -> None:
    hook.fake.fail_next(500, "LINE is down")
    assert (await hook.post(hook.fake.follow(HIM)))[0] == 200
    assert len(await hook.people(HIM)) == 1
    (row,) = await hook.events()
    assert row.state == "done"


# -- unfollow ------------------------------------------------------------------------------------


async def test_unfollow_deletes_a_line_only_resident_and_keeps_others_minus_line(hook: Hook) -> None:
    await hook.post(hook.fake.follow(HIM))
    await hook.tap(HIM, "ln1:d:kawashima")
    mail = await hook.audiences.add("anamizu", districts=["omachi"], endpoints={"line": HER, "email": "her@example.jp"})
    assert await hook.audiences.count("anamizu", "district:kawashima", "line") == 1

    assert (await hook.post(hook.fake.unfollow(HIM), hook.fake.unfollow(HER)))[0] == 200
    assert await hook.people(HIM) == []
    rows = await hook.env.ledger.db.read(
        lambda c: c.execute(sa.select(t.subscribers).where(t.subscribers.c.left_at.is_not(None))).all()
    )
    (gone,) = rows
    assert (gone.name, gone.active, gone.topics) == (None, False, []), "personal data deleted (個人情報保護法)"
    left_children = await hook.env.ledger.db.read(
        lambda c: c.execute(sa.select(t.subscriber_districts).where(t.subscriber_districts.c.subscriber_id == gone.id)).all()
    )
    assert left_children == []
    she = await hook.audiences.person("anamizu", f"auto-{mail}")
    assert she is not None and she.active and she.endpoints == (("email", "her@example.jp"),)
    assert await hook.audiences.count("anamizu", "district:kawashima", "line") == 0
    assert await hook.audiences.count("anamizu", "district:omachi", "email") == 1
    assert hook.fake.replies_to(hook.fake.unfollow(HIM)) == []

    # following again is a new sign-up: nothing of the old one comes back
    await hook.post(hook.fake.follow(HIM))
    assert (await hook.person(HIM)).districts == ()


# -- leaders link their LINE with a one-time code -----------------------------------------------


async def _leader(hook: Hook, external_id: str = "L-001") -> None:
    await hook.audiences.import_people(
        "anamizu",
        [Person(external_id=external_id, kind="leader", name="山田太郎", title="区長", districts=("kawashima",), endpoints=(("phone", "0768520001"),))],
    )


async def _code(hook: Hook, leader: str = "L-001", token: str = "anamizu_operator") -> tuple[int, Any]:
    async with hook.session.post(
        f"{hook.env.base}/api/v1/tenants/anamizu/leaders/{leader}/line-link-code",
        json={"minutes": 30},
        headers={"Authorization": f"Bearer {hook.env.tokens[token]}"},
    ) as r:
        return r.status, await r.json()


async def test_a_leader_links_his_line_with_the_code_the_officer_gave_him(hook: Hook) -> None:
    await _leader(hook)
    status, issued = await _code(hook)
    assert status == 201, issued
    code = issued["code"]
    assert len(code) == 9 and code[4] == " " and code.replace(" ", "").isdigit()

    await hook.post(hook.fake.follow(HIM))  # he follows first: a resident sign-up
    full_width = code.translate(str.maketrans("0123456789 ", "０１２３４５６７８９　"))
    message = hook.fake.text(HIM, full_width)  # typed on a Japanese keyboard
    assert (await hook.post(message))[0] == 200

    (reply,) = hook.fake.replies_to(message)
    assert reply.texts()[0].startswith("地区の代表者として登録しました")
    (leader,) = await hook.people(HIM)
    assert (leader.external_id, leader.kind, leader.name) == ("L-001", "leader", "山田太郎")
    assert ("line", HIM) in leader.endpoints and ("phone", "0768520001") in leader.endpoints
    assert await hook.audiences.count("anamizu", "leaders:kawashima", "line") == 1
    assert await hook.audiences.count("anamizu", "public", "line") == 1, "reached once, as the leader, not twice"

    districts = await hook.tap(HIM, "ln1:d:omachi")
    assert districts.texts()[0].startswith("地区の代表者の地区は町の名簿で決まっている")
    assert (await hook.person(HIM)).districts == ("kawashima",), "the roster decides a leader's districts"

    audit = [(r["action"], r["target"]) for r in await _audit(hook)]
    assert ("line_link_code", "L-001") in audit and ("line_link", "L-001") in audit
    assert all(code.replace(" ", "") not in json.dumps(r, ensure_ascii=False, default=str) for r in await _audit(hook)), "the code is never recorded"

    again = hook.fake.text(THIRD, code)
    await hook.post(again)
    (refused,) = hook.fake.replies_to(again)
    assert refused.texts()[0].startswith("コードが正しくないか"), "a code works once"
    assert [p.kind for p in await hook.people(THIRD)] == ["resident"]
    assert ("line_link_refused", None) in [(r["action"], r["target"]) for r in await _audit(hook)]


async def _audit(hook: Hook) -> list[dict[str, Any]]:
    rows = await hook.env.ledger.db.read(lambda c: c.execute(sa.select(t.audit_log)).mappings().all())
    return [dict(r) for r in rows]


async def test_a_wrong_or_expired_code_links_nobody(hook: Hook) -> None:
    await _leader(hook)
    key = SECRET.encode()
    codes = LinkCodes(hook.env.ledger.db)
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    expired = await codes.issue("anamizu", "L-001", key=key, by="test", ttl=timedelta(minutes=60), at=long_ago)
    assert expired is not None
    for text in (expired.code, "00000000" if expired.code != "00000000" else "11111111"):
        message = hook.fake.text(HIM, text)
        await hook.post(message)
        (reply,) = hook.fake.replies_to(message)
        assert reply.texts()[0].startswith("コードが正しくないか")
    assert [p.kind for p in await hook.people(HIM)] == ["resident"]
    leader = await hook.audiences.person("anamizu", "L-001")
    assert leader is not None and ("line", HIM) not in leader.endpoints


async def test_guessing_is_cut_off_even_for_the_right_code_afterwards(hook: Hook) -> None:
    await _leader(hook)
    _, issued = await _code(hook)
    right = issued["code"].replace(" ", "")
    wrong = [f"{(int(right) + n) % 10**8:08d}" for n in range(1, 6)]
    for guess in wrong:
        await hook.post(hook.fake.text(HIM, guess))
    late = hook.fake.text(HIM, right)
    await hook.post(late)
    (reply,) = hook.fake.replies_to(late)
    assert reply.texts()[0].startswith("コードの間違いが続いたため")
    leader = await hook.audiences.person("anamizu", "L-001")
    assert leader is not None and ("line", HIM) not in leader.endpoints

    # another LINE user still can (the limit is per user first) with the code that was not spent
    ok = hook.fake.text(HER, right)
    await hook.post(ok)
    assert hook.fake.replies_to(ok)[0].texts()[0].startswith("地区の代表者として登録しました")


async def test_only_an_operator_of_the_town_gets_a_code_and_only_for_a_leader(hook: Hook) -> None:
    await _leader(hook)
    await hook.audiences.add("anamizu", external_ref="R-1", endpoints={"email": "r@example.jp"})
    assert (await _code(hook, token="anamizu_viewer"))[0] == 403
    assert (await _code(hook, token="wajima_operator"))[0] == 403
    assert (await _code(hook, leader="R-1"))[0] == 404, "a resident is not a leader"
    assert (await _code(hook, leader="nobody"))[0] == 404
    status, first = await _code(hook)
    status2, second = await _code(hook)
    assert status == status2 == 201 and first["code"] != second["code"]
    message = hook.fake.text(HIM, first["code"])
    await hook.post(message)
    assert hook.fake.replies_to(message)[0].texts()[0].startswith("コードが正しくないか"), "a new code replaces the old"
    async with hook.session.post(
        f"{hook.env.base}/api/v1/tenants/anamizu/leaders/L-001/line-link-code",
        json={"minutes": 100_000},
        headers={"Authorization": f"Bearer {hook.env.tokens['anamizu_operator']}"},
    ) as r:
        assert r.status == 422


# -- recovery ------------------------------------------------------------------------------------


async def test_an_event_left_behind_by_a_crash_is_processed_by_the_sweeper(hook: Hook) -> None:
    from adapters.outbound.line.webhook import parse

    (event,) = parse(hook.fake.body(hook.fake.postback(HIM, "ln1:d:kabuto"))).events
    service = hook.service
    # As if a process claimed it, answered 200 and died before processing it.
    await service.seen.claim("anamizu", [(event.id, event.raw_type, event.to_json())], datetime.now(UTC) - timedelta(minutes=5))
    assert await service.sweep() == 1
    assert (await hook.person(HIM)).districts == ("kabuto",)
    assert hook.fake.replies == [], "its reply token expired long ago"
    assert await service.sweep() == 0


async def test_the_conversation_is_the_line_channels_and_needs_no_web(hook: Hook) -> None:
    # What the events do belongs to the LINE channel (adapters/outbound/line/conversation.py),
    # found by its entry point; it reaches the town's records only through the desk.
    from adapters.outbound.line.conversation import LineConversation
    from adapters.outbound.line.webhook import parse
    from broadcaster import registry
    from broadcaster.followers import StoreDesk

    assert isinstance(hook.service.conversation, LineConversation)
    line = registry.load(registry.CHANNELS, "line")
    conversation = line.conversation(hook.env.settings, StoreDesk(hook.env.settings, hook.env.ledger))
    try:
        (event,) = parse(hook.fake.body(hook.fake.follow(THIRD))).events
        assert await conversation.handle("anamizu", event, reply=False) == "registered"
        assert await conversation.handle("anamizu", event, reply=False) == "followed_again"
        assert (await hook.person(THIRD)).endpoints == (("line", THIRD),)
        assert hook.fake.replies_to(event) == [], "no reply when told not to"
        body = hook.fake.body(hook.fake.follow(HIM))
        assert conversation.verify(SECRET, body, hook.fake.sign(SECRET, body)) is None
        assert conversation.verify(SECRET, body, hook.fake.sign("another-channel-secret-000000000", body)) == "mismatch"
        assert conversation.verify(SECRET, body, None) == "missing"
        with pytest.raises(ValueError, match="not a webhook request"):
            conversation.read(b"[]")
        assert conversation.event_of(event.to_json()) == event
        (gone,) = parse(hook.fake.body(hook.fake.unfollow(THIRD))).events
        assert await conversation.handle("anamizu", gone, reply=False) == "unfollow:left"
        assert await hook.people(THIRD) == []
    finally:
        await conversation.close()
