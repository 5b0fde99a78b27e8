"""What towns receive of national and regional information (docs/jma.md, *National and regional
information*): 南海トラフ地震臨時情報, 後発地震注意情報, 熱中症警戒アラート, 気象情報."""

from __future__ import annotations

from pathlib import Path

import pytest

from broadcaster.render.languages import SUPPORTED
from tests.town_support import TOWNS, alerts_for, receive

SAMPLES = "jma/official_samples"
WARNING = "74_01_04_200512_VYSE50.xml"  # 南海トラフ地震臨時情報（巨大地震警戒）
ADVISORY = "74_01_05_200512_VYSE50.xml"  # （巨大地震注意）
ENDED = "74_01_07_200512_VYSE50.xml"  # （調査終了）
SUBSEQUENT = "80_01_01_240821_VYSE60.xml"  # 北海道・三陸沖後発地震注意情報
HEAT = "57_03_01_240401_VPFT50.xml"  # 埼玉県熱中症警戒アラート
ALL_MEDIA = {"website", "app_push", "line", "x", "mastodon", "bluesky", "email", "webhook"}


def read(corpus: Path, name: str) -> bytes:
    return (corpus / SAMPLES / name).read_bytes()


def test_the_nankai_warning_reaches_the_towns_of_the_designated_prefectures_only(corpus: Path) -> None:
    towns = {a.tenant for a in alerts_for(read(corpus, WARNING))}
    # The 推進地域's prefectures: 高知県, 静岡県, 東京都 (八丈町), 沖縄県 and 岐阜県 (白川村: the
    # prefecture is designated in part, and the scope is by prefecture); not 石川県 nor 北海道.
    assert towns == {"kochi", "fuji", "hachijo", "ishigaki", "shirakawa"}


def test_the_nankai_warning_goes_to_every_medium_and_the_leaders(corpus: Path) -> None:
    got = receive(read(corpus, WARNING), "kochi")
    assert got is not None
    channels = {d.channel for d in got.decision.decisions}
    assert channels >= ALL_MEDIA
    assert any(d.channel == "circular" and d.audience == "leaders" for d in got.decision.decisions)
    assert all(d.priority == "flash" for d in got.decision.decisions)


def test_the_nankai_advisory_goes_to_website_app_and_line(corpus: Path) -> None:
    got = receive(read(corpus, ADVISORY), "fuji")
    assert got is not None
    assert {d.channel for d in got.decision.decisions} == {"website", "app_push", "line"}


def test_the_end_of_the_investigation_goes_to_the_website(corpus: Path) -> None:
    got = receive(read(corpus, ENDED), "kochi")
    assert got is not None
    assert {d.channel for d in got.decision.decisions} == {"website"}


def test_the_subsequent_quake_advisory_reaches_the_trench_prefectures(corpus: Path) -> None:
    towns = {a.tenant for a in alerts_for(read(corpus, SUBSEQUENT))}
    assert towns == {"abashiri", "kanegasaki"}
    got = receive(read(corpus, SUBSEQUENT), "abashiri")
    assert got is not None
    assert {d.channel for d in got.decision.decisions} == {"website", "app_push", "line"}


def test_the_heat_alert_reaches_its_prefecture(corpus: Path) -> None:
    # 埼玉県: none of the test towns; the alert names 埼玉県 (110001) and reaches no one else.
    assert alerts_for(read(corpus, HEAT)) == []
    data = (
        read(corpus, HEAT).decode().replace("埼玉県熱中症警戒アラート", "静岡県熱中症警戒アラート").encode()
    )
    got = receive(data, "fuji")
    assert got is not None
    assert {d.channel for d in got.decision.decisions} == {"website", "app_push"}
    assert got.text("line").splitlines()[0] == "【富士市】静岡県熱中症警戒アラート"


def test_the_towns_text_is_jmas_name_and_its_call_never_a_list_of_prefectures(corpus: Path) -> None:
    got = receive(read(corpus, WARNING), "kochi")
    assert got is not None
    lines = got.text("line").splitlines()
    assert lines[0] == "【高知市】南海トラフ地震臨時情報（巨大地震警戒）"
    assert "政府や自治体などからの呼びかけ等に応じた防災対応をとってください。" in lines
    assert not any("茨城県" in line for line in lines[:3])


@pytest.mark.parametrize("lang", SUPPORTED)
def test_every_language_renders_the_nankai_warning(corpus: Path, lang: str) -> None:
    got = receive(read(corpus, WARNING), "kochi")
    assert got is not None
    text = got.text("line", lang)
    assert text.strip()
    assert TOWNS["kochi"][0] in text or lang != "ja"


@pytest.mark.parametrize("lang", ["ja", "en", "vi"])
def test_a_push_does_not_repeat_its_title_in_its_body(corpus: Path, lang: str) -> None:
    got = receive(read(corpus, WARNING), "kochi")
    assert got is not None
    body = got.text("app_push", lang)
    # The notification's title is 【高知市】南海トラフ地震臨時情報（巨大地震警戒）; its body says what to do.
    assert "南海トラフ地震臨時情報（巨大地震警戒）" not in body.splitlines()[0]
    assert body.strip()
