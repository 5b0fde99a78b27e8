"""The officer's alert document and its identifier rule, owned by the core (docs/manual-alerts.md)."""

from __future__ import annotations

import json

import pytest

from adapters.ingest.manual import ManualAlertParser
from broadcaster.model import RawEvent
from broadcaster.model.manual import CONTENT_TYPE, ManualAlert, manual_alert_id, raw_part_of, to_alert


def _raw(doc: dict[str, object], tenant: str = "town") -> RawEvent:
    return RawEvent(
        source="manual",
        content_type=CONTENT_TYPE,
        body=json.dumps(doc).encode(),
        tenant=tenant,
        submitted_by="officer:sato",
    )


DOC = {"status": "Exercise", "kind": "evacuation", "event": "避難指示", "headline": "訓練"}


def test_the_parser_names_the_alert_by_the_cores_rule() -> None:
    raw = _raw(DOC)
    [alert] = ManualAlertParser().parse(raw)
    # The API, the console and the scheduler answer with this id before the parser has run.
    assert alert.identifier == manual_alert_id("town", raw.id)
    assert alert.identifier == f"m-town-{raw.id[:24]}"
    assert alert.event_key == f"manual|town|{alert.identifier}"


def test_a_cancel_follows_the_alert_it_names() -> None:
    first = _raw(DOC)
    cancel = _raw({**DOC, "msgType": "Cancel", "references": [manual_alert_id("town", first.id)]})
    alert = to_alert(ManualAlert.model_validate(json.loads(cancel.body)), cancel)
    assert alert.event_key == f"manual|town|{manual_alert_id('town', first.id)}"
    assert alert.references == (f"town@broadcaster,{manual_alert_id('town', first.id)},",)


def test_raw_part_of_reads_back_only_the_tenants_own_ids() -> None:
    raw = _raw(DOC)
    alert_id = manual_alert_id("town", raw.id)
    assert raw_part_of("town", alert_id) == raw.id[:24]
    assert raw.id.startswith(raw_part_of("town", alert_id) or "-")
    assert raw_part_of("other", alert_id) is None
    assert raw_part_of("town", "m-town-" + "g" * 24) is None  # not hex
    assert raw_part_of("town", alert_id + "0") is None  # too long
    assert raw_part_of("town", "urn:jma:1") is None  # not a manual alert


@pytest.mark.parametrize("extra", [{"colour": "red"}, {"status": None}])
def test_the_document_stays_strict(extra: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="validation error"):
        ManualAlert.model_validate({**DOC, **extra})
