"""System alerts all come from one builder: the same sender, origin, kind and event-key shape."""

from __future__ import annotations

from datetime import timedelta

from broadcaster.model import (
    KIND,
    Category,
    Dispatch,
    Explanation,
    Hops,
    Kind,
    MsgType,
    Priority,
    Receipt,
    ReceiptStatus,
    Severity,
    Status,
    now,
)
from broadcaster.model.system import SYSTEM_ORIGIN, system_alert
from broadcaster.pipeline.help import help_alert
from broadcaster.pipeline.rollup import failure_alert
from broadcaster.pipeline.two_person_notice import cancel_alone_notice
from tests.rules_helpers import manual


def _dispatch() -> Dispatch:
    return Dispatch(
        tenant="anamizu",
        alert_id="m-anamizu-1",
        event_key="ev",
        channel="voice",
        audience="district:kawashima",
        batch=0,
        batch_count=1,
        recipients=("+81768000001",),
        template="auto",
        priority=Priority.HIGH,
        explanation=Explanation(rule="r", source="s", reasons=()),
        created=now(),
        deadline=now() + timedelta(minutes=5),
    )


def test_every_system_alert_has_the_same_shape() -> None:
    receipt = Receipt(
        dispatch_key="k9",
        tenant="wajima",
        alert_id="m-wajima-2",
        channel="line",
        audience="public",
        batch=0,
        attempt=5,
        status=ReceiptStatus.DEAD,
        mode="live",
        hops=Hops(),
        error="500",
    )
    cancel = manual(msgType="Cancel", references=["m-anamizu-0"], headline="取消")
    d = _dispatch()
    built = {
        "delivery|line": failure_alert(receipt),
        f"help|{d.key}": help_alert(d, ["R1"], "避難指示"),
        f"cancel-alone|{cancel.identifier}": cancel_alone_notice(cancel),
    }
    for topic, alert in built.items():
        assert alert.status is Status.SYSTEM
        assert alert.origin == SYSTEM_ORIGIN
        assert alert.sender == f"{alert.tenant}@broadcaster"
        assert alert.event_key == f"system|{alert.tenant}|{topic}"
        assert alert.primary.event_codes(KIND) == (Kind.SYSTEM.value,)
        assert alert.received is not None and abs(alert.received - alert.sent) < timedelta(seconds=1)
        assert alert.sent.tzinfo is not None


def test_the_builder_keeps_what_it_is_given() -> None:
    at = (now() - timedelta(minutes=3)).replace(microsecond=0)
    alert = system_alert(
        tenant="anamizu",
        identifier="sys-x",
        topic="feed|jma",
        event="情報取得回復",
        headline="回復しました",
        category=Category.INFRA,
        severity=Severity.MINOR,
        parameters=(("source", "jma"),),
        msg_type=MsgType.CANCEL,
        references=("anamizu@broadcaster,sys-w,2026-01-01T00:00:00+09:00",),
        at=at,
    )
    assert (alert.sent, alert.msg_type, alert.references) == (
        at,
        MsgType.CANCEL,
        ("anamizu@broadcaster,sys-w,2026-01-01T00:00:00+09:00",),
    )
    assert [(p.value_name, p.value) for p in alert.primary.parameter] == [("source", "jma")]
