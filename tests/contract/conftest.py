from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from broadcaster.bus import Bus
from broadcaster.bus.embedded import EmbeddedBus


@pytest.fixture(params=["embedded"])
async def any_bus(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Bus]:
    bus: Bus = EmbeddedBus(tmp_path / "bus.sqlite3", partitions=4, poll_interval=0.05)
    await bus.start()
    try:
        yield bus
    finally:
        await bus.close()
