"""The circulars' pure parts: signed links, answers, attachments, notices, latest answers, CSV cells."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from broadcaster.circulars import attachments, forms, notice
from broadcaster.circulars.config import CircularSettings
from broadcaster.circulars.links import LinkError, LinkSigner
from broadcaster.circulars.report import _cell, latest_answers

KEY = SecretStr("a" * 40)
AT = datetime(2025, 7, 10, 2, 40, tzinfo=UTC)
DELIVERY = "0123456789abcdef0123456789abcdef"


def test_a_link_opens_its_delivery_until_it_expires() -> None:
    signer = LinkSigner(KEY, lifetime=timedelta(days=14))
    token = signer.token(DELIVERY, 1, AT)
    link = signer.verify(token, AT + timedelta(days=13))
    assert (link.delivery_id, link.version) == (DELIVERY, 1)
    with pytest.raises(LinkError) as e:
        signer.verify(token, AT + timedelta(days=14, seconds=1))
    assert e.value.reason == "expired"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace(DELIVERY, "f" * 32),  # another delivery
        lambda t: t.replace(".1.", ".2.", 1),  # another version
        lambda t: ".".join([*t.split(".")[:2], str(int(t.split(".")[2]) + 86400), t.split(".")[3]]),  # a longer life
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # the signature
        lambda t: t + ".",
        lambda t: "../" + t,
        lambda t: "",
    ],
)
def test_a_tampered_link_is_refused(tamper: object) -> None:
    signer = LinkSigner(KEY)
    token = signer.token(DELIVERY, 1, AT)
    with pytest.raises(LinkError) as e:
        signer.verify(tamper(token), AT)  # type: ignore[operator]
    assert e.value.reason in ("forged", "malformed")


def test_another_key_is_refused_and_an_old_key_still_opens_after_a_rotation() -> None:
    old = LinkSigner(SecretStr("b" * 40))
    token = old.token(DELIVERY, 3, AT)
    with pytest.raises(LinkError):
        LinkSigner(KEY).verify(token, AT)
    assert LinkSigner(KEY, (SecretStr("b" * 40),)).verify(token, AT).version == 3


@given(st.text(max_size=120))
def test_any_string_is_refused_without_an_exception_of_another_kind(text: str) -> None:
    with pytest.raises(LinkError):
        LinkSigner(KEY).verify(text, AT)


def test_the_link_key_is_a_secret_of_some_length() -> None:
    assert "a" * 40 not in repr(CircularSettings(link_key=KEY))
    with pytest.raises(ValidationError):
        CircularSettings(link_key=SecretStr("short"))


@pytest.mark.parametrize(
    ("form", "fields", "expected"),
    [
        ("safety", {"safe": "18", "need_help": "2", "unreachable": "1"}, forms.Answer("safety", {"safe": 18, "need_help": 2, "unreachable": 1})),
        ("safety", {"safe": "１８", "need_help": "", "note": " 山側は消防団へ "}, forms.Answer("safety", {"safe": 18, "note": "山側は消防団へ"})),
        ("headcount", {"evacuees": "1,204"}, forms.Answer("headcount", {"evacuees": 1204})),
        ("yesno", {"choice": "no"}, forms.Answer("yesno", {"choice": "no"})),
        ("none", {"note": "了解しました"}, forms.Answer("text", {"note": "了解しました"})),
        ("safety", {"note": "あとで数えます"}, forms.Answer("text", {"note": "あとで数えます"})),
    ],
)
def test_answers_are_parsed(form: str, fields: dict[str, str], expected: forms.Answer) -> None:
    assert forms.parse_answer(form, fields) == expected


@pytest.mark.parametrize(
    ("form", "fields"),
    [
        ("safety", {}),
        ("safety", {"safe": "-1"}),
        ("safety", {"safe": "18世帯"}),
        ("safety", {"safe": "9" * 7}),
        ("yesno", {"choice": "maybe"}),
        ("none", {"note": "x" * 2001}),
        ("poll", {"note": "hi"}),
    ],
)
def test_bad_answers_are_refused_in_words_a_leader_reads(form: str, fields: dict[str, str]) -> None:
    with pytest.raises(forms.AnswerError) as e:
        forms.parse_answer(form, fields)
    assert "。" in str(e.value)


def test_notes_lose_control_characters() -> None:
    assert forms.parse_answer("none", {"note": "a\x00b\x1b[31mc\r\nd"}).data == {"note": "ab[31mc\nd"}


PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
PDF = b"%PDF-1.7\n1 0 obj <</Type /Catalog>> endobj\n%%EOF"


@pytest.mark.parametrize(
    ("name", "data", "filename", "content_type"),
    [
        ("ごみ収集日.pdf", PDF, "ごみ収集日.pdf", "application/pdf"),
        ("../../etc/地図.PNG", PNG, "地図.png", "image/png"),
        ("photo.pdf", b"\xff\xd8\xff\xe0" + b"0" * 20, "photo.jpg", "image/jpeg"),  # named by its bytes
        ("<script>.png", PNG, "script.png", "image/png"),
        ("", PNG, "添付ファイル.png", "image/png"),
    ],
)
def test_attachments_are_named_by_what_they_are(name: str, data: bytes, filename: str, content_type: str) -> None:
    checked = attachments.check(name, data, max_bytes=10_000)
    assert (checked.filename, checked.content_type) == (filename, content_type)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"<html><script>alert(1)</script>", "PDF・PNG・JPEG"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "PDF・PNG・JPEG"),
        (b"%PDF-1.4 /OpenAction << /S /JavaScript /JS (app.alert(1)) >>", "スクリプト"),
        (b"%PDF-1.4 /Launch /F (cmd.exe)", "スクリプト"),
        (b"", "空"),
        (PNG + b"0" * 10_000, "大きすぎ"),
    ],
)
def test_other_files_are_refused(data: bytes, why: str) -> None:
    with pytest.raises(attachments.AttachmentError) as e:
        attachments.check("x.pdf", data, max_bytes=10_000)
    assert why in str(e.value)


ABOUT = notice.About(tenant_name="穴水町", title="川島地区に避難指示", status="Actual", form="safety", role="leader")


def test_the_notice_says_town_circular_subject_request_and_link() -> None:
    text = notice.compose("line", "notify", ABOUT, "https://town.example/c/t")
    assert text.body.splitlines()[0] == "【穴水町】回覧：川島地区に避難指示"
    assert "「確認しました」を押してください" in text.body and "安否確認" in text.body
    assert text.body.endswith("https://town.example/c/t")
    assert text.extra["url"] == "https://town.example/c/t"


def test_a_drill_notice_is_labelled_and_a_deputy_is_told_why() -> None:
    deputy = notice.About(tenant_name="穴水町", title="避難指示", status="Exercise", form="none", role="deputy", district_name="大町")
    text = notice.compose("email", "notify", deputy, "u")
    assert text.title.startswith("【訓練】【穴水町】回覧")
    assert "大町の区長からまだ確認がありません" in text.body


@given(st.text(min_size=1, max_size=400), st.sampled_from(["notify", "reminder", "cancel", "reissue-2"]))
def test_a_push_notice_fits_the_notification_and_carries_no_url(title: str, purpose: str) -> None:
    about = notice.About(tenant_name="穴水町", title=title, status="Exercise", form="safety", role="deputy", district_name="川島")
    text = notice.compose("app_push", purpose, about, "https://town.example/c/secret")
    assert len(text.title) <= notice.PUSH_TITLE_MAX
    assert len(text.body) <= notice.PUSH_BODY_MAX
    assert "secret" not in text.body and text.extra["url"].endswith("/c/secret")
    assert text.body.startswith("【訓練】")


def test_the_latest_answer_counts_and_the_latest_note_stays() -> None:
    rows = [
        {"delivery_id": "d", "form": "safety", "data": {"safe": 18, "note": "まず"}, "at": AT},
        {"delivery_id": "d", "form": "text", "data": {"note": "追記"}, "at": AT + timedelta(minutes=1)},
        {"delivery_id": "d", "form": "safety", "data": {"safe": 19}, "at": AT + timedelta(minutes=2)},
    ]
    assert latest_answers(rows)["d"]["data"] == {"safe": 19, "note": "追記"}


@pytest.mark.parametrize("text", ["=1+1", "+81", "-2", "@SUM(A1)", "\tx"])
def test_csv_cells_never_start_a_formula(text: str) -> None:
    assert _cell(text).startswith("'")
    assert _cell("18") == "18"
