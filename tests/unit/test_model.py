"""The model: JSON round trips, and the rules the model itself enforces."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from broadcaster.model import (
    JST,
    Alert,
    Dispatch,
    DispatchOrder,
    Explanation,
    Hops,
    Priority,
    RawEvent,
    Receipt,
    ReceiptStatus,
    cap_datetime,
    idempotency_key,
    now,
)
from tests.strategies import alerts

SLOW = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _alert(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "identifier": "a1",
        "sender": "anamizu@broadcaster",
        "sent": "2024-01-01T16:10:00+09:00",
        "status": "Actual",
        "msgType": "Alert",
        "eventKey": "e1",
        "origin": "manual",
        "info": [
            {
                "category": ["Geo"],
                "event": "地震",
                "urgency": "Immediate",
                "severity": "Severe",
                "certainty": "Observed",
            }
        ],
    }
    base.update(over)
    return base


@SLOW
@given(alerts())
def test_alert_json_round_trip(alert: Alert) -> None:
    assert Alert.model_validate_json(alert.model_dump_json(by_alias=True)) == alert
    assert Alert.model_validate_json(alert.model_dump_json()) == alert, "snake_case names load too"


@SLOW
@given(st.binary(max_size=2000), st.sampled_from([None, "anamizu"]))
def test_raw_event_carries_any_bytes(body: bytes, tenant: str | None) -> None:
    raw = RawEvent(source="jma", body=body, tenant=tenant, submitted_by="feed:jma")
    again = RawEvent.model_validate_json(raw.model_dump_json())
    assert again == raw
    assert again.body == body
    assert again.digest == raw.digest


def test_dispatch_order_and_receipt_round_trip() -> None:
    alert = Alert.model_validate(_alert())
    at = now()
    d = Dispatch(
        tenant="anamizu", alert_id="a1", event_key="e1", channel="line", audience="district:kawashima",
        batch=2, batch_count=3, recipients=("U1", "U2"), template="auto", languages=("vi", "ja"),
        priority=Priority.FLASH, explanation=Explanation(rule="r", source="rules/x.yaml:3", reasons=("kind",)),
        created=at, deadline=at + timedelta(minutes=1),
    )
    order = DispatchOrder(dispatch=d, alert=alert)
    assert DispatchOrder.model_validate_json(order.model_dump_json(by_alias=True)) == order
    r = Receipt(
        dispatch_key=d.key, tenant="anamizu", alert_id="a1", channel="line", audience=d.audience, batch=2,
        attempt=1, status=ReceiptStatus.ACCEPTED, mode="outbox", provider_ref="x",
        hops=Hops(received=at, sent=at + timedelta(milliseconds=35)),
    )
    assert Receipt.model_validate_json(r.model_dump_json()) == r
    assert r.latency_ms == pytest.approx(35.0)


def test_idempotency_key_is_stable_and_separates_fields() -> None:
    k = idempotency_key("anamizu", "a1", "line", "public", 0)
    assert k == idempotency_key("anamizu", "a1", "line", "public", 0)
    assert len(k) == 32
    variants = {
        idempotency_key("wajima", "a1", "line", "public", 0),
        idempotency_key("anamizu", "a2", "line", "public", 0),
        idempotency_key("anamizu", "a1", "email", "public", 0),
        idempotency_key("anamizu", "a1", "line", "district:x", 0),
        idempotency_key("anamizu", "a1", "line", "public", 1),
        idempotency_key("anamiz", "ua1", "line", "public", 0),
    }
    assert k not in variants
    assert len(variants) == 6


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"msgType": "Cancel"}, "must reference"),
        ({"msgType": "Update"}, "must reference"),
        ({"scope": "Restricted"}, "needs a restriction"),
        ({"scope": "Private"}, "needs addresses"),
        ({"status": "Real"}, "Input should be"),
        ({"sent": "2024-01-01T16:10:00"}, "timezone"),
        ({"identifier": "has space"}, "should match pattern"),
        ({"identifier": "a,b"}, "should match pattern"),
        ({"eventKey": ""}, "at least 1"),
        ({"unknown": 1}, "Extra inputs"),
    ],
)
def test_invalid_alerts_are_refused_with_a_reason(over: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Alert.model_validate(_alert(**over))


def test_one_info_block_per_language() -> None:
    info = _alert()["info"][0]  # type: ignore[index]
    with pytest.raises(ValidationError, match="one info block per language"):
        Alert.model_validate(_alert(info=[info, info]))


def test_times_hold_whole_seconds_as_cap_does() -> None:
    alert = Alert.model_validate(_alert(sent=datetime(2024, 1, 1, 16, 10, 0, 123456, tzinfo=JST)))
    assert alert.sent.microsecond == 0
    assert cap_datetime(alert.sent) == "2024-01-01T16:10:00+09:00"
    assert alert.reference_key == "anamizu@broadcaster,a1,2024-01-01T16:10:00+09:00"


def test_frozen() -> None:
    alert = Alert.model_validate(_alert())
    with pytest.raises(ValidationError):
        alert.identifier = "b"  # type: ignore[misc]
