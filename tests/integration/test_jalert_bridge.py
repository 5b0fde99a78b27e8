"""The J-Alert bridge against a fake of the broadcaster's hook: order, outages, restarts, refusals."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.ingest.jalert.bridge import Bridge, load_bridge_settings
from tests.canaries import canary
from tests.fakes.ingest_endpoint import FakeIngestEndpoint
from tests.helpers import eventually
from tests.web_helpers import free_port

SECRET = canary("jalert-bridge-key")
SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "jalert"


def settings(tmp: Path, endpoint: FakeIngestEndpoint, **over: Any) -> Any:
    base: dict[str, Any] = {
        "endpoint": endpoint.url,
        "key_id": "anamizu-rx",
        "secret": SECRET,
        "spool_dir": tmp / "spool",
        "watch_dir": tmp / "out",
        "settle_s": 0.0,
        "scan_interval_s": 0.05,
        "backoff_s": [0.05, 0.1, 0.2],
        "timeout_s": 2.0,
    }
    base.update(over)
    (tmp / "out").mkdir(exist_ok=True)
    return load_bridge_settings(None, **base)


@pytest.fixture
async def endpoint() -> AsyncIterator[FakeIngestEndpoint]:
    fake = FakeIngestEndpoint({"anamizu-rx": SECRET.encode()}, free_port())
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


async def running(bridge: Bridge) -> Bridge:
    await bridge.start()
    return bridge


def drop(folder: Path, name: str, body: bytes, age_s: float) -> Path:
    """A finished file of the receiver, written `age_s` ago (the order of the folder)."""
    path = folder / name
    path.write_bytes(body)
    at = time.time() - age_s
    os.utime(path, (at, at))
    return path


async def test_watched_files_go_out_signed_oldest_first_and_half_written_ones_wait(
    tmp_path: Path, endpoint: FakeIngestEndpoint
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    drop(out, "b.txt", (SAMPLES / "02_missile_take_cover.txt").read_bytes(), 5)
    drop(out, "a.txt", (SAMPLES / "01_missile_launch.txt").read_bytes(), 10)
    drop(out, "c.json", (SAMPLES / "05_missile_fell_at_sea.json").read_bytes(), 1)
    drop(out, "d.txt.tmp", b"still being written", 60)
    bridge = await running(Bridge(settings(tmp_path, endpoint)))
    try:
        await eventually(lambda: len(endpoint.accepted) == 3)
    finally:
        await bridge.stop()
    got = endpoint.accepted
    assert [r.body for r in got] == [(SAMPLES / n).read_bytes() for n in ("01_missile_launch.txt", "02_missile_take_cover.txt", "05_missile_fell_at_sea.json")]
    assert [r.content_type for r in got] == ["text/plain", "text/plain", "application/json"]
    assert {r.key_id for r in got} == {"anamizu-rx"}
    assert len({r.nonce for r in got}) == 3
    assert sorted(p.name for p in out.iterdir()) == ["d.txt.tmp"], "forwarded files are gone, the unfinished one stays"
    assert bridge.spool.depth() == 0


async def test_an_endpoint_outage_is_waited_out_in_order(tmp_path: Path) -> None:
    endpoint = FakeIngestEndpoint({"anamizu-rx": SECRET.encode()}, free_port())  # not started: down
    port = free_port()
    bridge = await running(Bridge(settings(tmp_path, endpoint, listen=f"127.0.0.1:{port}", watch_dir=None)))
    try:
        async with aiohttp.ClientSession() as s:
            for n in range(5):
                async with s.post(f"http://127.0.0.1:{port}/message", data=f"message {n}".encode()) as r:
                    assert r.status == 202, "spooled: the receiver may forget it"
        await eventually(lambda: bridge.forwarder.status.failures >= 3)
        assert bridge.spool.depth() == 5
        await endpoint.start()
        await eventually(lambda: len(endpoint.accepted) == 5, timeout=15)
    finally:
        await bridge.stop()
        await endpoint.stop()
    assert [r.body for r in endpoint.accepted] == [f"message {n}".encode() for n in range(5)]
    assert bridge.spool.depth() == 0


async def test_the_spool_survives_a_bridge_restart(tmp_path: Path) -> None:
    endpoint = FakeIngestEndpoint({"anamizu-rx": SECRET.encode()}, free_port())
    out = tmp_path / "out"
    out.mkdir()
    first = await running(Bridge(settings(tmp_path, endpoint)))
    try:
        drop(out, "1.txt", b"first", 3)
        drop(out, "2.txt", b"second", 2)
        await eventually(lambda: first.spool.depth() == 2 and not list(out.iterdir()))
    finally:
        await first.stop()  # the receiver's PC restarts with the broadcaster still unreachable
    await endpoint.start()
    second = await running(Bridge(settings(tmp_path, endpoint)))
    try:
        drop(out, "3.txt", b"third", 0)
        await eventually(lambda: len(endpoint.accepted) == 3)
    finally:
        await second.stop()
        await endpoint.stop()
    assert [r.body for r in endpoint.accepted] == [b"first", b"second", b"third"]


async def test_failures_are_retried_and_a_refused_message_is_set_aside(tmp_path: Path, endpoint: FakeIngestEndpoint) -> None:
    endpoint.fail_next(503, 401, 400)
    out = tmp_path / "out"
    out.mkdir()
    drop(out, "1.txt", b"refused for its content", 3)
    drop(out, "2.txt", b"goes through", 2)
    bridge = await running(Bridge(settings(tmp_path, endpoint)))
    try:
        await eventually(lambda: len(endpoint.accepted) == 1)
    finally:
        await bridge.stop()
    assert endpoint.answers == [503, 401, 400, 202], "503 and 401 retried the same message; 400 set it aside"
    assert [r.body for r in endpoint.accepted] == [b"goes through"]
    rejected = sorted((tmp_path / "spool" / "rejected").iterdir())
    assert [p.suffix for p in rejected] == [".msg", ".reason"]
    assert rejected[1].read_text() == "HTTP 400\n"
    assert bridge.forwarder.status.rejected == 1


async def test_a_wrong_secret_never_loses_a_message(tmp_path: Path, endpoint: FakeIngestEndpoint) -> None:
    bridge = await running(Bridge(settings(tmp_path, endpoint, secret="w" * 40)))
    try:
        drop(tmp_path / "out", "1.txt", b"waits", 1)
        await eventually(lambda: endpoint.answers[:3] == [401, 401, 401])
        assert bridge.spool.depth() == 1
    finally:
        await bridge.stop()


async def test_moved_files_and_the_local_hook(tmp_path: Path, endpoint: FakeIngestEndpoint) -> None:
    port = free_port()
    contact = (SAMPLES / "01_missile_launch.txt").read_text(encoding="utf-8")
    bridge = await running(
        Bridge(
            settings(
                tmp_path, endpoint, after_spool="move", listen=f"127.0.0.1:{port}",
                listen_token="local-secret", contacts={"missile": contact},
            )
        )
    )  # fmt: skip
    auth = {"Authorization": "Bearer local-secret"}
    try:
        drop(tmp_path / "out", "1.txt", b"from the folder", 1)
        await eventually(lambda: len(endpoint.accepted) == 1)
        async with aiohttp.ClientSession() as s:
            async with s.post(f"http://127.0.0.1:{port}/contact/missile") as r:
                assert r.status == 401, "the token is required once set"
            async with s.post(f"http://127.0.0.1:{port}/contact/missile", headers=auth) as r:
                assert r.status == 202
            async with s.post(f"http://127.0.0.1:{port}/contact/nothing", headers=auth) as r:
                assert r.status == 404
            async with s.post(f"http://127.0.0.1:{port}/message", data=b"  ", headers=auth) as r:
                assert r.status == 400
            await eventually(lambda: bridge.forwarder.status.sent == 2)
            async with s.get(f"http://127.0.0.1:{port}/status", headers=auth) as r:
                status = await r.json()
    finally:
        await bridge.stop()
    assert endpoint.accepted[1].body == contact.encode("utf-8")
    assert (tmp_path / "out" / ".forwarded" / "1.txt").read_bytes() == b"from the folder"
    assert status["queue"] == 0 and status["sent"] == 2 and status["last_sent"]
