"""The shipped rule sets × the project's sample telegrams and officers' alerts, per town.

Each row says, for one alert as one town receives it, which channels and audiences the town's
rules choose. The matrix mirrors a municipality's 情報伝達 table: the graver the information *in
that town*, the more media and people.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from broadcaster.model import JST
from tests.rules_helpers import decide, manual, sample

EVERY = {"website", "app_push", "line", "x", "mastodon", "bluesky", "email", "webhook"}
NOTO_EVERY = {"website", "app_push", "line", "x", "email", "webhook"}


def _channels(evaluation: object) -> set[str]:
    return {d.channel for d in evaluation.decisions}  # type: ignore[attr-defined]


def _slots(evaluation: object) -> set[tuple[str, str]]:
    return {(d.channel, d.audience) for d in evaluation.decisions}  # type: ignore[attr-defined]


SAMPLES = [
    # file, tenant, channels, audiences beside public (None: only public)
    ("01_vxse51_shindo_sokuho.xml", "anamizu", EVERY | {"circular"}, {"leaders"}),
    ("01_vxse51_shindo_sokuho.xml", "wajima", EVERY | {"circular"}, {"leaders"}),
    ("01_vxse51_shindo_sokuho.xml", "noto", NOTO_EVERY | {"circular"}, {"leaders"}),
    ("02_vtse41_otsunami_keiho.xml", "anamizu", EVERY | {"circular"}, {"leaders"}),
    ("02_vtse41_otsunami_keiho.xml", "noto", NOTO_EVERY, None),
    ("03_vxse53_shingen_shindo.xml", "anamizu", EVERY | {"circular"}, {"leaders"}),
    ("04_vtse51_tsunami_joho.xml", "wajima", EVERY | {"circular"}, {"leaders"}),
    # 大雨: 穴水町 has レベル３大雨警報 → app, LINE, web; 輪島市 レベル４危険警報 → everything;
    # 能登町 only レベル２大雨注意報 → the website.
    ("07_vpww55_ooame_r06.xml", "anamizu", {"website", "app_push", "line"}, {"public/気象"}),
    ("07_vpww55_ooame_r06.xml", "wajima", EVERY, None),
    ("07_vpww55_ooame_r06.xml", "noto", {"website"}, None),
    ("08_vpww54_ooame_h27.xml", "anamizu", {"website", "app_push", "line"}, {"public/気象"}),
    ("08_vpww54_ooame_h27.xml", "noto", {"website"}, None),
    ("09_vpww54_all_lifted.xml", "anamizu", {"website", "app_push", "line"}, {"public/気象"}),
    ("11_vxww50_dosha.xml", "anamizu", EVERY, None),
    ("12_vxse43_eew_keiho.xml", "anamizu", EVERY, None),
    ("12_vxse43_eew_keiho.xml", "noto", NOTO_EVERY, None),
    # JMA's 訓練 telegrams test the systems: officers only, in every town.
    ("13_vtse41_kunren.xml", "anamizu", {"email"}, {"officers"}),
    ("13_vtse41_kunren.xml", "wajima", {"email"}, {"officers"}),
    # L-Alert: the town's own evacuation order and shelters, entered on its L-Alert terminal.
    ("anamizu_evacuation_order.xml", "anamizu", EVERY | {"circular"},
     {"district:kawashima", "district:omachi", "leaders:kawashima", "leaders:omachi", "deputies:kawashima", "deputies:omachi"}),
    ("anamizu_shelter_open.xml", "anamizu", EVERY | {"circular"}, {"public/避難", "leaders"}),
]


@pytest.mark.parametrize(("name", "tenant", "channels", "audiences"), SAMPLES)
def test_samples_per_town(name: str, tenant: str, channels: set[str], audiences: set[str] | None) -> None:
    evaluation = decide(sample(name, tenant))
    assert _channels(evaluation) == channels
    got = {d.audience for d in evaluation.decisions} - {"public"}
    assert got == (audiences or set()), got


def test_a_warning_counts_only_in_the_town_it_is_for() -> None:
    # The same telegram carries 輪島市's レベル４ and 穴水町's レベル３: each town sees its own.
    anamizu = decide(sample("07_vpww55_ooame_r06.xml", "anamizu"))
    wajima = decide(sample("07_vpww55_ooame_r06.xml", "wajima"))
    assert any("レベル３大雨警報 in force in 穴水町" in r for _, why in anamizu.matched for r in why)
    assert any("警戒レベル 4 in 輪島市" in r for _, why in wajima.matched for r in why)
    assert "x" not in _channels(anamizu)


def test_an_alert_from_lalert_never_goes_back_to_lalert() -> None:
    evaluation = decide(sample("anamizu_evacuation_order.xml", "anamizu"))
    assert "lalert_out" not in _channels(evaluation)
    own = decide(manual(kind="evacuation", event="避難指示", headline="避難指示", level=4, districts=["kawashima"]))
    assert "lalert_out" in _channels(own)


def test_leaders_get_the_circular_and_deputies_an_escalation() -> None:
    alert = manual(kind="evacuation", event="避難指示", headline="避難指示", level=4, districts=["kawashima"])
    evaluation = decide(alert)
    circular = [d for d in evaluation.decisions if d.channel == "circular"]
    assert [(d.audience, d.purpose) for d in circular] == [
        ("leaders:kawashima", "send"),
        ("deputies:kawashima", "escalation"),
    ]
    escalation = circular[1]
    assert escalation.not_before is not None and alert.received is not None
    assert (escalation.not_before - alert.received).total_seconds() == 15 * 60
    assert escalation.scope == "kawashima"
    assert "unless the leaders acknowledge within 15m" in " ".join(escalation.explanation.reasons)


AREA_MAIL = {"area_mail_docomo", "area_mail_kddi", "area_mail_softbank", "area_mail_rakuten"}


@pytest.mark.parametrize(
    ("fields", "channels"),
    [
        # 避難指示 (level 4): everyone in the district, no topic filter, and 緊急速報メール through
        # every carrier; 高齢者等避難 (3): topic 避難.
        ({"kind": "evacuation", "level": 4, "districts": ["omachi"]}, EVERY | {"circular", "lalert_out"} | AREA_MAIL),
        ({"kind": "evacuation", "level": 3, "districts": ["omachi"]}, EVERY | {"circular", "lalert_out"}),
        ({"kind": "shelter", "districts": ["omachi"]}, EVERY | {"circular", "lalert_out"}),
        ({"kind": "notice"}, {"website", "app_push", "line", "email"}),
        ({"kind": "notice", "parameters": {"回覧": "1"}}, {"circular", "website", "app_push", "line", "email"}),
        ({"kind": "lifeline", "districts": ["kawashima"]}, {"website", "app_push", "line", "email"}),
        ({"kind": "headquarters"}, {"website", "x", "mastodon", "bluesky", "email"}),
        ({"kind": "volcano"}, {"website"}),
        ({"kind": "system"}, {"email", "line"}),
        ({"kind": "tsunami", "status": "Test"}, {"email"}),
        ({"kind": "tsunami", "status": "Draft"}, {"email"}),
    ],
)
def test_officers_alerts_in_anamizu(fields: dict[str, object], channels: set[str]) -> None:
    evaluation = decide(manual(event="x", headline="x", **fields))
    assert _channels(evaluation) == channels


def test_topics_filter_routine_information_but_not_orders() -> None:
    order = decide(manual(kind="evacuation", event="避難指示", headline="避難指示", level=4, districts=["omachi"]))
    elderly = decide(manual(kind="evacuation", event="高齢者等避難", headline="高齢者等避難", level=3, districts=["omachi"]))
    notice = decide(manual(kind="notice", event="お知らせ", headline="ごみ収集日の変更"))
    assert ("line", "district:omachi") in _slots(order), "a 避難指示 reaches everyone in the district"
    assert ("line", "district:omachi/避難") in _slots(elderly)
    assert ("line", "public/お知らせ") in _slots(notice)


def test_drills_go_where_the_real_alert_would_and_are_never_held() -> None:
    drill = decide(manual(kind="evacuation", event="避難指示", headline="訓練", level=4, status="Exercise"))
    real = decide(manual(kind="evacuation", event="避難指示", headline="本番", level=4))
    assert _slots(drill) == _slots(real)


def test_test_and_system_status_reach_officers_only_in_every_town() -> None:
    for tenant in ("anamizu", "wajima", "noto"):
        evaluation = decide(manual(tenant=tenant, kind="tsunami", status="Test", event="x", headline="x"))
        assert {d.audience for d in evaluation.decisions} == {"officers"}, tenant


def test_wajima_holds_notice_pushes_overnight_but_never_urgent_ones() -> None:
    night = datetime(2025, 7, 1, 23, 30, tzinfo=JST)
    notice = decide(manual(tenant="wajima", kind="notice", event="お知らせ", headline="n", districts=["kawai"]), at=night)
    pushed = {d.channel: d.not_before for d in notice.decisions}
    assert pushed["website"] is None and pushed["email"] is None
    assert pushed["app_push"] == datetime(2025, 7, 2, 7, 0, tzinfo=JST)
    assert any("quiet hours 21:00-07:00 JST" in r for d in notice.decisions for r in d.explanation.reasons)
    day = decide(manual(tenant="wajima", kind="notice", event="お知らせ", headline="n"), at=datetime(2025, 7, 1, 12, 0, tzinfo=JST))
    assert all(d.not_before is None for d in day.decisions)
    urgent = decide(
        manual(tenant="wajima", kind="notice", event="断水", headline="n", urgency="Immediate"), at=night
    )
    assert all(d.not_before is None for d in urgent.decisions)
    assert any("not delayed: urgency Immediate" in r for d in urgent.decisions for r in d.explanation.reasons)


def test_noto_waits_ten_minutes_before_a_notice() -> None:
    at = datetime(2025, 7, 1, 10, 0, tzinfo=JST)
    evaluation = decide(manual(tenant="noto", kind="notice", event="お知らせ", headline="n", at=at))
    assert {d.not_before for d in evaluation.decisions} == {datetime(2025, 7, 1, 10, 10, tzinfo=JST)}


def test_every_decision_explains_itself() -> None:
    evaluation = decide(sample("03_vxse53_shingen_shindo.xml", "anamizu"))
    d = next(d for d in evaluation.decisions if d.channel == "line")
    assert d.explanation.rule == "震度5弱以上は全媒体・全住民と区長の回覧"
    assert d.explanation.source.endswith("rules/anamizu/20-life.yaml:52")
    reasons = d.explanation.reasons
    assert reasons[0] == "kind earthquake"
    assert reasons[1] == "震度 6+ in 穴水町 >= 5-", "the town's own intensity, not the maximum (7)"
    assert "audience public: everyone" in reasons
    assert reasons[-1].startswith("rule set ")


def test_the_default_applies_when_nothing_else_does() -> None:
    evaluation = decide(manual(kind="typhoon", event="台風情報", headline="台風"))
    assert evaluation.stopped_by is None
    assert [r.name for r, _ in evaluation.matched] == ["既定はホームページ"]
    assert _channels(evaluation) == {"website"}
