"""`broadcaster status`: what went out where, how fast, what failed, what was refused."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from broadcaster import delivery_stats
from broadcaster import quota as quotas
from broadcaster.bus import Bus
from broadcaster.model import JST
from broadcaster.pipeline.feeds import backup_only, is_backup
from broadcaster.pipeline.feeds import freshness as feed_freshness
from broadcaster.pipeline.runtime import consumer_groups
from broadcaster.settings import Settings
from broadcaster.store import handoffs, reach, reports
from broadcaster.store.ledger import Ledger
from broadcaster.store.receivers import receivers as receiver_health


async def collect_status(
    settings: Settings,
    bus: Bus,
    ledger: Ledger,
    *,
    alert_id: str | None = None,
    tenant: str | None = None,
    with_quotas: bool = True,
) -> dict[str, Any]:
    rows = await reports.channel_table(ledger, tenant=tenant, alert_id=alert_id)
    feeds = await feed_freshness(settings, ledger.db)
    alerts = {(a["tenant"], a["identifier"]): a for a in await reports.alerts(ledger, tenant=tenant, limit=200)}
    lag: dict[str, int] = {}
    bus_error: str | None = None
    for group, topics in consumer_groups(settings):
        try:
            lag[group] = sum((await bus.lag(group, topics)).values())
        except Exception as e:  # status must still show the ledger when the bus is unreachable
            lag[group] = -1
            bus_error = str(e)
    return {
        "channels": [
            {**asdict(r), "headline": (alerts.get((r.tenant, r.alert_id)) or {}).get("headline")} for r in rows
        ],
        "alerts": list(alerts.values()),
        "quarantine": await reports.quarantine(ledger, limit=20),
        "feeds": [
            {**asdict(f), "stale_after_minutes": settings.ingest[f.source].stale_after_minutes}
            for f in feeds
        ],
        "receivers": [
            {**asdict(r), "silent": r.silent, "age_s": r.age_s}
            for r in await receiver_health(
                ledger.db, tenant=tenant, bridge_silent_after_s=_bridge_silent_after(settings)
            )
        ],
        "handoffs_waiting": await handoffs.waiting(ledger.db, tenant),
        "backup_only": backup_only(feeds, {n for n, c in settings.ingest.items() if c.enabled and is_backup(n, settings)}),
        "lag": lag,
        "bus_error": bus_error,
        "reach": {f"{k[0]}|{k[1]}": v for k, v in (await reach.summary(ledger.db, tenant)).items()},
        # LINE, X and Bluesky quotas per town (broadcaster/quota.py); asks LINE over the network.
        "quotas": [q.as_dict() for q in await quotas.collect(settings, tenant=tenant)] if with_quotas else [],
        # What the providers reported afterwards (`broadcaster stats fetch`), for one alert.
        "statistics": await _statistics(ledger, rows, alert_id),
    }


def _bridge_silent_after(settings: Settings) -> float:
    hook = settings.hooks.get("jalert")
    return hook.bridge_silent_after_s if hook is not None else 300.0


def _when(at: Any) -> str:
    return "never" if at is None else f"{at.astimezone(JST):%Y-%m-%d %H:%M} JST"


def _receiver_lines(rows: list[dict[str, Any]]) -> list[str]:
    """J-Alert receivers: SILENT when not heard within their expected interval (a receiver is
    tested nationally several times a year), BRIDGE SILENT when its bridge stopped reporting."""
    lines = ["J-Alert receivers:"]
    for r in rows:
        name = f"{r['key_id']}/{r['name']}"
        state = "BRIDGE SILENT" if r["bridge_silent"] else ("SILENT" if r["silent"] else "ok")
        line = f"    {name:<24}{state:<15}last heard {_when(r['last_heard'])}"
        if r["last_via"]:
            line += f" by {r['last_via']}"
        line += f", last test {_when(r['last_test'])}"
        if r["quarantined"]:
            line += f", {r['quarantined']} mail(s) quarantined"
        lines.append(line)
    return lines


async def _statistics(ledger: Ledger, rows: list[Any], alert_id: str | None) -> list[dict[str, Any]]:
    if alert_id is None:
        return []
    out: list[dict[str, Any]] = []
    for tenant in sorted({r.tenant for r in rows}):
        out.extend(await delivery_stats.read(ledger, tenant, alert_id))
    return out


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}"


def _feed_lines(feeds: list[dict[str, Any]]) -> list[str]:
    """Polled feeds: STALE when no poll succeeded for stale_after_minutes (the officers were alerted)."""
    lines = ["feeds:"]
    for f in feeds:
        name = f"{f['source']}/{f['feed']}"
        if f["age_s"] is None:
            lines.append(f"    {name:<16}never polled")
            continue
        last = f"{f['last_success'].astimezone(JST):%Y-%m-%d %H:%M:%S} JST" if f["last_success"] else "never"
        state = f"STALE (>{f['stale_after_minutes']:g} min)" if f["stale"] else "ok"
        line = f"    {name:<16}{state:<16}last success {last} ({f['age_s']:.0f} s ago)"
        if f["failures"]:
            line += f", {f['failures']} failed poll(s): {(f['last_error'] or '')[:120]}"
        lines.append(line)
    return lines


def _quota_lines(rows: list[dict[str, Any]]) -> list[str]:
    from broadcaster.channels import QuotaState

    fields = set(QuotaState.__dataclass_fields__)
    return quotas.render(
        [
            quotas.ChannelQuota(
                r["tenant"],
                r["channel"],
                QuotaState(**{k: v for k, v in r.items() if k in fields}) if "name" in r else None,
                r.get("error"),
            )
            for r in rows
        ]
    )


def render_status(data: dict[str, Any]) -> str:
    lines: list[str] = []
    by_alert: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in data["channels"]:
        by_alert.setdefault((row["tenant"], row["alert_id"]), []).append(row)
    for alert in data["alerts"]:
        key = (alert["tenant"], alert["identifier"])
        rows = by_alert.get(key, [])
        lines.append(
            f"{alert['tenant']}  {alert['identifier']}  [{alert['status']}/{alert['msg_type']}/{alert['state']}]  "
            f"{alert['headline'] or ''}"
        )
        if not rows:
            lines.append("    (no dispatches)")
            continue
        width = max(11, *(len(r["channel"]) + 1 for r in rows))
        lines.append(
            f"    {'channel':<{width}}{'sent':>5}{'ok':>5}{'fail':>5}{'dead':>5}{'supd':>5}{'wait':>5}{'people':>8}"
            f"{'p50 ms':>9}{'max ms':>9}  mode"
        )
        for r in rows:
            lines.append(
                f"    {r['channel']:<{width}}{r['dispatches']:>5}{r['accepted']:>5}{r['failed']:>5}{r['dead']:>5}"
                f"{r['superseded'] + r['recorded']:>5}{r['waiting']:>5}{r['recipients']:>8}"
                f"{_ms(r['latency_p50_ms']):>9}{_ms(r['latency_max_ms']):>9}  {r['mode']}"
            )
        people = data.get("reach", {}).get(f"{alert['tenant']}|{alert['identifier']}")
        if people:
            lines.append("    people: " + ", ".join(f"{k} {n}" for k, n in sorted(people.items())))
            helps = sum(n for k, n in people.items() if k.endswith(" help"))
            if helps:
                lines.append(f"    NEED HELP: {helps} resident(s) pressed 1 on the call")
        firsts = [r["first_accepted"] for r in rows if r["first_accepted"]]
        lasts = [r["last_accepted"] for r in rows if r["last_accepted"]]
        if firsts and lasts:
            lines.append(f"    skew (first to last channel): {(max(lasts) - min(firsts)).total_seconds() * 1000:.0f} ms")
    if data["quarantine"]:
        lines.append("")
        lines.append("quarantine (newest first):")
        for q in data["quarantine"]:
            lines.append(f"    #{q['id']} {q['at']:%Y-%m-%d %H:%M:%S} {q['source']}: {q['reason']} - {q['detail'][:120]}")
    if data.get("feeds"):
        lines.append("")
        lines.extend(_feed_lines(data["feeds"]))
    if data.get("receivers"):
        lines.append("")
        lines.extend(_receiver_lines(data["receivers"]))
    if data.get("handoffs_waiting"):
        lines.append("")
        lines.append(
            f"hand-offs waiting: {data['handoffs_waiting']} text(s) for officers to send by hand "
            "(緊急速報メール; the console's 緊急速報メール page)"
        )
    if data.get("backup_only"):
        lines.append("ON BACKUP: every internet source is stale; the QZSS receiver is alive (docs/qzss.md)")
    if data.get("statistics"):
        lines.append("")
        lines.append("provider statistics (broadcaster stats fetch):")
        lines.extend(delivery_stats.render(data["statistics"]))
    if data.get("quotas"):
        lines.append("")
        lines.append("quotas:")
        lines.extend(_quota_lines(data["quotas"]))
    lines.append("")
    lines.append("bus lag: " + ", ".join(f"{g}={n}" for g, n in data["lag"].items()))
    if data.get("bus_error"):
        lines.append(f"bus unreachable: {data['bus_error']}")
    return "\n".join(lines)
