"""The LINE webhook's pure parts: signature, parsing hostile bodies, postbacks, the dialogue, codes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import linebot.v3.messaging as sdk
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.outbound.line.dialog import (
    MAX_ITEMS,
    Dialog,
    DistrictChoice,
    Postback,
    Prefs,
    decode,
    encode,
    label,
    step,
)
from adapters.outbound.line.richmenu import HEIGHT, WIDTH, definition, image_type, picture
from adapters.outbound.line.webhook import (
    BodyError,
    Event,
    SignatureError,
    clean_text,
    parse,
    signature,
    verify_signature,
)
from broadcaster.audience import TOPICS
from broadcaster.render.languages import SUPPORTED
from broadcaster.render.phrases import PhraseBook
from broadcaster.store.line_webhook import normalize_code

ROOT = Path(__file__).resolve().parents[2]
SECRET = "0123456789abcdef0123456789abcdef"
USER = "U" + "4f" * 16
DISTRICTS = [
    DistrictChoice("kawashima", "川島", "Kawashima"),
    DistrictChoice("omachi", "大町", "Omachi"),
    DistrictChoice("hiyomi", "日吉", "Hiyomi"),
    DistrictChoice("kabuto", "甲", "Kabuto"),
]


def _event(**over: Any) -> dict[str, Any]:
    event = {
        "type": "message",
        "mode": "active",
        "timestamp": 1752100000000,
        "source": {"type": "user", "userId": USER},
        "webhookEventId": "01JZZZZZZZZZZZZZZZZZZZZZZZ",
        "deliveryContext": {"isRedelivery": False},
        "replyToken": "r" * 32,
        "message": {"type": "text", "id": "1", "text": "こんにちは"},
    }
    event.update(over)
    return event


# -- signature ---------------------------------------------------------------------------------


def test_the_signature_is_base64_hmac_sha256_of_the_body_with_the_channel_secret() -> None:
    body = json.dumps({"events": []}).encode()
    expected = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    assert signature(SECRET, body) == expected
    verify_signature(SECRET, body, expected)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("not base64 at all!", "malformed"),
        ("ｱｲｳ", "malformed"),
        (base64.b64encode(b"x" * 32).decode(), "mismatch"),
        (base64.b64encode(b"short").decode(), "mismatch"),
    ],
)
def test_a_missing_malformed_or_wrong_signature_is_refused(header: str | None, reason: str) -> None:
    with pytest.raises(SignatureError) as refused:
        verify_signature(SECRET, b'{"events": []}', header)
    assert refused.value.reason == reason


def test_a_tampered_body_or_another_secret_fails() -> None:
    body = b'{"events": []}'
    good = signature(SECRET, body)
    with pytest.raises(SignatureError):
        verify_signature(SECRET, body + b" ", good)
    with pytest.raises(SignatureError):
        verify_signature("another-secret-another-secret-00", body, good)


# -- parsing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[]", b'{"events": {}}', b'{"destination": "x"}', "{\"events\": [\"\u00e9".encode("latin-1"), json.dumps({"events": [{}] * 101}).encode()],
)
def test_a_body_that_is_not_a_webhook_request_is_refused(body: bytes) -> None:
    with pytest.raises(BodyError):
        parse(body)


def test_unreadable_events_are_skipped_and_the_rest_kept() -> None:
    good = _event()
    bad = [
        {"type": "message"},  # no id
        _event(webhookEventId="has spaces and ; semicolons"),
        _event(webhookEventId="x" * 65),
        _event(timestamp=-1),
        "a string",
        _event(postback={"data": "x" * 301}, type="postback", webhookEventId="01JPOSTBACKTOOLONG00000000"),
    ]
    parsed = parse(json.dumps({"destination": "U" + "0" * 32, "events": [*bad, good, good]}).encode())
    assert [e.id for e in parsed.events] == [good["webhookEventId"]], "the same event twice in a request counts once"
    assert parsed.skipped == len(bad)


def test_events_keep_only_what_we_act_on_and_round_trip() -> None:
    parsed = parse(
        json.dumps(
            {
                "events": [
                    _event(type="follow", follow={"isUnblocked": True}, webhookEventId="01JA", message=None),
                    _event(type="join", source={"type": "group", "groupId": "C" + "0" * 32}, webhookEventId="01JB"),
                    _event(source={"type": "user", "userId": "not-a-line-id"}, webhookEventId="01JC"),
                    _event(mode="standby", deliveryContext={"isRedelivery": True}, webhookEventId="01JD"),
                ]
            }
        ).encode()
    )
    follow, join, odd, standby = parsed.events
    assert (follow.type, follow.user_id, follow.text) == ("follow", USER, None)
    assert (join.type, join.raw_type, join.user_id) == ("other", "join", None)
    assert odd.user_id is None, "only well-formed user ids are acted on"
    assert standby.redelivery and not standby.active
    for e in parsed.events:
        assert Event.from_json(e.to_json()) == e


@pytest.mark.parametrize(
    ("typed", "seen"),
    [
        ("１２３４　５６７８", "1234 5678"),  # a Japanese phone types full width
        ("  Xin chào\u200b  ", "Xin chào"),
        ("a\x00b\x1bc", "abc"),
        ("ｶﾀｶﾅ", "カタカナ"),
        ("x" * 10_000, "x" * 200),
    ],
)
def test_typed_text_is_normalised_cleaned_and_cut(typed: str, seen: str) -> None:
    assert clean_text(typed) == seen


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("12345678", "12345678"),
        ("1234 5678", "12345678"),
        ("1234-5678", "12345678"),
        (clean_text("１２３４ー５６７８"), "12345678"),
        ("1234567", None),
        ("123456789", None),
        ("12ab5678", None),
        ("０７６８５２０００１"[:8], None),  # not NFKC-normalised: refused, never guessed at
        ("١٢٣٤٥٦٧٨", None),  # other scripts' digits are not our codes
    ],
)
def test_a_link_code_is_eight_digits_however_it_was_typed(text: str, code: str | None) -> None:
    assert normalize_code(text) == code


# -- postbacks and the dialogue ------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [None, "", "ln1", "ln1:d", "ln1:d:x:y", "ln2:d:kawashima", "ln1:?:x", "ln1:d:川島", "ln1:d:<script>", "ln1:d:" + "a" * 65, "x" * 400],
)
def test_anything_but_our_own_postback_is_unknown(data: str | None) -> None:
    assert decode(data) is None


def test_postbacks_round_trip() -> None:
    for action, arg in [("district", "kawashima"), ("language", "zh-Hant"), ("topics", ""), ("languages", "1")]:
        assert decode(encode(action, arg)) == Postback(action, arg)


def test_taps_choose_districts_language_and_topics() -> None:
    prefs = Prefs()
    s = step(prefs, decode(encode("district", "omachi")), DISTRICTS)
    assert (s.prefs.districts, s.changed, s.view) == (("omachi",), True, "districts")
    s = step(s.prefs, decode(encode("district", "kawashima")), DISTRICTS)
    assert s.prefs.districts == ("kawashima", "omachi"), "in the town's order"
    s = step(s.prefs, decode(encode("district", "omachi")), DISTRICTS)
    assert s.prefs.districts == ("kawashima",), "a second tap removes it"
    assert step(s.prefs, decode(encode("district", "atlantis")), DISTRICTS).view == "help"
    s = step(s.prefs, decode(encode("language", "vi-VN")), DISTRICTS)
    assert (s.prefs.language, s.view) == ("vi", "settings")
    assert step(s.prefs, decode(encode("language", "klingon")), DISTRICTS).prefs.language == "vi"
    s = step(s.prefs, decode(encode("topic", "weather")), DISTRICTS)
    assert set(s.prefs.topics) == set(TOPICS) - {"気象"}, "from every topic, a tap takes one away"
    s = step(s.prefs, decode(encode("topic", "weather")), DISTRICTS)
    assert s.prefs.topics == (), "all of them again is 'every topic'"
    only = Prefs(topics=("避難",))
    assert step(only, decode(encode("topic", "evacuation")), DISTRICTS).prefs.topics == (), "none left means all"
    assert step(only, decode(encode("all_topics")), DISTRICTS).prefs.topics == ()


def test_a_leaders_districts_are_the_rosters() -> None:
    leader = Prefs(districts=("kawashima",))
    for pb in (encode("districts", "0"), encode("district", "omachi")):
        s = step(leader, decode(pb), DISTRICTS, districts_fixed=True)
        assert (s.prefs, s.changed, s.view) == (leader, False, "districts_fixed")


@pytest.fixture(scope="module")
def phrases() -> Any:
    book = PhraseBook.load([ROOT / "templates" / "_phrases"])

    class Book:
        def text(self, key: str, lang: str, **fields: Any) -> str:
            return book.text(key, lang, **fields)

        def has(self, key: str) -> bool:
            return key in book.tables["ja"]

    return Book()


def _dialog(phrases: Any, districts: list[DistrictChoice] = DISTRICTS) -> Dialog:
    return Dialog(phrases, tenant="anamizu", town="穴水町", town_en="Anamizu Town", districts=districts, site_url="https://bousai.example/site/anamizu/")


def _quick(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [i["action"] for i in messages[-1]["quickReply"]["items"]]


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_every_reply_in_every_language_fits_lines_limits(phrases: Any) -> None:
    many = [DistrictChoice(f"d{i:02d}", f"地区{i}", f"District number {i}") for i in range(23)]
    for lang in SUPPORTED:
        for districts in (DISTRICTS, many):
            dialog = _dialog(phrases, districts)
            prefs = Prefs(districts=tuple(d.id for d in districts[:2]), language=lang, topics=("気象",))
            views = [dialog.welcome(prefs), dialog.help(prefs), dialog.notice(prefs, "line.link_done")]
            views += [dialog.view(step(prefs, decode(encode("districts", str(p))), districts)) for p in range(4)]
            views += [dialog.view(step(prefs, decode(encode("languages", str(p))), districts)) for p in range(3)]
            views += [dialog.view(step(prefs, decode(encode("topics")), districts))]
            for messages in views:
                request = sdk.ReplyMessageRequest.from_dict({"replyToken": "t", "messages": messages})
                assert len(request.messages) <= 5
                for m in messages:
                    assert 1 <= len(m["text"]) <= 5000
                    assert "{" not in m["text"], (lang, m["text"])  # every placeholder filled
                actions = _quick(messages)
                assert 1 <= len(actions) <= MAX_ITEMS
                for a in actions:
                    assert 1 <= _units(a["label"]) <= 20, (lang, a["label"])
                    if a["type"] == "postback":
                        assert decode(a["data"]) is not None


def test_every_district_and_language_can_be_reached_through_the_pages(phrases: Any) -> None:
    many = [DistrictChoice(f"d{i:02d}", f"地区{i}") for i in range(23)]
    dialog = _dialog(phrases, many)
    seen: set[str] = set()
    for page in range(3):
        for item in dialog.districts_menu(Prefs(), page):
            pb = decode(item["action"]["data"])
            if pb is not None and pb.action == "district":
                seen.add(pb.arg)
    assert seen == {d.id for d in many}
    chosen = [decode(item["action"]["data"]) for p in range(2) for item in dialog.languages_menu(p)]
    assert {pb.arg for pb in chosen if pb is not None and pb.action == "language"} == set(SUPPORTED)


def test_the_reply_speaks_her_language_and_marks_her_choices(phrases: Any) -> None:
    dialog = _dialog(phrases)
    prefs = Prefs(districts=("kawashima",), language="vi")
    (welcome,) = dialog.welcome(prefs)
    assert "Thị trấn Anamizu" in welcome["text"] and "Kawashima" in welcome["text"] and "Tiếng Việt" in welcome["text"]
    labels = [a["label"] for a in _quick(dialog.view(step(prefs, decode(encode("districts", "0")), DISTRICTS)))]
    assert labels[:2] == ["✓ Kawashima", "Omachi"]
    ja_labels = [a["label"] for a in _quick(dialog.view(step(Prefs(districts=("omachi",)), decode(encode("districts", "0")), DISTRICTS)))]
    assert ja_labels[:2] == ["川島", "✓ 大町"]


@given(st.text(max_size=60))
@settings(max_examples=200, deadline=None)
def test_labels_never_pass_twenty_units(text: str) -> None:
    cut = label(text or "x")
    assert _units(cut) <= 20


# -- the rich menu -------------------------------------------------------------------------------


def test_the_rich_menu_is_a_valid_request_and_its_postbacks_are_ours() -> None:
    menu = definition("anamizu", site_url="https://bousai.example/site/anamizu/")
    sdk.RichMenuRequest.from_dict(menu)
    assert menu["size"] == {"width": WIDTH, "height": HEIGHT}
    assert _units(menu["chatBarText"]) <= 14
    actions = [a["action"] for a in menu["areas"]]
    assert [decode(a["data"]).action for a in actions if a["type"] == "postback"] == ["districts", "languages", "topics"]  # type: ignore[union-attr]
    assert actions[-1] == {"type": "uri", "label": "最新の情報", "uri": "https://bousai.example/site/anamizu/"}
    covered = sum(a["bounds"]["width"] * a["bounds"]["height"] for a in menu["areas"])
    assert covered == WIDTH * HEIGHT, "the whole picture is tappable, no gaps"


def test_the_default_picture_is_a_small_png_of_the_menus_size() -> None:
    png = picture()
    assert image_type(png) == "image/png"
    assert len(png) < 200_000
    with pytest.raises(ValueError, match="2500 × 843"):
        image_type(png[:16] + (1000).to_bytes(4, "big") + png[20:])
    with pytest.raises(ValueError, match="PNG or a JPEG"):
        image_type(b"GIF89a...")
