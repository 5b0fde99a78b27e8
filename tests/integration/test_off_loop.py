"""Blocking work runs off the event loop (docs/architecture.md, *Off the event loop*): parsing in
normalize, rendering in the channel worker and the console, the rules' directory scan."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from adapters.ingest.manual import ManualAlertParser
from broadcaster.bus import Ack, Record
from broadcaster.bus.embedded import EmbeddedBus
from broadcaster.model import Alert, RawEvent
from broadcaster.pipeline.normalize import NormalizeStage
from broadcaster.pipeline.tenancy import TenantDirectory
from broadcaster.render.renderer import Renderer
from broadcaster.store import migrate, reports
from broadcaster.store.ledger import Ledger
from tests.helpers import eventually, make_settings, running_pipeline
from tests.helpers import manual as raw_manual


class WatchedParser:
    """The manual parser, noting the thread each parse ran on."""

    name: ClassVar[str] = "manual"

    def __init__(self) -> None:
        self.inner = ManualAlertParser()
        self.threads: list[threading.Thread] = []

    def accepts(self, raw: RawEvent) -> bool:
        return self.inner.accepts(raw)

    def parse(self, raw: RawEvent) -> Sequence[Alert]:
        self.threads.append(threading.current_thread())
        return self.inner.parse(raw)


async def test_normalize_parses_off_the_event_loop(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    ledger = Ledger.connect(settings.db_url)
    await migrate.upgrade(ledger.db)
    await ledger.ensure_tenants((t.id, t.name) for t in settings.tenants.values())
    parser = WatchedParser()
    async with EmbeddedBus(tmp_path / "bus.sqlite3", partitions=1) as bus:
        stage = NormalizeStage(bus, ledger, [parser], TenantDirectory.from_settings(settings))
        raw = raw_manual()
        await ledger.record_received(raw)
        record = Record("ingest.raw", 0, 1, "anamizu|manual", raw.model_dump_json().encode(), {}, 0.0)
        assert isinstance(await stage.handle(record), Ack)
    await ledger.close()
    assert parser.threads, "the parser was never asked"
    assert all(t is not threading.main_thread() for t in parser.threads)
    assert {t.name.split("_")[0] for t in parser.threads} == {"parse"}


async def test_the_channel_worker_renders_on_the_renderers_own_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[threading.Thread] = []
    render = Renderer.render

    def watched(self: Renderer, *args: Any, **kwargs: Any) -> Any:
        seen.append(threading.current_thread())
        return render(self, *args, **kwargs)

    monkeypatch.setattr(Renderer, "render", watched)
    async with running_pipeline(make_settings(tmp_path)) as run:
        await run.submit(raw_manual(headline="断水のお知らせ", status="Exercise"))

        async def done() -> bool:
            return any(a["state"] == "done" for a in await reports.alerts(run.ledger, tenant="anamizu"))

        await eventually(done, timeout=30)
    assert seen, "nothing was rendered"
    assert all(t is not threading.main_thread() for t in seen)
    assert len(set(seen)) == 1, "one thread: the renderer's caches are never shared between threads"
