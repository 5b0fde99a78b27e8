"""J-Alert receiver health on the broadcaster's side: the signed report, what is stored, when a
receiver or its bridge counts as silent, and the metrics an operator alerts on."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from broadcaster.metrics import GaugeRefresher, Metrics, receiver_health
from broadcaster.model import now
from broadcaster.signing import sign
from broadcaster.status import collect_status, render_status
from broadcaster.store import tables as t
from broadcaster.store.receivers import receivers
from tests.canaries import canary
from tests.web_helpers import WebEnv, client, web_env

SECRET = canary("jalert-health-key")
HOOKS = {"jalert": {"keys": {"anamizu-rx": {"secret": SECRET, "tenant": "anamizu"}}, "bridge_silent_after_s": 120}}
PATH = "/ingest/jalert/health"


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[WebEnv]:
    async with web_env(tmp_path, hooks=HOOKS) as e:
        yield e


def report(**receiver: Any) -> bytes:
    rx = {"name": "rx1", "last_heard": None, "last_via": None, "last_test": None, "heard": 0, "quarantined": 0,
          "refused": 0, "expect_within_h": 2400.0, **receiver}  # fmt: skip
    return json.dumps(
        {"format": "jalert-health/1", "at": now().isoformat(), "started": now().isoformat(), "receivers": [rx],
         "mail_refused": 2, "spool": {"queue": 1, "oldest_waiting": None}}
    ).encode()


async def post(env: WebEnv, body: bytes, *, signed: bool = True) -> int:
    headers = sign(SECRET.encode(), "anamizu-rx", "POST", PATH, body, timestamp=int(time.time())) if signed else {}
    async with client() as s, s.post(f"{env.base}{PATH}", data=body, headers={**headers, "Content-Type": "application/json"}) as r:
        return r.status


async def test_a_signed_report_is_stored_and_a_silent_receiver_is_called_so(env: WebEnv) -> None:
    heard = now() - timedelta(days=30)
    assert await post(env, report(last_heard=heard.isoformat(), last_via="mail", heard=7, quarantined=1)) == 204
    [rx] = await receivers(env.ledger.db, tenant="anamizu", bridge_silent_after_s=120)
    assert (rx.name, rx.tenant, rx.heard, rx.quarantined, rx.last_via) == ("rx1", "anamizu", 7, 1, "mail")
    assert not rx.silent and not rx.bridge_silent
    # 150 days: longer than the national tests' interval (expect_within_h 2400 h = 100 days).
    assert await post(env, report(last_heard=(now() - timedelta(days=150)).isoformat())) == 204
    [rx] = await receivers(env.ledger.db, tenant="anamizu")
    assert rx.silent
    assert await post(env, report()) == 204
    [rx] = await receivers(env.ledger.db, tenant="anamizu")
    assert rx.silent and rx.last_heard is None, "never heard is silent"
    text = render_status(await collect_status(env.settings, env.bus, env.ledger))
    assert re.search(r"anamizu-rx/rx1 +SILENT +last heard never", text), text


async def test_a_bridge_that_stops_reporting_is_silent_itself(env: WebEnv) -> None:
    assert await post(env, report(last_heard=now().isoformat())) == 204

    def age(c: sa.Connection) -> None:
        c.execute(t.jalert_bridges.update().values(reported_at=now() - timedelta(minutes=5)))

    await env.ledger.db.write(age)
    [rx] = await receivers(env.ledger.db, bridge_silent_after_s=120)
    assert rx.bridge_silent and not rx.silent
    metrics = Metrics()

    class NoLag:
        async def lag(self, group: str, topics: list[str]) -> dict[str, int]:
            return {}

    refresher = GaugeRefresher(
        metrics, ledger=env.ledger, bus=NoLag(), groups=[], receivers=receiver_health(env.settings, env.ledger.db)
    )
    await refresher.refresh()
    exposed = metrics.exposition().decode()
    assert 'broadcaster_jalert_receiver_silent{bridge="anamizu-rx",receiver="rx1"} 1.0' in exposed
    assert re.search(r'broadcaster_jalert_receiver_seconds_since_heard\{bridge="anamizu-rx",receiver="rx1"\} \d', exposed)
    assert "broadcaster_handoffs_waiting 0.0" in exposed


@pytest.mark.parametrize(
    ("body", "signed", "status"),
    [
        (b"{}", False, 401),
        (b"not json", True, 400),
        (json.dumps({"format": "something-else"}).encode(), True, 400),
    ],
)
async def test_unsigned_or_malformed_reports_are_refused_and_nothing_is_stored(
    env: WebEnv, body: bytes, signed: bool, status: int
) -> None:
    assert await post(env, body, signed=signed) == status
    assert await receivers(env.ledger.db) == []
