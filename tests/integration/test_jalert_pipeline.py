"""J-Alert end to end: receiver folder → bridge → signed hook → pipeline → the towns' channels.

The rules here ask for approval of everything, so that the test shows what matters: a J-Alert
message is never held (only officers' own alerts are), and a missile warning for 石川県 reaches
every town of the prefecture at once.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.ingest.jalert.bridge import Bridge, load_bridge_settings
from broadcaster.store import reports
from broadcaster.web.app import WebServer, build_app
from broadcaster.web.context import WebContext
from tests.canaries import canary
from tests.helpers import Running, eventually, make_settings, manual, running_pipeline
from tests.web_helpers import free_port

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "jalert"
SECRET = canary("jalert-hook-key")
TENANTS = {
    "anamizu": {"name": "穴水町", "areas": {"jma": ["1746100"]}, "districts": [{"id": "kawashima", "name": "川島"}]},
    "wajima": {"name": "輪島市", "areas": {"jma": ["1720400"]}},
    "sapporo": {"name": "札幌市", "areas": {"jma": ["0110000"]}},
}
RULES = """
rules:
  - name: everything-waits-for-an-approver
    match: {kind: [missile, notice, eew]}
    channels: [website, x]
    priority: flash
    require_approval: true
  - name: default
    default: true
    channels: [website]
"""
BROADCAST = ("website", "x")


@dataclass
class Stack:
    run: Running
    bridge: Bridge
    inbox: Path

    def drop(self, name: str, body: bytes) -> None:
        path = self.inbox / name
        path.write_bytes(body)
        at = time.time() - 1
        os.utime(path, (at, at))


@asynccontextmanager
async def stack(tmp: Path) -> AsyncIterator[Stack]:
    rules = tmp / "rules" / "_default"
    rules.mkdir(parents=True)
    (rules / "10.yaml").write_text(RULES, encoding="utf-8")
    port = free_port()
    settings = make_settings(
        tmp,
        tenants=TENANTS,
        rules_dir=tmp / "rules",
        web={"port": port, "public_url": f"http://127.0.0.1:{port}"},
        # A prefecture's shared receiver: its messages reach the towns their areas name.
        hooks={"jalert": {"keys": {"ishikawa-rx": {"secret": SECRET}}}},
    )
    inbox = tmp / "receiver-out"
    inbox.mkdir()
    async with running_pipeline(settings) as run:
        server = WebServer(build_app(WebContext.build(run.runtime)), "127.0.0.1", port)
        await server.start()
        bridge = Bridge(
            load_bridge_settings(
                None,
                endpoint=f"http://127.0.0.1:{port}/ingest/jalert",
                key_id="ishikawa-rx",
                secret=SECRET,
                spool_dir=tmp / "spool",
                watch_dir=inbox,
                settle_s=0.0,
                scan_interval_s=0.05,
                backoff_s=[0.1, 0.2],
            )
        )
        await bridge.start()
        try:
            yield Stack(run, bridge, inbox)
        finally:
            await bridge.stop()
            await server.stop()


def actual(name: str, new_id: str) -> bytes:
    text = (SAMPLES / name).read_text(encoding="utf-8").replace("status = 訓練", "status = 実運用")
    return text.replace("20250710-0700-missile-0", new_id).encode("utf-8")


async def _sent(run: Running, tenant: str, alert: str) -> list[dict[str, Any]]:
    found = [r for ch in BROADCAST for r in run.outbox(tenant, ch) if r["alert"] == alert]
    return found if len(found) == len(BROADCAST) else []


async def test_a_missile_launch_reaches_every_town_of_the_prefecture_without_approval(tmp_path: Path) -> None:
    async with stack(tmp_path) as s:
        s.drop("launch.txt", actual("01_missile_launch.txt", "live-"))
        for tenant in ("anamizu", "wajima"):
            records = await eventually(functools.partial(_sent, s.run, tenant, "jalert-live-1"))
            assert {r["status"] for r in records} == {"Actual"}
            assert {r["channel"] for r in records} == set(BROADCAST)
            text = records[0]["texts"][0]["body"]
            assert "ミサイル" in text, text[:80]
        alerts = {a["tenant"]: a for a in await reports.alerts(s.run.ledger)}
        assert set(alerts) == {"anamizu", "wajima"}, "Sapporo is not in 石川県"
        assert all(a["state"] != "held" for a in alerts.values())
        # The same rule does hold an officer's own Actual alert: the difference is the origin.
        await s.run.submit(manual(headline="確認用", status="Actual"))

        async def held() -> bool:
            return any(a["state"] == "held" for a in await reports.alerts(s.run.ledger, tenant="anamizu"))

        await eventually(held)
        assert s.bridge.spool.depth() == 0


async def test_later_stages_follow_the_launch_and_a_cancel_reaches_exactly_where_it_went(tmp_path: Path) -> None:
    async with stack(tmp_path) as s:
        s.drop("1.txt", actual("01_missile_launch.txt", "ev-"))
        await eventually(lambda: _sent(s.run, "anamizu", "jalert-ev-1"))
        s.drop("2.txt", actual("02_missile_take_cover.txt", "ev-"))
        await eventually(lambda: _sent(s.run, "anamizu", "jalert-ev-2"))
        s.drop("4.txt", actual("04_missile_cancel.txt", "ev-"))
        cancels = await eventually(lambda: _sent(s.run, "anamizu", "jalert-ev-4"))
        assert {r["msg_type"] for r in cancels} == {"Cancel"}
        assert {r["event_key"] for r in cancels} == {"jalert|ev-1"}
        slots = {(r["channel"], r["audience"], r["batch"]) for r in cancels}
        first = {(r["channel"], r["audience"], r["batch"]) for ch in BROADCAST for r in s.run.outbox("anamizu", ch) if r["alert"] == "jalert-ev-1"}
        assert slots == first


async def test_bad_input_from_the_receiver_is_quarantined_with_its_reason(tmp_path: Path) -> None:
    async with stack(tmp_path) as s:
        s.drop("bad.txt", (SAMPLES / "bad_no_status.txt").read_bytes())
        s.drop("noise.bin", b"\x00\x01 not a message")

        async def reasons() -> list[str] | None:
            rows = await reports.quarantine(s.run.ledger)
            return sorted(r["reason"] for r in rows) if len(rows) == 2 else None

        assert await eventually(reasons) == ["missing_status", "not_jalert"]
        assert s.bridge.spool.depth() == 0, "the endpoint took them: judging content is the pipeline's job"
