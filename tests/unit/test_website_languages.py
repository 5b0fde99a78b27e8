"""The town's pages in the reader's language (docs/website.md, *Languages*): every page in each
language the site speaks, with `<html lang>` to match and a switch of plain links; an alert page
puts the reader's text first and folds the others; districts by the names the town gave."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import lxml.html
import pytest

from adapters.outbound.website import WebsiteAdapter
from adapters.outbound.website.views import jst_text
from adapters.outbound.website.words import PAGE_LANGUAGES, rows
from broadcaster.model import Alert, Info, MsgType, Status
from broadcaster.pipeline.adapters import adapter_env
from broadcaster.settings import ChannelSettings
from tests.fakes.site import T0, SiteFixture, alert, follow_up, multilingual_delivery, site_delivery
from tests.helpers import make_settings

# What the renderer hands the website for a 避難指示 in three languages (abridged).
EVAC_TEXTS = {
    "ja": (
        "【穴水町】警戒レベル4 避難指示",
        "【穴水町】警戒レベル4 避難指示\n川島地区に避難指示を発令しました。",
    ),
    "en": (
        "[Anamizu Town] Alert Level 4 Evacuation Order",
        "[Anamizu Town] Alert Level 4 Evacuation Order\nAn evacuation order has been issued for Kawashima.",
    ),
    "vi": (
        "[Thị trấn Anamizu] Cấp cảnh báo 4 Lệnh sơ tán",
        "[Thị trấn Anamizu] Cấp cảnh báo 4 Lệnh sơ tán\nĐã ban hành lệnh sơ tán cho khu Kawashima.",
    ),
}


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[SiteFixture]:
    fixture = SiteFixture(tmp_path / "site")
    yield fixture
    await fixture.close()


def page(site: SiteFixture, rel: str) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(site.read(rel))


def with_translations(ident: str) -> Alert:
    a = alert(ident, districts=("kawashima",))
    ja = a.primary
    en = Info.model_validate({**ja.model_dump(), "language": "en", "event": "Evacuation Order"})
    vi = Info.model_validate({**ja.model_dump(), "language": "vi", "event": "Lệnh sơ tán"})
    return a.model_copy(update={"info": (ja, en, vi)})


def test_every_word_is_there_in_every_language() -> None:
    short = {key: len(row) for key, row in rows().items() if len(row) != len(PAGE_LANGUAGES)}
    assert not short, f"rows without a word for each of {PAGE_LANGUAGES}: {short}"


async def test_every_page_is_published_in_each_language_with_its_lang_and_a_switch(site: SiteFixture) -> None:
    a = alert("evac-1", districts=("kawashima",))
    await site.adapter().send(multilingual_delivery(a, EVAC_TEXTS, audience="district:kawashima"))
    for lang in PAGE_LANGUAGES:
        folder = "" if lang == "ja" else f"{lang}/"
        for rel in ("index.html", "districts/kawashima.html", "alerts/evac-1.html"):
            doc = page(site, folder + rel)
            assert doc.get("lang") == lang, (lang, rel)
            switch = doc.xpath("//nav[@class='languages']//a")
            assert [x.get("hreflang") for x in switch] == list(PAGE_LANGUAGES)
            here = [x.get("hreflang") for x in switch if x.get("aria-current") == "page"]
            assert here == [lang]
            # Each link leads to the same page in its language, relative to this one.
            target = {x.get("hreflang"): x.get("href") for x in switch}
            resolved = (site.current / folder / rel).parent / target["vi"]
            assert resolved.resolve() == (site.current / "vi" / rel).resolve()
            # The shared files are reached from every folder.
            css = doc.xpath("string(//link[@rel='stylesheet']/@href)")
            assert ((site.current / folder / rel).parent / css).resolve() == (
                site.current / "site.css"
            ).resolve()


async def test_the_english_and_vietnamese_pages_speak_their_language(site: SiteFixture) -> None:
    a = alert("evac-1", districts=("kawashima",))
    await site.adapter().send(multilingual_delivery(a, EVAC_TEXTS, audience="district:kawashima"))
    en = page(site, "en/index.html")
    assert en.xpath("string(//h1)") == "Emergency information: Anamizu Town"
    assert en.xpath("//nav[@class='districts']//a/text()") == ["Whole town", "Kawashima", "Omachi"]
    assert "Alert Level 4 Evacuation Order" in en.xpath("string(//ul[@class='cards'])")
    assert "Areas: Kawashima" in en.xpath("string(//ul[@class='cards'])")
    assert "川島" not in en.xpath("string(//ul[@class='cards'])")
    vi = page(site, "vi/districts/kawashima.html")
    assert vi.xpath("string(//h1)") == "Thông tin khẩn cấp: Kawashima"
    assert "Lệnh sơ tán" in vi.xpath("string(//ul[@class='cards'])")
    # Japanese readers keep the kanji.
    ja = page(site, "index.html")
    assert "対象地域: 川島" in ja.xpath("string(//ul[@class='cards'])")


async def test_an_alert_page_puts_the_readers_language_first_and_folds_the_others(site: SiteFixture) -> None:
    a = alert("evac-1", districts=("kawashima",))
    await site.adapter().send(multilingual_delivery(a, EVAC_TEXTS, audience="district:kawashima"))
    for lang, other in (("en", "vi"), ("vi", "en"), ("ja", "en")):
        folder = "" if lang == "ja" else f"{lang}/"
        doc = page(site, f"{folder}alerts/evac-1.html")
        main = doc.xpath("//main")[0]
        first = main.xpath(".//section[contains(@class, 'message')]")[0]
        assert first.get("lang") == lang
        assert first.getparent().tag != "details", "the reader's text is not folded"
        assert EVAC_TEXTS[lang][0] in doc.xpath("string(//h1)")
        folded = main.xpath(".//details[@class='other-languages']//section/@lang")
        assert set(folded) == set(EVAC_TEXTS) - {lang}
        assert other in folded


async def test_a_language_the_town_did_not_send_falls_back_and_says_so(site: SiteFixture) -> None:
    a = alert("evac-1")
    await site.adapter().send(multilingual_delivery(a, {"ja": EVAC_TEXTS["ja"], "en": EVAC_TEXTS["en"]}))
    doc = page(site, "ko/alerts/evac-1.html")
    assert doc.get("lang") == "ko"
    first = doc.xpath("//main//section[contains(@class, 'message')]")[0]
    assert first.get("lang") == "ja"
    assert "日本語" in first.xpath("string(.//p[@class='only-in'])")


async def test_a_cancel_of_a_one_district_alert_names_that_district_in_every_language(
    site: SiteFixture,
) -> None:
    evac = alert("evac-1", districts=("kawashima",))
    await site.adapter().send(site_delivery(evac, audience="district:kawashima"))
    # A cancel as a telegram or a hand-written cancel carries it: no district, the town's 全域.
    cancel = follow_up(evac, "evac-1-c", MsgType.CANCEL, area_desc="全域")
    await site.adapter().send(site_delivery(cancel))
    for rel, name in (
        ("alerts/evac-1-c.html", "川島"),
        ("en/alerts/evac-1-c.html", "Kawashima"),
        ("vi/alerts/evac-1-c.html", "Kawashima"),
    ):
        doc = page(site, rel)
        text = doc.xpath("string(//main)")
        assert name in doc.xpath("string(//p[@class='areas'])"), rel
        assert "全域" not in text, rel


async def test_real_before_drill_on_the_english_and_vietnamese_lists(site: SiteFixture) -> None:
    drill = alert(
        "drill-2", status=Status.EXERCISE, event="大津波警報", kind="tsunami", sent=T0 + timedelta(minutes=5)
    )
    await site.adapter().send(site_delivery(alert("real-1")))
    await site.adapter().send(site_delivery(drill))
    for rel in ("en/index.html", "vi/index.html", "en/districts/kawashima.html"):
        cards = page(site, rel).xpath("//ul[@class='cards']//a/@href")
        assert cards == ["alerts/real-1.html", "alerts/drill-2.html"] or cards == [
            "../alerts/real-1.html",
            "../alerts/drill-2.html",
        ], rel
    badge = page(site, "en/index.html").xpath(
        "string(//ul[@class='cards']//span[contains(@class, 'drill-badge')])"
    )
    assert badge == "Drill"


async def test_the_heading_is_the_event_in_the_readers_language(site: SiteFixture) -> None:
    a = with_translations("lvl4-1")
    await site.adapter().send(multilingual_delivery(a, EVAC_TEXTS))
    assert (
        page(site, "en/alerts/lvl4-1.html").xpath("string(//section[@class='message']/h2)")
        == "Evacuation Order"
    )
    assert (
        page(site, "vi/alerts/lvl4-1.html").xpath("string(//section[@class='message']/h2)") == "Lệnh sơ tán"
    )
    assert page(site, "alerts/lvl4-1.html").xpath("string(//section[@class='message']/h2)") == "避難指示"
    for rel in ("en/alerts/lvl4-1.html", "vi/alerts/lvl4-1.html", "alerts/lvl4-1.html"):
        heads = page(site, rel).xpath("//h2/text()")
        assert not {"Notice", "お知らせ", "Thông báo"} & set(heads), rel


def test_times_carry_their_zone_outside_japanese() -> None:
    assert jst_text(T0, "en") == "2025-07-10 02:40 JST"
    assert jst_text(T0, "ja") == "2025年7月10日 2時40分"


async def test_marks_the_renderer_writes_are_not_said_twice(site: SiteFixture) -> None:
    drill = alert("drill-1", status=Status.EXERCISE, event="大津波警報", kind="tsunami")
    texts = {
        "ja": ("【訓練】【穴水町】大津波警報", "【訓練】【穴水町】大津波警報"),
        "en": ("【訓練】[DRILL] [Anamizu Town] Major Tsunami Warning", "[DRILL] Major Tsunami Warning"),
        "vi": ("【訓練】[DIỄN TẬP] [Thị trấn Anamizu] Cảnh báo sóng thần lớn", "[DIỄN TẬP] Cảnh báo"),
    }
    await site.adapter().send(multilingual_delivery(drill, texts))
    for rel, badge, title in (
        ("en/index.html", "Drill", "[Anamizu Town] Major Tsunami Warning"),
        ("vi/index.html", "Diễn tập", "[Thị trấn Anamizu] Cảnh báo sóng thần lớn"),
        ("index.html", "訓練", "【穴水町】大津波警報"),
    ):
        card = page(site, rel).xpath("//ul[@class='cards']//h3")[0]
        assert " ".join(card.text_content().split()) == f"{badge} {title}", rel
    evac = alert("evac-1")
    await site.adapter().send(multilingual_delivery(evac, EVAC_TEXTS))
    cancel = follow_up(evac, "evac-1-c", MsgType.CANCEL)
    cancel_texts = {
        "ja": ("【穴水町】取消：避難指示", "先ほどの避難指示は取り消されました。"),
        "en": ("[Anamizu Town] Cancelled: Evacuation order", "The earlier message has been cancelled."),
    }
    await site.adapter().send(multilingual_delivery(cancel, cancel_texts))
    assert page(site, "en/alerts/evac-1-c.html").xpath("string(//h1)") == cancel_texts["en"][0]
    assert page(site, "alerts/evac-1-c.html").xpath("string(//h1)") == cancel_texts["ja"][0]


async def test_the_json_the_app_reads_links_each_languages_page(site: SiteFixture) -> None:
    await site.adapter().send(multilingual_delivery(alert("evac-1"), EVAC_TEXTS))
    item = site.json("api/alerts.json")["alerts"][0]
    assert item["url"] == f"{site.url}alerts/evac-1.html"
    assert item["pages"]["vi"] == f"{site.url}vi/alerts/evac-1.html"
    assert set(item["pages"]) == set(PAGE_LANGUAGES) - {"ja"}
    for url in item["pages"].values():
        assert (site.current / url.removeprefix(site.url)).is_file()


async def test_details_in_another_language_are_folded_not_shown_in_the_readers_page(
    site: SiteFixture,
) -> None:
    # An officer's alert: Japanese details only, an English text from the fixed phrases.
    await site.adapter().send(multilingual_delivery(alert("evac-1"), EVAC_TEXTS))
    en = page(site, "en/alerts/evac-1.html")
    shown = en.xpath("//main//section[contains(@class, 'info')][not(ancestor::details)]")
    assert shown == [], "no Japanese details block in the English page's flow"
    folded = en.xpath("//details[@class='other-details']")
    assert len(folded) == 1
    assert folded[0].xpath("string(summary)") == "Details: 日本語"
    assert folded[0].xpath(".//section[contains(@class, 'info')]/@lang") == ["ja-JP"]
    # The Japanese page shows its own details unfolded, as before.
    ja = page(site, "alerts/evac-1.html")
    assert ja.xpath("//main//section[contains(@class, 'info')][not(ancestor::details)]/@lang") == ["ja-JP"]
    # Where the town gave English details, the English page shows them.
    await site.adapter().send(multilingual_delivery(with_translations("evac-2"), EVAC_TEXTS))
    en2 = page(site, "en/alerts/evac-2.html")
    assert en2.xpath("//main//section[contains(@class, 'info')][not(ancestor::details)]/@lang") == ["en"]


def test_the_pipeline_hands_the_website_the_towns_english_names(tmp_path: Path) -> None:
    env = adapter_env(make_settings(tmp_path), "anamizu")
    assert env.tenant_name_en == "Anamizu"
    assert ("kawashima", "Kawashima") in env.districts_en
    site = WebsiteAdapter.from_settings("website", ChannelSettings(), env).site
    assert site.town("en") == "Anamizu" and site.town("ja") == "穴水町"
    assert site.district_names("vi")["kawashima"] == "Kawashima"
    assert site.district_names("ja-x-easy")["kawashima"] == "川島"
