"""The channel workers warm their adapters at start: the pipeline's first LINE send opens no
connection, and a provider that takes a connection and never answers (TLS never starts) holds
neither the start nor the other channels."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from broadcaster.store import reports
from tests.canaries import canary
from tests.fakes.deliveries import user_ids
from tests.fakes.line import FakeLine
from tests.fakes.tcpcount import CountingRelay
from tests.helpers import TENANTS, eventually, make_settings, manual, running_pipeline

TOKEN = canary("line-token")
WARM_TIMEOUT_S = 60.0


@asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """Accepts connections and never says a word: a TLS handshake to it waits for ever."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for w in held:
            w.close()
        server.close()


async def _line_final(run: Any) -> list[reports.ChannelRow]:
    rows = [r for r in await reports.channel_table(run.ledger) if r.channel == "line"]
    return rows if rows and all(r.waiting == 0 and r.failed == 0 for r in rows) else []


async def test_first_send_after_start_uses_the_warmed_connection_and_a_dead_provider_holds_nothing(
    tmp_path: Path,
) -> None:
    async with FakeLine(token=TOKEN) as fake, CountingRelay(fake.url) as relay, silent_server() as dead:
        tenants = copy.deepcopy(TENANTS)
        tenants["anamizu"]["channels"] = {
            "line": {"credentials": {"token": TOKEN}, "options": {"base_url": relay.url}, "timeout_s": 5},
            # The webhook's subscriber takes the connection and never starts TLS.
            "webhook": {
                "mode": "live",
                "credentials": {"secret": "cms-secret-0123456789abcdef"},
                "options": {"subscribers": [{"name": "cms", "url": f"https://127.0.0.1:{dead}/hook"}]},
                "timeout_s": 2,
            },
        }
        settings = make_settings(
            tmp_path,
            tenants=tenants,
            pipeline={
                "retry_tiers_s": [0.2, 0.5, 1.0],
                "redrive_after_s": 600,
                "redrive_interval_s": 600,
                "warm_timeout_s": WARM_TIMEOUT_S,
            },
        )
        t0 = time.monotonic()
        async with running_pipeline(settings) as run:
            started_s = time.monotonic() - t0
            # Far below the warm-up's own limit: the dead subscriber's warm-up is still waiting.
            assert started_s < WARM_TIMEOUT_S / 2, started_s
            await eventually(lambda: relay.accepted >= 1, timeout=10.0)
            assert not fake.requests, "a warm-up sends nothing"
            await run.ledger.ensure_tenants([("anamizu", "穴水町")])
            for uid in user_ids(2):
                await run.runtime.audiences.add("anamizu", districts=["kawashima"], endpoints={"line": uid})
            await run.submit(manual(kind="shelter", event="避難所開設", districts=["kawashima"], status="Exercise"))
            (row,) = await eventually(lambda: _line_final(run), timeout=30.0)
            assert row.accepted >= 1 and row.mode == "live"
            assert relay.accepted == 1, "the first send used the connection opened at start"
