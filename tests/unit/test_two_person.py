"""The two-person rule by what a message does (broadcaster/pipeline/two_person.py).

Every kind × msgType × status a person can send, and the words that make a notice a life-safety
message whatever kind its sender chose (docs/approval.md).
"""

from __future__ import annotations

from typing import Any

import pytest

from broadcaster.model import Alert, Kind
from broadcaster.pipeline import two_person
from broadcaster.pipeline.two_person import DEFAULT_CANCEL_TEXTS, cancel_texts_for, decide
from tests.rules_helpers import manual

RESIDENTS = ["public", "district:kawashima"]
MISTAKE = next(t for t in DEFAULT_CANCEL_TEXTS if t.sent_in_error)
RELAY = next(t for t in DEFAULT_CANCEL_TEXTS if t.relay)
LIFE_SAFETY = {Kind.MISSILE, Kind.EEW, Kind.TSUNAMI, Kind.SPECIAL_WARNING, Kind.EVACUATION}


def verdict(
    alert: Alert,
    *,
    earlier: list[Alert] | None = None,
    audiences: list[str] | None = None,
    rules_hold: bool = False,
    earlier_held: bool = False,
) -> two_person.Verdict:
    return decide(
        alert,
        earlier=earlier or [],
        earlier_held=earlier_held,
        audiences=RESIDENTS if audiences is None else audiences,
        rules_hold=rules_hold,
        cancel_texts=DEFAULT_CANCEL_TEXTS,
    )


def source_alert(alert: Alert, origin: str) -> Alert:
    return alert.model_copy(update={"origin": origin, "identifier": f"{origin}-1", "source": origin})


def error_cancel(original: Alert, text: two_person.CancelText = MISTAKE, **over: Any) -> Alert:
    texts = cancel_texts_for(original, text)
    fields: dict[str, Any] = {
        "msgType": "Cancel",
        "references": [original.identifier],
        "kind": "notice",
        "event": original.primary.event,
        "headline": texts["ja"][0],
        "description": texts["ja"][1],
        "translations": {"en": {"headline": texts["en"][0], "description": texts["en"][1]}},
    }
    fields.update(over)
    return manual(**fields)


@pytest.mark.parametrize("kind", list(Kind))
@pytest.mark.parametrize("severity", ["Minor", "Moderate", "Severe", "Extreme"])
def test_an_alert_is_held_by_its_kind_or_severity_never_by_its_name_alone(kind: Kind, severity: str) -> None:
    alert = manual(kind=kind.value, event="お知らせ", headline="町からのお知らせ", severity=severity)
    held = verdict(alert).second_officer
    assert held == (kind in LIFE_SAFETY or severity in ("Severe", "Extreme")), (kind, severity)


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("headline", "【警戒レベル５】緊急安全確保を発令しました"),
        ("headline", "【警戒レベル４】川島地区に避難指示"),
        ("headline", "警戒レベル３ 高齢者等避難"),
        ("event", "弾道ミサイル情報"),
        ("description", "北朝鮮からミサイルが発射されたものとみられます。"),
        ("description", "大津波警報が発表されました。"),
        ("instruction", "Evacuate to higher ground now: tsunami."),
        ("headline", "緊急地震速報（警報）"),
        ("headline", "EEW: strong shaking expected"),
        ("headline", "ＭＩＳＳＩＬＥ"),  # full-width letters fold to the word
    ],
)
def test_a_notice_that_names_a_life_safety_message_is_held(field: str, text: str) -> None:
    fields = {"kind": "notice", "event": "お知らせ", "headline": "お知らせ", field: text}
    v = verdict(manual(**fields))
    assert v.second_officer, text
    assert v.reasons


def test_an_everyday_notice_goes_on_one_officers_word() -> None:
    v = verdict(manual(kind="notice", headline="ごみ収集日の変更", description="年末は30日まで収集します。"))
    assert not v.second_officer and not v.cancel_alone


@pytest.mark.parametrize("level", [1, 2])
def test_evacuation_below_level_three_is_not_life_safety_by_its_kind(level: int) -> None:
    assert not verdict(
        manual(kind="evacuation", level=level, event="お知らせ", headline="避難所の場所")
    ).second_officer


@pytest.mark.parametrize("status", ["Exercise", "Test", "Draft"])
def test_drills_and_tests_are_not_held(status: str) -> None:
    assert not verdict(
        manual(kind="missile", severity="Extreme", headline="ミサイル", status=status)
    ).second_officer


def test_a_message_to_the_staff_only_is_not_held_unless_the_rules_say() -> None:
    missile = manual(kind="missile", severity="Extreme", headline="ミサイル")
    assert not verdict(missile, audiences=["officers", "officers:bousai"]).second_officer
    assert verdict(missile, audiences=["officers", "leaders"]).second_officer
    assert verdict(manual(), audiences=["officers"], rules_hold=True).second_officer


def test_sources_are_never_held() -> None:
    missile = source_alert(manual(kind="missile", severity="Extreme", headline="ミサイル"), "jalert")
    assert not verdict(missile).second_officer


def test_the_tenants_rules_add_holds_and_cannot_lift_one() -> None:
    assert verdict(manual(), rules_hold=True).second_officer
    assert verdict(manual(kind="missile"), rules_hold=False).second_officer


def test_an_update_of_a_held_or_grave_message_is_held_whatever_it_says() -> None:
    order = manual(kind="evacuation", level=4, event="避難指示", headline="避難指示", districts=["kawashima"])
    quiet = manual(kind="notice", msgType="Update", references=[order.identifier], headline="お知らせ")
    v = verdict(quiet, earlier=[order])
    assert v.second_officer and any(order.identifier in r for r in v.reasons)
    plain = manual(kind="notice", headline="お知らせ")
    assert not verdict(
        manual(kind="notice", msgType="Update", references=[plain.identifier]), earlier=[plain]
    ).second_officer
    assert verdict(
        manual(kind="notice", msgType="Update", references=[plain.identifier]),
        earlier=[plain],
        earlier_held=True,
    ).second_officer


@pytest.mark.parametrize("origin", ["jma", "jalert", "lalert"])
def test_an_update_or_cancel_of_a_relayed_source_alert_is_held(origin: str) -> None:
    jma = source_alert(manual(kind="tsunami", severity="Extreme", headline="大津波警報"), origin)
    for msg_type in ("Update", "Cancel"):
        follow = manual(kind="notice", msgType=msg_type, references=[jma.identifier], headline="お知らせ")
        assert verdict(follow, earlier=[jma]).second_officer, (origin, msg_type)
    # Even with the pre-approved "sent in error" text: the town cannot say a source was wrong alone.
    assert verdict(error_cancel(jma), earlier=[jma]).second_officer
    assert verdict(error_cancel(jma, RELAY), earlier=[jma]).second_officer


def test_the_relay_text_says_the_town_withdraws_its_relay_not_that_the_source_erred() -> None:
    jma = source_alert(manual(kind="tsunami", headline="大津波警報"), "jma")
    ja = cancel_texts_for(jma, RELAY)["ja"][1]
    assert "気象庁" in ja and "取りやめます" in ja and "誤り" not in ja


def test_one_officer_cancels_the_towns_own_message_with_the_sent_in_error_text() -> None:
    order = manual(kind="evacuation", level=4, event="避難指示", headline="避難指示")
    v = verdict(error_cancel(order), earlier=[order])
    assert not v.second_officer and v.cancel_alone


@pytest.mark.parametrize(
    "over",
    [
        {"description": "状況が変わったため取り消します。"},  # another text
        {"headline": "取消：ミサイルが発射されました"},  # the pre-approved words under another headline
        {"instruction": "直ちに避難してください。"},  # anything added
        {"translations": {"en": {"headline": "Cancelled", "description": "Missile inbound"}}},
    ],
)
def test_any_other_cancel_waits_for_a_second_officer(over: dict[str, Any]) -> None:
    order = manual(kind="notice", headline="お知らせ")
    v = verdict(error_cancel(order, **over), earlier=[order])
    assert v.second_officer and not v.cancel_alone


def test_a_cancel_that_reaches_nobody_is_not_held() -> None:
    order = manual(kind="missile", headline="ミサイル")
    assert not verdict(
        manual(msgType="Cancel", references=[order.identifier]), earlier=[order], audiences=[]
    ).second_officer


def test_the_preview_says_held_whatever_the_rules_say() -> None:
    """`broadcaster rules simulate` and the console's preview show the rule in code."""
    from pathlib import Path

    from broadcaster.channels import STANDARD_PROFILES
    from broadcaster.rules.engine import build_rule_set
    from broadcaster.rules.simulate import simulate
    from broadcaster.settings import DEFAULT_CHANNELS
    from tests.rules_helpers import directory

    body = b"rules:\n  - name: everything\n    default: true\n    channels: [website, line]\n"
    rules = build_rule_set("anamizu", [(Path("anamizu.yaml"), body)], DEFAULT_CHANNELS)
    level5 = manual(kind="notice", headline="【警戒レベル５】緊急安全確保")
    table = simulate(level5, rules, directory().context("anamizu", level5), STANDARD_PROFILES, None)
    assert table.rows and all(r.approval for r in table.rows)
    assert any("two-person rule" in n and "緊急安全確保" in n for n in table.notes)
    plain = manual(kind="notice", headline="ごみ収集日の変更")
    table = simulate(plain, rules, directory().context("anamizu", plain), STANDARD_PROFILES, None)
    assert table.rows and not any(r.approval for r in table.rows)
