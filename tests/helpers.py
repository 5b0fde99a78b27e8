"""Building blocks for tests that run the pipeline: settings, a running pipeline, waiting."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from broadcaster.app import open_runtime, serving
from broadcaster.bus import Bus, open_bus
from broadcaster.model import RawEvent
from broadcaster.pipeline.adapters import AdapterPool
from broadcaster.pipeline.ingest import submit
from broadcaster.pipeline.runner import Pipeline
from broadcaster.pipeline.runtime import Runtime, load_parsers, stage_names
from broadcaster.settings import Settings, load_settings
from broadcaster.store import migrate
from broadcaster.store.ledger import Ledger
from broadcaster.store.sealed import attach

ROOT = Path(__file__).resolve().parents[1]

TENANTS: dict[str, Any] = {
    "anamizu": {
        "name": "穴水町",
        "name_en": "Anamizu",
        "geocodes": [
            {"value_name": "test/city", "value": "1746100"},
            {"value_name": "test/region", "value": "170020"},
        ],
        "districts": [
            {"id": "kawashima", "name": "川島", "name_en": "Kawashima", "households": 420},
            {"id": "omachi", "name": "大町", "name_en": "Omachi", "households": 310},
        ],
    },
    "wajima": {
        "name": "輪島市",
        "name_en": "Wajima",
        "geocodes": [
            {"value_name": "test/city", "value": "1720400"},
            {"value_name": "test/region", "value": "170020"},
        ],
        "districts": [{"id": "kawai", "name": "河井"}],
    },
}


def bus_settings(tmp: Path, kafka: str | None = None) -> dict[str, Any]:
    """Embedded in tmp, or Kafka at `kafka` with a prefix of its own (tests share one broker)."""
    if kafka is None:
        return {"url": f"embedded:{tmp / 'bus.sqlite3'}", "partitions": 4, "poll_interval_s": 0.05}
    return {
        "url": f"kafka://{kafka}",
        "partitions": 4,
        "prefix": f"t{uuid.uuid4().hex[:8]}.",
        "kafka_session_timeout_ms": 6000,
    }


def make_settings(tmp: Path, *, kafka: str | None = None, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "var_dir": tmp,
        "db_url": f"sqlite+aiosqlite:///{tmp / 'ledger.sqlite3'}",
        "outbox_dir": tmp / "outbox",
        "bus": bus_settings(tmp, kafka),
        "pipeline": {"retry_tiers_s": [0.2, 0.5, 1.0], "redrive_after_s": 600, "redrive_interval_s": 600},
        "tenants": TENANTS,
    }
    base.update(overrides)
    return load_settings(None, **base)


def manual(tenant: str = "anamizu", **fields: Any) -> RawEvent:
    doc = {
        "status": "Actual",
        "kind": "notice",
        "event": "お知らせ",
        "headline": "防災訓練のお知らせ",
        "description": "11月30日に町内全域で防災訓練を行います。",
    }
    doc.update(fields)
    return RawEvent(
        source="manual",
        content_type="application/vnd.broadcaster.manual+json",
        body=json.dumps(doc, ensure_ascii=False).encode(),
        tenant=tenant,
        submitted_by=f"officer:{tenant}/tanaka",
    )


@dataclass
class Running:
    settings: Settings
    bus: Bus
    ledger: Ledger
    runtime: Runtime
    pipeline: Pipeline

    async def submit(self, raw: RawEvent) -> None:
        await submit(self.bus, raw, self.ledger)

    def outbox(self, tenant: str, channel: str) -> list[dict[str, Any]]:
        from adapters.outbound.outbox import read_outbox

        return read_outbox(self.settings.outbox_dir / tenant / f"{channel}.jsonl")  # type: ignore[return-value]


@asynccontextmanager
async def running_pipeline(
    settings: Settings,
    *,
    adapters: dict[str, Any] | None = None,
    parsers: list[Any] | None = None,
    bus: Bus | None = None,
) -> AsyncIterator[Running]:
    own_bus = bus is None
    if bus is None:
        bus = open_bus(settings.bus)
        await bus.start()
    ledger = Ledger.connect(settings.db_url)
    attach(ledger.db, settings.privacy.cipher())  # personal data sealed, as `broadcaster run` does
    await migrate.upgrade(ledger.db)
    try:
        # Through the composition root, as every process starts (broadcaster/app.py).
        async with (
            open_runtime(
                settings,
                bus,
                ledger,
                adapters=AdapterPool(settings, adapters),
                parsers=[*(parsers or []), *load_parsers()],
            ) as runtime,
            serving(runtime, stage_names(settings)) as process,
        ):
            await process.pipeline.ready()
            yield Running(settings, bus, ledger, runtime, process.pipeline)
    finally:
        await ledger.close()
        if own_bus:
            await bus.close()


async def eventually(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05) -> Any:
    """Poll an (async) check until it returns something truthy; fail with its last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"not reached in {timeout}s; last: {last!r}")


async def add_officer(ledger: Ledger, name: str, tenant: str = "anamizu", role: str = "approver") -> str:
    """An officer account with a second factor (approval needs one); returns its TOTP secret."""
    import pyotp

    from broadcaster.store.users import Role, Users

    secret = pyotp.random_base32()
    await Users(ledger.db).add(
        name,
        display_name=name,
        home_tenant=tenant,
        password_hash="-",
        totp_secret=secret,
        roles={tenant: Role.parse(role)},
    )
    return secret


async def submit_approved(run: Running, raw: RawEvent, approver: str = "sato") -> str:
    """Submit an officer's Actual alert that the two-person rule holds, and approve it as a
    second officer (an account with a second factor, docs/approval.md); returns its identifier."""
    from broadcaster.pipeline.approval import approve
    from broadcaster.store.users import Users

    assert raw.tenant is not None
    await run.submit(raw)
    alert_id = f"m-{raw.tenant}-{raw.id[:24]}"
    await eventually(lambda: run.ledger.alert_state(raw.tenant or "", alert_id), timeout=30)
    await eventually(lambda: _is_held(run, raw.tenant or "", alert_id), timeout=30)
    if await Users(run.ledger.db).by_username(approver) is None:
        await add_officer(run.ledger, approver, raw.tenant)
    await approve(run.bus, run.ledger, raw.tenant, alert_id, f"officer:{raw.tenant}/{approver}")
    return alert_id


async def _is_held(run: Running, tenant: str, alert_id: str) -> bool:
    return await run.ledger.alert_state(tenant, alert_id) == "held"
