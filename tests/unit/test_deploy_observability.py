"""Metrics, alert rules and the dashboard agree: every series queried is one broadcaster/metrics.py
exports, with labels it has; the queried gauges (feeds, scheduler) are refreshed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from broadcaster.metrics import METRICS, GaugeRefresher, Metrics, feed_ages
from broadcaster.model import now
from broadcaster.settings import load_settings
from broadcaster.store import migrate
from broadcaster.store import tables as t
from broadcaster.store.ledger import Ledger
from tests.deploy_support import DEPLOY, ROOT, schema_errors, yaml_docs

ALERTS = DEPLOY / "prometheus" / "alerts.yaml"
DASHBOARD = DEPLOY / "grafana" / "broadcaster.json"
RUNBOOK = ROOT / "docs" / "operations" / "runbook.md"


def _exported() -> dict[str, set[str]]:
    """Every series name the registry can export (with _total, _bucket... suffixes) and its labels."""
    out: dict[str, set[str]] = {}
    for metric in METRICS.registry.collect():
        labels = set(getattr(METRICS, _attr_of(metric.name))._labelnames) if _attr_of(metric.name) else set()
        suffixes = {"counter": ["_total", "_created"], "histogram": ["_bucket", "_count", "_sum", "_created"]}.get(metric.type, [""])
        for suffix in suffixes:
            out[metric.name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return out


def _attr_of(name: str) -> str | None:
    for attr, value in vars(METRICS).items():
        if getattr(value, "_name", None) in (name, name.removesuffix("_total")):
            return attr
    return None


def _alert_rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"] for rule in group["rules"]]


def _dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def _expressions() -> list[tuple[str, str]]:
    exprs = [(f"alert {r['alert']}", r["expr"]) for r in _alert_rules()]
    for panel in _dashboard()["panels"]:
        exprs += [(f"panel {panel['title']}", target["expr"]) for target in panel.get("targets", [])]
    for var in _dashboard()["templating"]["list"]:
        if var["type"] == "query":
            exprs.append((f"variable {var['name']}", var["query"]))
    return exprs


EXPRESSIONS = _expressions()


def test_the_metrics_the_issue_asks_for_exist() -> None:
    exported = _exported()
    assert {"tenant", "channel", "status"} <= exported["broadcaster_dispatch_attempts_total"]  # sent / failed
    assert "channel" in exported["broadcaster_ingest_to_send_seconds_bucket"]  # latency histogram
    assert exported["broadcaster_bus_lag_messages"] == {"group"}
    assert exported["broadcaster_feed_seconds_since_success"] == {"source", "feed"}
    assert "broadcaster_quarantine_unresolved" in exported
    assert "broadcaster_scheduler_lease_seconds_remaining" in exported and "broadcaster_scheduler_active" in exported


def test_the_alert_rules_match_the_schema_and_cover_the_issue() -> None:
    assert schema_errors("prometheus-rules", yaml.safe_load(ALERTS.read_text(encoding="utf-8"))) == []
    names = {r["alert"] for r in _alert_rules()}
    assert {
        "BroadcasterFeedStale", "BroadcasterChannelFailing", "BroadcasterBusLagGrowing",
        "BroadcasterQuarantineGrowing", "BroadcasterNoScheduler",
    } <= names
    # The PrometheusRule for the Prometheus Operator is generated from the same file.
    (rule,) = [d for d in yaml_docs(DEPLOY / "k8s" / "monitoring.yaml") if d["kind"] == "PrometheusRule"]
    assert rule["spec"] == yaml.safe_load(ALERTS.read_text(encoding="utf-8"))


def test_every_alert_points_to_a_runbook_section() -> None:
    headings = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in RUNBOOK.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    }
    for rule in _alert_rules():
        path, _, anchor = rule["annotations"]["runbook"].partition("#")
        assert (ROOT / path) == RUNBOOK and anchor in headings, (rule["alert"], anchor)


def test_the_dashboard_matches_the_schema() -> None:
    dashboard = _dashboard()
    assert schema_errors("grafana-dashboard", dashboard) == []
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]


@pytest.mark.parametrize(("where", "expr"), EXPRESSIONS, ids=[w for w, _ in EXPRESSIONS])
def test_every_series_queried_is_exported_with_its_labels(where: str, expr: str) -> None:
    exported = _exported()
    names = re.findall(r"\bbroadcaster_[a-z_]+\b", expr)
    # Prometheus' own `up` of the broadcaster's scrape jobs is the one other series allowed.
    assert names or expr.startswith('up{job=~"broadcaster'), f"{where} queries no broadcaster metric"
    for name in names:
        assert name in exported, f"{where}: {name} is not in broadcaster/metrics.py"
    for name, matchers in re.findall(r"\b(broadcaster_[a-z_]+)\{([^}]*)\}", expr):
        for label in re.findall(r"([a-z_]+)\s*(?:=~|!~|!=|=)", matchers):
            assert label in exported[name], f"{where}: {name} has no label {label!r}"
    for clause in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
        for label in (x.strip() for x in clause.split(",")):
            assert any(label in exported[n] for n in names), f"{where}: no metric here has the label {label!r}"
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack: list[str] = []
    for ch in re.sub(r'"[^"]*"', '""', expr):
        if ch in pairs:
            stack.append(pairs[ch])
        elif ch in pairs.values():
            assert stack and stack.pop() == ch, f"{where}: unbalanced {ch!r}"
    assert not stack, f"{where}: unclosed brackets"


async def test_the_refresher_reports_feed_freshness_and_the_scheduler_lease(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        var_dir=tmp_path,
        db_url=f"sqlite+aiosqlite:///{tmp_path / 'ledger.sqlite3'}",
        bus={"url": f"embedded:{tmp_path / 'bus.sqlite3'}"},
        ingest={"jma": {"enabled": True, "stale_after_minutes": 10}},
    )
    ledger = Ledger.connect(settings.db_url)
    try:
        await migrate.upgrade(ledger.db)
        at = now()

        def seed(c: sa.Connection) -> None:
            c.execute(t.feed_status.insert().values(
                source="jma", feed="extra", first_attempt=at - timedelta(hours=1), last_attempt=at,
                last_success=at - timedelta(minutes=20), failures=3,
            ))
            c.execute(t.feed_status.insert().values(
                source="jma", feed="eqvol", first_attempt=at - timedelta(hours=1), last_attempt=at,
                last_success=at - timedelta(seconds=30), failures=0,
            ))
            c.execute(t.leases.insert().values(name="scheduler", holder="elsewhere:1", expires=at + timedelta(seconds=25)))

        await ledger.db.write(seed)

        class NoLag:
            async def lag(self, group: str, topics: list[str]) -> dict[str, int]:
                return {topic: 0 for topic in topics}

        metrics = Metrics()
        refresher = GaugeRefresher(metrics, ledger=ledger, bus=NoLag(), groups=[("route", ["alerts"])], feeds=feed_ages(settings, ledger.db))
        await refresher.refresh()
    finally:
        await ledger.close()
    text = metrics.exposition().decode()

    def value(series: str) -> float:
        match = re.search("^" + re.escape(series) + r" (\S+)$", text, re.MULTILINE)
        assert match, f"{series} not exported"
        return float(match.group(1))

    assert 1190 < value('broadcaster_feed_seconds_since_success{feed="extra",source="jma"}') < 1300
    assert value('broadcaster_feed_stale{feed="extra",source="jma"}') == 1
    assert value('broadcaster_feed_stale{feed="eqvol",source="jma"}') == 0
    assert 'feed="regular"' not in text, "a feed never polled has no age yet"
    assert 15 < value("broadcaster_scheduler_lease_seconds_remaining") <= 25
    assert value("broadcaster_scheduler_active") == 0, "this process does not hold the lease"
    assert value('broadcaster_bus_lag_messages{group="route"}') == 0


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian's prometheus package) is not installed")
def test_promtool_accepts_the_rules_and_the_dashboards_queries(tmp_path: Path) -> None:
    rules = [{"record": f"check:expr_{i}", "expr": expr.replace("$tenant", ".*").replace("$channel", ".*")}
             for i, (where, expr) in enumerate(EXPRESSIONS) if where.startswith("panel")]
    (tmp_path / "dashboard.yaml").write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}), encoding="utf-8")
    for path in (ALERTS, tmp_path / "dashboard.yaml"):
        result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True, check=False, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
