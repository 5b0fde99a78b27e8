"""Deliveries as the channel worker hands them to an adapter, for the outbound adapters' tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from broadcaster.channels import AdapterEnv, Delivery, RenderedText
from broadcaster.model import JST, Alert, Dispatch, Explanation, MsgType, Status
from tests.fakes.lalert import town_alert

CREATED = datetime(2025, 7, 10, 2, 41, tzinfo=JST)


def env_for(tmp: Any, tenant: str = "anamizu") -> AdapterEnv:
    return AdapterEnv(
        tenant=tenant,
        tenant_name="穴水町",
        outbox_dir=tmp / "outbox",
        var_dir=tmp,
        public_url="https://bousai.town.anamizu.example",
    )


def text(
    body: str,
    *,
    language: str = "ja",
    parts: Sequence[str] | None = None,
    title: str = "",
    kind: str = "evacuation",
    extra: Mapping[str, Any] | None = None,
) -> RenderedText:
    return RenderedText(
        language=language,
        kind=kind,
        title=title,
        body=body,
        parts=tuple(parts) if parts is not None else (body,),
        extra=dict(extra or {}),
    )


def cancel_of(original: Alert, *, identifier: str | None = None) -> Alert:
    return town_alert(
        identifier=identifier or f"{original.identifier}-cancel",
        msg_type=MsgType.CANCEL,
        references=(original.reference_key,),
        sent=original.sent + timedelta(hours=1),
        status=original.status,
    )


def delivery(
    channel: str,
    *texts: RenderedText,
    alert: Alert | None = None,
    recipients: Sequence[str] = (),
    audience: str = "public",
    batch: int = 0,
    attempt: int = 1,
    status: Status = Status.ACTUAL,
) -> Delivery:
    alert = alert or town_alert(status=status)
    dispatch = Dispatch(
        tenant=alert.tenant or "anamizu",
        alert_id=alert.identifier,
        event_key=alert.event_key,
        channel=channel,
        audience=audience,
        batch=batch,
        batch_count=batch + 1,
        recipients=tuple(recipients),
        template="auto",
        languages=tuple(t.language for t in texts) or ("ja",),
        explanation=Explanation(rule="test"),
        created=CREATED,
        deadline=CREATED + timedelta(minutes=5),
    )
    if not texts:
        texts = (text("【穴水町】川島地区、大町地区に避難指示（警戒レベル4）を発令しました。"),)
    return Delivery(dispatch=dispatch, alert=alert, texts=tuple(texts), attempt=attempt)


def user_ids(n: int, start: int = 0) -> list[str]:
    """n distinct LINE user ids."""
    return [f"U{i:032x}" for i in range(start, start + n)]
