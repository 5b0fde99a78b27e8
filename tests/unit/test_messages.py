"""Bus messages are built in one module: the keys that decide each topic's order."""

from __future__ import annotations

import ast
from pathlib import Path

from broadcaster.bus.topics import ALERTS, INGEST_RAW, RECEIPTS
from broadcaster.model import Hops, MsgType, Receipt, ReceiptStatus
from broadcaster.pipeline import messages
from broadcaster.pipeline.hops import H_RECEIVED, H_TENANT
from broadcaster.settings import PROJECT_ROOT
from tests.helpers import manual as raw_manual
from tests.rules_helpers import manual


def test_an_alert_its_update_and_its_cancel_share_a_key() -> None:
    first = manual(headline="断水のお知らせ")
    update = first.model_copy(update={"identifier": "u1", "msg_type": MsgType.UPDATE})
    cancel = first.model_copy(update={"identifier": "c1", "msg_type": MsgType.CANCEL})
    keys = {messages.alert_message(a).key for a in (first, update, cancel)}
    assert keys == {f"anamizu|{first.event_key}"}
    message = messages.alert_message(first)
    assert message.topic == ALERTS
    assert message.headers[H_TENANT] == "anamizu"
    assert message.headers[H_RECEIVED] == (first.received or first.sent).isoformat()


def test_raw_events_of_one_source_share_a_key() -> None:
    raw = raw_manual("wajima")
    message = messages.raw_message(raw, redrive=True)
    assert (message.topic, message.key) == (INGEST_RAW, "wajima|manual")
    assert message.headers["x-redrive"] == "raw"
    assert messages.raw_message(raw_manual("anamizu").model_copy(update={"tenant": None})).key == "-|manual"


def test_receipts_of_one_alert_share_a_key() -> None:
    receipt = Receipt(
        dispatch_key="k",
        tenant="anamizu",
        alert_id="m-anamizu-1",
        channel="line",
        audience="public",
        batch=3,
        attempt=1,
        status=ReceiptStatus.ACCEPTED,
        mode="outbox",
        hops=Hops(),
    )
    message = messages.receipt_message(receipt)
    assert (message.topic, message.key) == (RECEIPTS, "anamizu|m-anamizu-1")


def test_no_module_writes_a_message_to_the_alerts_topic_by_hand() -> None:
    """Only the messages module names the alerts topic in an outgoing message: the key formula
    lives there and nowhere else (the runner and the replay read the topic; they do not write)."""
    offenders = []
    for path in sorted((PROJECT_ROOT / "broadcaster").rglob("*.py")):
        if path.name in ("messages.py", "topics.py"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and any(
                isinstance(a, ast.Name) and a.id in ("ALERTS", "RECEIPTS", "INGEST_RAW") for a in node.args
            ):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in ("publish", "Outgoing"):
                    offenders.append(f"{Path(path).relative_to(PROJECT_ROOT)}:{node.lineno}")
    assert offenders == []
