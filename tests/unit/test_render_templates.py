"""Templates: every one compiles and renders for every kind; safety rules hold whatever they say."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from broadcaster.channels import STANDARD_PROFILES
from broadcaster.model import Kind, MsgType, Status
from broadcaster.render.languages import SUPPORTED
from broadcaster.render.limits import CHANNEL_LIMITS
from broadcaster.render.renderer import PROJECT_TEMPLATES, Renderer, template_kinds
from tests.render_support import PUBLIC_URL, dispatch, made, renderer, sample

CHANNELS = (*CHANNEL_LIMITS, "a_channel_nobody_configured")
FRAMES = [
    (Status.ACTUAL, MsgType.ALERT),
    (Status.ACTUAL, MsgType.UPDATE),
    (Status.ACTUAL, MsgType.CANCEL),
    (Status.EXERCISE, MsgType.ALERT),
    (Status.TEST, MsgType.ALERT),
]


def test_every_template_file_compiles() -> None:
    r = renderer()
    names = [n for n in r.templates.files if n.endswith(".j2")]
    assert len(names) > 30
    for name in names:
        r.env.get_template(name)  # raises TemplateSyntaxError with the file and line


@pytest.mark.parametrize("kind", [k.value for k in Kind])
def test_every_channel_renders_every_kind_and_frame_without_falling_back(kind: str) -> None:
    r = renderer()
    level = 4 if kind in ("evacuation", "weather_warning", "landslide", "flood") else None
    for status, msg_type in FRAMES:
        alert = made(kind, status=status, msg_type=msg_type, level=level)
        for channel in CHANNELS:
            for lang in ("ja", "en"):
                wanted = (lang,) if lang == "ja" else (lang, "ja")
                texts = r.render(alert, dispatch(alert, channel, wanted), STANDARD_PROFILES.get(channel), tenant_name="穴水町", public_url=PUBLIC_URL)
                t = texts[0]
                assert "fallback" not in t.extra, (channel, kind, status, msg_type, lang, t.extra.get("fallback"))
                assert t.body.strip() and t.parts
                expected_kind = template_kinds(alert)[0]
                assert t.kind == expected_kind


@pytest.mark.parametrize("lang", SUPPORTED)
def test_every_language_renders_on_every_channel(lang: str) -> None:
    r = renderer()
    alert = sample("jma/02_vtse41_otsunami_keiho.xml")
    for channel in CHANNELS:
        t = r.render(alert, dispatch(alert, channel, (lang, "ja")), None, tenant_name="穴水町", public_url=PUBLIC_URL)[0]
        assert "fallback" not in t.extra, (channel, lang, t.extra.get("fallback"))
        assert t.language == lang
        # The fixed phrases come in the reader's language, not as keys.
        assert "tsunami.major" not in t.body and "fmt.title" not in t.title


def test_template_kinds_put_the_frame_before_the_family() -> None:
    assert template_kinds(made("tsunami")) == ("tsunami", "tsunami")
    assert template_kinds(made("tsunami", msg_type=MsgType.CANCEL, status=Status.EXERCISE)) == ("cancel", "tsunami")
    assert template_kinds(made("tsunami", status=Status.EXERCISE)) == ("drill", "tsunami")
    assert template_kinds(made("tsunami", msg_type=MsgType.UPDATE)) == ("update", "tsunami")
    assert template_kinds(made("tsunami", msg_type=MsgType.UPDATE, status=Status.EXERCISE)) == ("update", "tsunami")
    assert template_kinds(made("tsunami"), "shelter") == ("shelter", "shelter")
    # A template name from a rule file is a word, never a path.
    assert template_kinds(made("tsunami"), "../../etc/passwd") == ("tsunami", "tsunami")


@pytest.mark.parametrize("status", [Status.EXERCISE, Status.TEST, Status.DRAFT, Status.SYSTEM])
@pytest.mark.parametrize("lang", ["ja", "vi", "ja-x-easy"])
def test_a_non_actual_alert_is_labelled_at_the_start_of_everything(status: Status, lang: str) -> None:
    label = {Status.EXERCISE: "【訓練】", Status.TEST: "【試験】", Status.DRAFT: "【下書き】", Status.SYSTEM: "【システム】"}[status]
    alert = made("tsunami", status=status, description="津波が来ます。" * 300)
    for channel in CHANNELS:
        t = renderer().render(alert, dispatch(alert, channel, (lang,)), None, tenant_name="穴水町", public_url=PUBLIC_URL)[0]
        for out in (t.title, t.body, *t.parts, t.extra.get("flex_alt_text", label)):
            assert out.startswith(label), (channel, out[:30])
        if t.html is not None:
            assert t.html.index(label) < 300, "the label is at the top of the page"
        if "flex" in t.extra:
            assert t.extra["flex"]["header"]["contents"][0]["text"].startswith(label)


def test_a_reader_of_another_language_gets_fixed_phrases_translated_and_free_text_marked() -> None:
    alert = sample("lalert/anamizu_shelter_open.xml")
    vi, ja = renderer().render(alert, dispatch(alert, "line", ("vi", "ja")), None, tenant_name="穴水町", public_url=PUBLIC_URL)
    assert vi.language == "vi" and ja.language == "ja"
    assert "Đã mở nơi sơ tán" in vi.body  # 避難所開設
    assert "Vui lòng xem phần tiếng Nhật ở sau" in vi.body, "points to the Japanese text that follows"
    assert "穴水中学校体育館" in vi.body, "names stay as the town wrote them"
    alone = renderer().render(alert, dispatch(alert, "line", ("vi",)), None, tenant_name="穴水町", public_url=PUBLIC_URL)[0]
    assert "(Chỉ có tiếng Nhật)" in alone.body and "開設しました" in alone.body, "with no Japanese after it, the town's text comes marked"


def test_a_translation_the_officer_gave_is_used_as_written() -> None:
    alert = sample("manual/evacuation_order.json")
    vi = renderer().render(alert, dispatch(alert, "email", ("vi", "ja")), None, tenant_name="穴水町", public_url=PUBLIC_URL)[0]
    assert "Sông Komata có thể tràn bờ do mưa lớn." in vi.body
    assert "(Chỉ có tiếng Nhật)" not in vi.body


def test_a_language_without_tables_falls_back_to_easy_japanese_and_says_so() -> None:
    alert = sample("jma/02_vtse41_otsunami_keiho.xml")
    fr = renderer().render(alert, dispatch(alert, "line", ("fr",)), None, tenant_name="穴水町", public_url=PUBLIC_URL)[0]
    assert fr.language == "fr"
    assert fr.extra["served_language"] == "ja-x-easy"
    assert "大津波警報（おおつなみけいほう）" in fr.body


def test_the_town_hears_its_own_warning_level_not_the_prefectures_gravest() -> None:
    alert = sample("jma/07_vpww55_ooame_r06.xml")  # level 4 in Wajima, level 3 in Anamizu
    t = renderer().render(alert, dispatch(alert, "line"), None, tenant_name="穴水町", public_url=PUBLIC_URL)[0]
    assert t.title == "【穴水町】レベル３大雨警報"
    assert "危険な場所から高齢者等は避難してください。" in t.body
    assert t.extra["flex"]["header"]["backgroundColor"] == "#FF2800", "level 3 is red"


def test_line_gets_a_flex_bubble_coloured_by_level_with_a_button_to_the_page() -> None:
    alert = made("evacuation", level=4)
    t = renderer().render(alert, dispatch(alert, "line"), None, tenant_name="穴水町", public_url=PUBLIC_URL)[0]
    bubble = t.extra["flex"]
    assert bubble["type"] == "bubble"
    assert bubble["header"]["backgroundColor"] == "#AA00AA"
    assert bubble["footer"]["contents"][0]["action"]["uri"] == t.extra["url"]
    assert len(t.extra["flex_alt_text"]) <= 400 and len(t.parts) <= 4, "bubble + parts: LINE's five messages"


HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>&amp;'


HOSTILE_FACTS = (
    ("tsunamiArea", f"360|{HOSTILE}|53|大津波警報：発表|51|{HOSTILE}|{HOSTILE}"),
    ("lalert:shelter.1.name", HOSTILE),
    ("lalert:shelter.1.status", "開設"),
    ("lalert:shelter.1.address", HOSTILE),
    ("warning", f"1746100|穴水町|03|{HOSTILE}|発表|3"),
    ("maxIntensity", "7"),
    ("hypocenterName", HOSTILE),
    ("cityIntensity", f"1|{HOSTILE}|7"),
    ("lalert:order.1.label", HOSTILE),
    ("lalert:order.1.areas", HOSTILE),
)


@pytest.mark.parametrize("channel", ["website", "email", "circular"])
@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize("kind", ["notice", "tsunami", "shelter", "weather_warning", "earthquake", "evacuation"])
def test_html_escapes_whatever_an_alert_carries(channel: str, lang: str, kind: str) -> None:
    alert = made(
        kind,
        params=HOSTILE_FACTS,
        event=HOSTILE,
        headline=HOSTILE,
        description=HOSTILE + "\n\n" + HOSTILE,
        instruction=HOSTILE,
        areas=(HOSTILE,),
        translations={"en": {"event": HOSTILE, "headline": HOSTILE, "description": HOSTILE}},
    )
    t = renderer().render(alert, dispatch(alert, channel, (lang,)), None, tenant_name="<b>町</b>", public_url=PUBLIC_URL)[0]
    assert t.html is not None and "fallback" not in t.extra
    assert "<script" not in t.html and "<img" not in t.html and "<b>" not in t.html
    assert "&lt;script&gt;" in t.html
    assert "&amp;amp;" in t.html, "an entity in the text is shown, not interpreted"


def test_a_broken_template_falls_back_to_plain_text_and_says_why(tmp_path: Path) -> None:
    (tmp_path / "line").mkdir()
    (tmp_path / "line" / "default.ja.j2").write_text("{{ alert.no_such_field }}", encoding="utf-8")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "default.ja.j2").write_text("{% if %}", encoding="utf-8")
    r = Renderer(tmp_path, check_interval_s=0)
    alert = made("tsunami", status=Status.EXERCISE, event="大津波警報", headline="大津波警報を発表")
    for channel in ("line", "x"):
        t = r.render(alert, dispatch(alert, channel), None, tenant_name="穴水町", public_url=PUBLIC_URL)[0]
        assert "fallback" in t.extra
        assert t.body.startswith("【訓練】【穴水町】大津波警報を発表")
        assert t.extra["url"] in t.body


def test_a_sandboxed_template_cannot_reach_python_internals(tmp_path: Path) -> None:
    (tmp_path / "line").mkdir()
    (tmp_path / "line" / "default.ja.j2").write_text("{{ alert.__class__.__mro__ }}", encoding="utf-8")
    r = Renderer(tmp_path, check_interval_s=0)
    alert = made("notice")
    t = r.render(alert, dispatch(alert, "line"), None, tenant_name="穴水町", public_url=PUBLIC_URL)[0]
    assert "fallback" in t.extra and "object" not in t.body


def test_tenant_overrides_and_deployment_layers_win_in_that_order(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "default.ja.j2").write_text("{% set title %}deployment{% endset %}deployment x", encoding="utf-8")
    (tmp_path / "tenants" / "anamizu" / "x").mkdir(parents=True)
    (tmp_path / "tenants" / "anamizu" / "x" / "tsunami.ja.j2").write_text("穴水町の津波テンプレート", encoding="utf-8")
    r = Renderer(tmp_path, check_interval_s=0)
    tsunami, notice = made("tsunami"), made("notice")
    assert r.render(tsunami, dispatch(tsunami, "x"), None, tenant_name="穴水町", public_url=PUBLIC_URL)[0].body == "穴水町の津波テンプレート"
    assert r.render(notice, dispatch(notice, "x"), None, tenant_name="穴水町", public_url=PUBLIC_URL)[0].body == "deployment x"
    line = r.render(notice, dispatch(notice, "line"), None, tenant_name="穴水町", public_url=PUBLIC_URL)[0]
    assert line.extra["template"] == "line/default.ja.j2", "the project's defaults are the last layer"


def _copy_templates(tmp_path: Path) -> Path:
    root = tmp_path / "templates"
    shutil.copytree(PROJECT_TEMPLATES, root)
    return root


def test_an_edited_template_is_picked_up_without_a_restart(tmp_path: Path) -> None:
    root = _copy_templates(tmp_path)
    r = Renderer(root, defaults_dir=None, check_interval_s=0.01)
    alert = made("notice")
    before = r.render(alert, dispatch(alert, "x"), None, tenant_name="穴水町", public_url=PUBLIC_URL)[0]
    path = root / "x" / "default.ja.j2"
    path.write_text("{% set title %}t{% endset %}臨時：{{ text.event }}", encoding="utf-8")
    os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    time.sleep(0.02)
    after = r.render(alert, dispatch(alert, "x"), None, tenant_name="穴水町", public_url=PUBLIC_URL)[0]
    assert before.body != after.body and after.body == "臨時：避難指示"
    # A new file (a tenant's override) is found too.
    (root / "tenants" / "anamizu" / "x").mkdir(parents=True)
    (root / "tenants" / "anamizu" / "x" / "notice.ja.j2").write_text("町独自", encoding="utf-8")
    time.sleep(0.02)
    assert r.render(alert, dispatch(alert, "x"), None, tenant_name="穴水町", public_url=PUBLIC_URL)[0].body == "町独自"


def test_an_edited_phrase_table_is_picked_up_and_a_broken_one_keeps_the_last_good(tmp_path: Path) -> None:
    root = _copy_templates(tmp_path)
    r = Renderer(root, defaults_dir=None, check_interval_s=0.01)
    alert = made("tsunami", event="大津波警報")
    en = root / "_phrases" / "en.yaml"
    en.write_text(en.read_text(encoding="utf-8").replace('"Major Tsunami Warning"', '"MAJOR TSUNAMI WARNING"'), encoding="utf-8")
    os.utime(en, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    time.sleep(0.02)
    t = r.render(alert, dispatch(alert, "x", ("en",)), None, tenant_name="穴水町", public_url=PUBLIC_URL)[0]
    assert "MAJOR TSUNAMI WARNING" in t.body
    en.write_text("phrases: [not, a, table", encoding="utf-8")
    r.reload()
    t = r.render(alert, dispatch(alert, "x", ("en",)), None, tenant_name="穴水町", public_url=PUBLIC_URL)[0]
    assert "MAJOR TSUNAMI WARNING" in t.body


def test_rendering_asks_the_disk_nothing_between_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    r = Renderer(PROJECT_TEMPLATES, check_interval_s=3600)
    alert = sample("jma/02_vtse41_otsunami_keiho.xml")
    for channel in CHANNEL_LIMITS:  # compile everything once
        r.render(alert, dispatch(alert, channel, ("vi", "ja")), None, tenant_name="穴水町", public_url=PUBLIC_URL)
    calls: list[str] = []
    real_stat = os.stat

    def counting_stat(path: object, *args: object, **kwargs: object) -> os.stat_result:
        calls.append(str(path))
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "stat", counting_stat)
    for _ in range(20):
        for channel in CHANNEL_LIMITS:
            r.render(alert, dispatch(alert, channel, ("vi", "ja")), None, tenant_name="穴水町", public_url=PUBLIC_URL)
    assert calls == []


@pytest.mark.parametrize(
    "name", ["01_missile_launch.txt", "02_missile_take_cover.txt", "03_missile_passed.txt", "04_missile_cancel.txt", "05_missile_fell_at_sea.json", "06_terror_anamizu.txt", "07_eew_text_sjis.txt"]
)
def test_jalert_messages_render_everywhere_in_jalerts_own_words(name: str) -> None:
    alert = sample(f"jalert/{name}")
    for channel in CHANNELS:
        for lang in ("ja", "en"):
            t = renderer().render(alert, dispatch(alert, channel, (lang, "ja")), None, tenant_name="穴水町", public_url=PUBLIC_URL)[0]
            assert "fallback" not in t.extra, (channel, lang, t.extra.get("fallback"))
            if name.startswith("06"):
                # A terror warning is a civil-protection message, never worded as a missile.
                assert "ミサイル" not in t.body and "issile" not in t.body
    line = renderer().render(alert, dispatch(alert, "line"), None, tenant_name="穴水町", public_url=PUBLIC_URL)[0]
    if name.startswith("01"):
        assert "建物の中、又は地下に避難してください。" in line.body
    if name.startswith("02"):
        assert "直ちに建物の中、又は地下に避難してください。" in line.body


# The media whose texts say 更新 on an update in their title, in every language (the circular, SMS,
# voice, area mail and L-Alert are Japanese-first and carry it their own way: the next test).
UPDATE_MARKED = ("line", "website", "app_push", "fcm", "email", "x", "mastodon", "bluesky", "webhook")


@pytest.mark.parametrize("status", [Status.EXERCISE, Status.TEST])
def test_a_corrected_drill_is_marked_both_drill_and_update_on_every_medium(status: Status) -> None:
    from lxml import etree

    from broadcaster.cap.write import to_cap

    r = renderer()
    label = {Status.EXERCISE: "【訓練】", Status.TEST: "【試験】"}[status]
    alert = made("evacuation", status=status, msg_type=MsgType.UPDATE, level=4)
    actual = made("evacuation", msg_type=MsgType.UPDATE, level=4)
    for channel in UPDATE_MARKED:
        for lang, mark in (("ja", "更新"), ("en", "Update")):
            wanted = (lang,) if lang == "ja" else (lang, "ja")
            t = r.render(alert, dispatch(alert, channel, wanted), STANDARD_PROFILES.get(channel), tenant_name="穴水町", public_url=PUBLIC_URL)[0]
            same = r.render(actual, dispatch(actual, channel, wanted), STANDARD_PROFILES.get(channel), tenant_name="穴水町", public_url=PUBLIC_URL)[0]
            assert mark in same.title, (channel, lang, same.title)  # the Actual update says so
            assert t.title.startswith(label), (channel, lang, t.title)
            assert mark in t.title, (channel, lang, t.title)
            # A text that repeats its title (LINE, X...) says it there too; a push body does not.
            assert (mark in t.parts[0]) == (mark in same.parts[0]), (channel, lang, t.parts[0])
            if t.html is not None:
                assert label in t.html and mark in t.html, (channel, lang)
    # The CAP it travels as: an Exercise that is an Update referencing the original.
    cap = etree.fromstring(to_cap(alert))
    ns = {"cap": cap.nsmap[None]}
    assert cap.findtext("cap:status", namespaces=ns) == status.value
    assert cap.findtext("cap:msgType", namespaces=ns) == "Update"
    assert "orig" in (cap.findtext("cap:references", namespaces=ns) or "")


@pytest.mark.parametrize("channel", ["sms", "voice", "area_mail", "lalert_out", "circular"])
def test_an_update_says_so_on_the_media_read_aloud_or_carried_by_hand(channel: str) -> None:
    # A resident who gets a second SMS or call, or a leader a second circular, must hear that it
    # replaces the first, not that a second evacuation order was issued.
    r = renderer()
    update = made("evacuation", msg_type=MsgType.UPDATE, level=4)
    alert = made("evacuation", level=4)
    t = r.render(update, dispatch(update, channel, ("ja",)), STANDARD_PROFILES.get(channel), tenant_name="穴水町", public_url=PUBLIC_URL)[0]
    first = r.render(alert, dispatch(alert, channel, ("ja",)), STANDARD_PROFILES.get(channel), tenant_name="穴水町", public_url=PUBLIC_URL)[0]
    said = t.title + "\n" + t.body
    assert "更新" in said, (channel, said)
    assert "更新" not in first.title + "\n" + first.body, (channel, first.body)
    if t.title:
        assert "更新" in t.title, (channel, t.title)
