"""Prometheus metrics: counted where things happen, queried gauges refreshed, endpoint guarded."""

from __future__ import annotations

import re
from pathlib import Path

from broadcaster.metrics import METRICS, GaugeRefresher
from broadcaster.model import RawEvent
from broadcaster.pipeline.runtime import consumer_groups
from broadcaster.store import reports
from tests.helpers import eventually, make_settings, manual, running_pipeline
from tests.web_helpers import client, web_env


def _value(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_attempts_latency_lag_and_quarantine_are_measured(tmp_path: Path) -> None:
    before = METRICS.exposition().decode()
    settings = make_settings(tmp_path)
    async with running_pipeline(settings) as run:
        await run.submit(manual(headline="計測"))
        await run.submit(RawEvent(source="nobody", body=b"?", submitted_by="feed:x"))

        async def done() -> bool:
            alerts = await reports.alerts(run.ledger)
            return bool(alerts) and all(a["state"] == "done" for a in alerts) and bool(await reports.quarantine(run.ledger))

        await eventually(done)
        refresher = GaugeRefresher(METRICS, ledger=run.ledger, bus=run.bus, groups=consumer_groups(settings))
        await refresher.refresh()
    after = METRICS.exposition().decode()
    name = "broadcaster_dispatch_attempts_total"
    assert _value(after, name, channel="website", status="accepted") > _value(before, name, channel="website", status="accepted")
    assert _value(after, "broadcaster_ingest_to_send_seconds_count", channel="website") >= 1
    assert _value(after, "broadcaster_quarantine_unresolved") == 1
    assert re.search(r'broadcaster_bus_lag_messages\{group="route"\} 0\.0', after)


async def test_the_metrics_endpoint_asks_for_its_token_when_one_is_set(tmp_path: Path) -> None:
    async with web_env(tmp_path, web_extra={"metrics_token": "metrics-secret-1234"}) as env, client() as s:
        async with s.get(f"{env.base}/metrics") as r:
            assert r.status == 401
        async with s.get(f"{env.base}/metrics", headers={"Authorization": "Bearer metrics-secret-1234"}) as r:
            assert r.status == 200
            assert "broadcaster_dispatch_attempts_total" in await r.text()



async def test_without_a_token_the_metrics_stay_on_this_machine(tmp_path: Path) -> None:
    async with web_env(tmp_path) as env, client() as s:
        async with s.get(f"{env.base}/metrics") as r:
            assert r.status == 200, "a scraper on this machine"
        # nginx on this machine relays an outsider from a loopback address; it says so
        for relayed in ({"X-Forwarded-For": "203.0.113.9"}, {"Forwarded": "for=203.0.113.9"}):
            async with s.get(f"{env.base}/metrics", headers=relayed) as r:
                assert r.status == 401, relayed
    public = tmp_path / "public"
    public.mkdir()
    relayed = {"X-Forwarded-For": "203.0.113.9"}
    async with (
        web_env(public, web_extra={"metrics_public": True}) as env,
        client() as s,
        s.get(f"{env.base}/metrics", headers=relayed) as r,
    ):
        assert r.status == 200, "metrics_public: the operator says the network is closed"


def test_a_workers_metrics_port_binds_loopback_without_a_token() -> None:
    from broadcaster.settings import WebSettings
    from broadcaster.web.health import metrics_host

    assert metrics_host(WebSettings(host="0.0.0.0")) == "127.0.0.1"
    assert metrics_host(WebSettings(host="::")) == "::1"
    assert metrics_host(WebSettings(host="0.0.0.0", metrics_token="a-token-of-some-length")) == "0.0.0.0"
    assert metrics_host(WebSettings(host="0.0.0.0", metrics_public=True)) == "0.0.0.0"
