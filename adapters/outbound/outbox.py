"""The outbox: an append-only file per tenant and channel, one JSON line per attempt.

Every channel without credentials runs here, and so does the demo. Nothing is ever overwritten:
a second attempt of the same dispatch is a second line with the same idempotency key, so a
duplicate is visible (docs/decisions.md, decision 6). Recipients are written as keyed hashes and a count,
never as addresses. Each record is written whole or not at all (`broadcaster.appendfile`): a full
disk is a transient error with the file as it was, never an "accepted" over a torn line, and a tail
torn by a crash is cut back to the last whole record when the adapter starts.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import ClassVar, Self

from broadcaster import appendfile
from broadcaster.channels import AdapterEnv, Addressing, Delivery, SendResult
from broadcaster.errors import TransientError
from broadcaster.logging import hash_id
from broadcaster.model import now
from broadcaster.settings import ChannelSettings


class OutboxAdapter:
    name: ClassVar[str] = "outbox"
    addressing: ClassVar[Addressing] = "both"
    max_text_length: ClassVar[int | None] = None
    max_recipients_per_request: ClassVar[int | None] = None
    required_credentials: ClassVar[tuple[str, ...]] = ()

    def __init__(self, channel: str, path: Path) -> None:
        self.channel = channel
        self.path = path
        self._lock = asyncio.Lock()
        appendfile.recover(path)

    @classmethod
    def from_settings(cls, channel: str, settings: ChannelSettings, env: AdapterEnv) -> Self:
        return cls(channel, env.outbox_dir / env.tenant / f"{channel}.jsonl")

    async def send(self, delivery: Delivery) -> SendResult:
        d = delivery.dispatch
        record = {
            "at": now().isoformat(),
            "channel": self.channel,
            "tenant": d.tenant,
            "idempotency_key": delivery.idempotency_key,
            "attempt": delivery.attempt,
            "alert": d.alert_id,
            "event_key": d.event_key,
            "status": delivery.alert.status.value,
            "msg_type": delivery.alert.msg_type.value,
            "audience": d.audience,
            "batch": d.batch,
            "batch_count": d.batch_count,
            "recipients": len(d.recipients),
            "recipient_ids": [hash_id(r) for r in d.recipients[:20]],
            "texts": [t.model_dump(mode="json", exclude_defaults=True) for t in delivery.texts],
        }
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        async with self._lock:
            try:
                offset = await asyncio.to_thread(appendfile.append, self.path, line)
            except OSError as e:
                raise TransientError(f"outbox {self.path}: {e}") from e
        return SendResult(
            provider_ref=f"{self.path.name}@{offset}",
            mode="outbox",
            accepted=max(1, len(d.recipients)),
        )

    async def close(self) -> None:
        return None


def read_outbox(path: Path) -> list[dict[str, object]]:
    """Every record of an outbox file, in the order written (tests, the demo's summary)."""
    if not path.exists():
        return []
    out = []
    for raw in path.read_bytes().splitlines():
        if raw.strip():
            out.append(json.loads(raw))
    return out
