"""Alerts and tenants for rules tests: the project's sample telegrams and officers' alerts."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import adapters.ingest.jma as jma
import adapters.ingest.lalert as lalert
from adapters.ingest.manual import ManualAlertParser
from broadcaster.model import JST, Alert, RawEvent
from broadcaster.pipeline.normalize import assign_tenants
from broadcaster.pipeline.tenancy import TenantDirectory
from broadcaster.rules.engine import RuleSet, load_tenant_rules
from broadcaster.settings import DEFAULT_CHANNELS, Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"


@cache
def demo_settings() -> Settings:
    return load_settings(None, tenants_dir=ROOT / "config" / "tenants", rules_dir=ROOT / "rules")


@cache
def directory() -> TenantDirectory:
    return TenantDirectory.from_settings(demo_settings())


@cache
def shipped_rules(tenant: str) -> RuleSet:
    districts = [d.id for d in demo_settings().tenants[tenant].districts]
    return load_tenant_rules(ROOT / "rules", tenant, DEFAULT_CHANNELS, districts)


def sample(name: str, tenant: str) -> Alert:
    """A sample telegram as the named tenant receives it (its copy, enriched as normalize does)."""
    path = next(SAMPLES.rglob(name))
    parse = jma.parse_bytes if path.parent.name == "jma" else lalert.parse_bytes
    alerts = parse(path.read_bytes())
    raw = RawEvent(source=path.parent.name, body=path.read_bytes(), submitted_by="test")
    if path.parent.name == "lalert":
        # An L-Alert box belongs to one town: the source's tenant decides, as in normalize.
        raw = raw.model_copy(update={"tenant": tenant})
    assigned = assign_tenants(alerts, raw, directory())
    assert isinstance(assigned, list)
    mine = [a for a in assigned if a.tenant == tenant]
    assert mine, f"{name} does not reach {tenant}"
    return mine[0]


def manual(tenant: str = "anamizu", at: datetime | None = None, **fields: Any) -> Alert:
    doc: dict[str, Any] = {
        "status": "Actual",
        "kind": "notice",
        "event": "お知らせ",
        "headline": "お知らせ",
    }
    doc.update(fields)
    raw = RawEvent(
        source="manual",
        content_type="application/vnd.broadcaster.manual+json",
        body=json.dumps(doc, ensure_ascii=False).encode(),
        tenant=tenant,
        submitted_by=f"officer:{tenant}/tanaka",
        received=at or datetime(2025, 7, 1, 14, 0, tzinfo=JST),
    )
    alerts = ManualAlertParser().parse(raw)
    assigned = assign_tenants(list(alerts), raw, directory())
    assert isinstance(assigned, list)
    return assigned[0]


def decide(alert: Alert, rules: RuleSet | None = None, at: datetime | None = None) -> Any:
    assert alert.tenant is not None
    from dataclasses import replace

    ctx = directory().context(alert.tenant, alert)
    if at is not None:
        ctx = replace(ctx, at=at)
    return (rules or shipped_rules(alert.tenant)).evaluate(alert, ctx)


def write_rules(folder: Path, text: str, name: str = "10.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path
