"""The embedded bus's group lease: a consumer that stalls past it stops consuming.

Two processes share one bus file; the second takes the group over when the first's heartbeat is
older than the lease. The first must then stop, or both consume the group (duplicates, and an
alert's update overtaking the alert). The second consumer runs on its own event loop in a thread,
so that blocking the first one's loop stalls only the first, as a stalled process would.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from broadcaster.bus import Ack, Outcome, Record, TopicSpec, embedded
from broadcaster.bus.embedded import EmbeddedBus

TOPIC = "work"
GROUP = "route"


class Standby(threading.Thread):
    """A second consumer of the group on its own loop (the other `broadcaster run`)."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.seen: list[bytes] = []
        self.holding = threading.Event()
        self._stop_at: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_at = asyncio.Event()
        async with EmbeddedBus(self.path, partitions=1, poll_interval=0.02) as bus:
            consumer = bus.consumer(GROUP, [TOPIC], retry_tiers=[1.0])

            async def handler(record: Record) -> Outcome:
                self.seen.append(record.value)
                return Ack()

            task = asyncio.create_task(consumer.run(handler))
            ready = asyncio.create_task(consumer.ready())
            stop = asyncio.create_task(self._stop_at.wait())
            await asyncio.wait({ready, stop}, return_when=asyncio.FIRST_COMPLETED)
            if ready.done():
                self.holding.set()
            await stop
            ready.cancel()
            await consumer.stop()
            await asyncio.wait_for(task, timeout=30)

    def finish(self) -> None:
        assert self._loop is not None and self._stop_at is not None
        self._loop.call_soon_threadsafe(self._stop_at.set)
        self.join(timeout=30)


async def _until(predicate: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_a_consumer_that_stalls_past_its_lease_stops_consuming(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded, "LEASE_STALE_S", 0.5)
    monkeypatch.setattr(embedded, "HEARTBEAT_S", 0.05)
    path = tmp_path / "bus.sqlite3"
    seen: list[bytes] = []
    async with EmbeddedBus(path, partitions=1, poll_interval=0.02) as bus:
        await bus.ensure_topics([TopicSpec(TOPIC, 1)])
        consumer = bus.consumer(GROUP, [TOPIC], retry_tiers=[1.0])

        async def handler(record: Record) -> Outcome:
            seen.append(record.value)
            if record.value == b"stall":
                # A handler that blocks the loop (a long synchronous parse, a swapped-out
                # process): no heartbeat runs while it does.
                time.sleep(2.5)
            return Ack()

        task = asyncio.create_task(consumer.run(handler))
        await consumer.ready()
        standby = Standby(path)
        standby.start()
        await bus.publish(TOPIC, b"stall", key="k")
        await _until(lambda: b"stall" in seen)
        # The stall is over: the standby took the group meanwhile.
        assert standby.holding.wait(timeout=10), "the standby never took over the stalled group"
        for n in range(10):
            await bus.publish(TOPIC, f"m{n}".encode(), key="k")
        await _until(lambda: len([v for v in standby.seen if v.startswith(b"m")]) == 10)
        await asyncio.sleep(0.5)
        standby.finish()
        await consumer.stop()
        await asyncio.wait_for(task, timeout=30)

    assert [v for v in seen if v.startswith(b"m")] == [], "the stalled consumer kept consuming"
    # The new holder read from the committed offsets: the record in hand when the lease was lost
    # is redone there (at least once), and everything after it once, in order.
    assert standby.seen == [b"stall"] + [f"m{n}".encode() for n in range(10)]


async def test_a_commit_after_the_lease_moved_is_refused(tmp_path: Path) -> None:
    async with EmbeddedBus(tmp_path / "bus.sqlite3", partitions=1) as bus:
        await bus.ensure_topics([TopicSpec(TOPIC, 1)])
        await bus.publish(TOPIC, b"x", key="k")
        (record,) = await bus.fetch(TOPIC, 0, 0)
        assert await bus.acquire_group(GROUP, "old")
        await bus.release_group(GROUP, "old")
        assert await bus.acquire_group(GROUP, "new")
        with pytest.raises(embedded.LeaseLost):
            await bus.commit(GROUP, record, owner="old")
        assert await bus.committed(GROUP, TOPIC) == {}
        assert not await bus.renew_group(GROUP, "old")
        await bus.commit(GROUP, record, owner="new")
        assert await bus.committed(GROUP, TOPIC) == {0: record.offset}
