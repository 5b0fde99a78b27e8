"""The guard's judgement, pure: which facts count, when older is stale, what lists must show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from broadcaster.channels import Carried
from broadcaster.consistency.facts import differences, facts_of, in_force
from broadcaster.consistency.judge import due_since, expected_on, judge
from broadcaster.model import Alert
from broadcaster.store.consistency import Sent

T0 = datetime(2026, 8, 1, 3, 0, tzinfo=UTC)


def alert(
    identifier: str, msg_type: str = "Alert", *, status: str = "Actual", level: str = "4", **info: object
) -> Alert:
    refs = ("town,a1,2026-08-01T12:00:00+09:00",) if msg_type != "Alert" else ()
    return Alert.model_validate(
        {
            "identifier": identifier,
            "sender": "town",
            "sent": T0,
            "status": status,
            "msgType": msg_type,
            "references": refs,
            "eventKey": "ev",
            "origin": "manual",
            "tenant": "anamizu",
            "info": [
                {
                    "category": ["Safety"],
                    "event": "避難指示",
                    "urgency": "Immediate",
                    "severity": "Severe",
                    "certainty": "Observed",
                    "eventCode": [{"valueName": "broadcaster:kind", "value": "evacuation"}],
                    "parameter": [{"valueName": "broadcaster:level", "value": level}],
                    "area": [{"areaDesc": "川島"}],
                    **info,
                }
            ],
        }
    )


def test_facts_name_what_must_agree_and_only_stated_facts_are_judged() -> None:
    f = facts_of(alert("a1"))
    assert (f["status"], f["msg_type"], f["kind"], f["level"], f["areas"]) == (
        "Actual",
        "Alert",
        "evacuation",
        "4",
        "川島",
    )
    assert differences(f, {"status": "Actual"}) == []
    (d,) = differences(f, {"status": "Actual", "level": "3"})
    assert (d.field, d.expected, d.carried) == ("level", "4", "3")


def test_lists_drop_cancels_lifts_and_expired_messages() -> None:
    assert in_force(alert("a1"), T0)
    assert not in_force(alert("a2", "Cancel"), T0)
    assert not in_force(alert("a2", "Update", responseType=["AllClear"]), T0)
    assert not in_force(alert("a1", expires=T0 - timedelta(minutes=1)), T0)


def test_an_older_state_is_waiting_until_lag_then_stale_and_a_difference_is_at_once() -> None:
    a1, a2 = alert("a1"), alert("a2", "Update")
    sent = [
        Sent("a1", "x", "accepted", T0, T0),
        Sent("a2", "line", "accepted", T0, T0 + timedelta(seconds=5)),
        Sent("a2", "x", "failed", T0, None),
    ]
    assert expected_on([a1, a2], sent, "x") == a2
    due = due_since(a2, sent)
    assert due == T0 + timedelta(seconds=5)
    older = [Carried(surface="x", alert_id="a1", facts=facts_of(a1))]
    (early,) = judge("x", "provider", a2, older, due, due + timedelta(seconds=59), 60)
    (late,) = judge("x", "provider", a2, older, due, due + timedelta(seconds=60), 60)
    assert (early.problem, late.problem) == ("waiting", "stale")
    wrong = [Carried(surface="website", alert_id="a2", facts={**facts_of(a2), "status": "Exercise"})]
    (differs,) = judge("website", "medium", a2, wrong, due, due, 60)
    assert differs.problem == "differs" and differs.facts["differences"] == ["status"]


def test_a_held_or_recorded_dispatch_is_not_expected_on_the_medium() -> None:
    a1, a2 = alert("a1"), alert("a2", "Update")
    sent = [Sent("a1", "x", "accepted", T0, T0), Sent("a2", "x", "held", T0, None)]
    assert expected_on([a1, a2], sent, "x") == a1
    sent = [Sent("a1", "x", "recorded", T0, None)]
    assert expected_on([a1], sent, "x") is None


def test_a_banner_must_list_the_message_in_force_and_nothing_after_a_cancel() -> None:
    a1, c = alert("a1"), alert("c1", "Cancel")
    listed = [Carried(surface="banner", alert_id="a1", listed=True, facts={"status": "Actual"})]
    empty = [Carried(surface="banner", listed=False)]
    assert judge("website", "medium", a1, listed, T0, T0, 60)[0].problem is None
    assert judge("website", "medium", a1, empty, T0, T0 + timedelta(seconds=61), 60)[0].problem == "stale"
    assert judge("website", "medium", c, empty, T0, T0, 60)[0].problem is None
    assert judge("website", "medium", c, listed, T0, T0 + timedelta(seconds=61), 60)[0].problem == "stale"
