"""`broadcaster replay`: a sequence of telegrams through normalize and route, nothing sent.

The stages are the real ones (parsers, tenant assignment, the one-alert-per-change merge, the
rules, an update following its original, a cancel following it exactly) over a ledger and an
embedded bus of their own in a temporary folder, so that a later telegram of the sequence sees
what the earlier ones left, exactly as in production. Two things differ, both on purpose
(docs/replay.md):

* every audience stands for one person per channel, so that each (channel, audience) the rules
  name shows once, whatever people a deployment has registered;
* a telegram is taken to arrive at its own report time, so that the rules' time windows decide
  the same on every run.

Nothing here sends: no channel worker runs. What each dispatch would carry is rendered with the
templates the channel workers use.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from broadcaster.bus import Record
from broadcaster.bus.embedded import EmbeddedBus
from broadcaster.bus.topics import ALERTS, INGEST_RAW
from broadcaster.errors import ConfigError
from broadcaster.model import Alert, Dispatch, DispatchOrder
from broadcaster.pipeline.normalize import Refused, parse
from broadcaster.pipeline.runtime import Runtime, topic_specs
from broadcaster.settings import Settings
from broadcaster.sources import raw_from_file
from broadcaster.store import migrate
from broadcaster.store.audiences import Audiences, Recipient

# Files a directory contributes to a sequence, in name order.
SUFFIXES = (".xml", ".txt", ".json", ".eml")


@dataclass(frozen=True, slots=True)
class Carried:
    """What one channel would carry to one audience of one tenant."""

    tenant: str
    channel: str
    audience: str
    state: str  # Alert, Update, Update/AllClear, Cancel
    severity: str
    line: str  # the first line of the Japanese text


@dataclass
class Step:
    """One telegram of the sequence and what it caused."""

    file: str
    title: str = ""
    refused: str | None = None
    carried: list[Carried] = field(default_factory=list)
    # Tenants the telegram's alerts reached but that got nothing new (merged into an earlier
    # report of the same change, or a repeat).
    quiet: list[str] = field(default_factory=list)
    # Why a quiet tenant got nothing, when the ledger says (a warning already told, docs/r06.md).
    why: dict[str, str] = field(default_factory=dict)


def sequence(paths: Iterable[Path]) -> list[Path]:
    """The files in the order given; a directory contributes its telegrams in name order."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in SUFFIXES))
        elif p.is_file():
            out.append(p)
        else:
            raise ConfigError(f"{p}: no such file or directory")
    return out


class StandIns(Audiences):
    """One stand-in person per audience and channel: every decision shows, nobody is reached."""

    async def recipients(
        self, tenant: str, audience: str, channel: str, personal: Iterable[str] | None = None
    ) -> list[Recipient]:
        return [Recipient(0, f"replay:{tenant}:{audience}:{channel}", "ja")]

    async def preferred_channels(self, tenant: str, audience: str, personal: Iterable[str]) -> set[str]:
        return set()


async def replay(settings: Settings, files: Sequence[Path]) -> list[Step]:
    """Run `files` in order through normalize and route; what each channel would carry."""
    with tempfile.TemporaryDirectory(prefix="broadcaster-replay-") as tmp:
        work = Path(tmp)
        settings = settings.model_copy(
            update={
                "var_dir": work,
                "db_url": f"sqlite+aiosqlite:///{work / 'ledger.sqlite3'}",
                "outbox_dir": work / "outbox",
                # One partition: the sequence's order is the bus's order.
                "bus": settings.bus.model_copy(update={"partitions": 1}),
            }
        )
        from broadcaster.store.personal import open_ledger

        bus = EmbeddedBus(work / "bus.sqlite3", partitions=1, poll_interval=0.05)
        await bus.start()
        ledger = open_ledger(settings, required=False)  # stand-ins only: nothing personal is kept
        try:
            await migrate.upgrade(ledger.db)
            from broadcaster.app import open_runtime

            # Stand-ins for the people: what is decided is shown, nobody is looked up.
            async with open_runtime(settings, bus, ledger, audiences=StandIns(ledger.db)) as runtime:
                return await _run(runtime, bus, files)
        finally:
            await ledger.close()
            await bus.close()


async def _run(runtime: Runtime, bus: EmbeddedBus, files: Sequence[Path]) -> list[Step]:
    """`bus` is the runtime's, as the embedded bus whose messages are read back."""
    settings, ledger = runtime.settings, runtime.ledger
    await bus.ensure_topics(topic_specs(settings))
    await ledger.ensure_tenants((t.id, t.name) for t in settings.tenants.values())
    _, _, normalize = runtime.handler("normalize")
    _, _, route = runtime.handler("route")
    names = {t.id: t.name for t in settings.tenants.values()}
    steps: list[Step] = []
    seen = {ALERTS: 0}
    dispatch_topics = [s.name for s in topic_specs(settings) if s.name.startswith("dispatch.")]
    audited = 0
    for n, path in enumerate(files):
        step = Step(file=path.name)
        steps.append(step)
        try:
            raw = raw_from_file(
                path, officer="replay", tenant=None, source=None, known_tenants=settings.tenants
            )
        except ConfigError as e:
            step.refused = str(e)
            continue
        parsed = parse(raw, runtime.parsers)
        if isinstance(parsed, Refused):
            step.refused = f"{parsed.reason}: {parsed.detail[:200]}"
            continue
        if parsed:
            first = parsed[0]
            step.title = f"{first.primary.headline or first.primary.event} [{first.status.value}/{first.msg_type.value}]"
            # Arrives at its own report time, so the rules' time windows decide the same each run.
            raw = raw.model_copy(update={"received": first.sent})
        await normalize(_record(INGEST_RAW, n, raw.model_dump_json().encode("utf-8")))
        for audit_id, tenant, _, detail in await ledger.audit_of("warning_unchanged", audited):
            audited = audit_id
            if tenant is not None:
                step.why[tenant] = str(detail.get("reason", ""))
        new = (await bus.messages(ALERTS))[seen[ALERTS] :]
        seen[ALERTS] += len(new)
        routed: set[str] = set()
        for record in new:
            alert = Alert.model_validate_json(record.value)
            before = {t: len(await bus.messages(t)) for t in dispatch_topics}
            await route(record)
            assert alert.tenant is not None
            routed.add(alert.tenant)
            for topic in dispatch_topics:
                for d in (await bus.messages(topic))[before[topic] :]:
                    order = DispatchOrder.model_validate_json(d.value)
                    step.carried.append(_carried(runtime, order.alert, order.dispatch, names))
        reached = {t for a in parsed for t in runtime.directory.match(a)}
        step.quiet = sorted(reached - routed)
    return steps


def _record(topic: str, offset: int, value: bytes) -> Record:
    return Record(
        topic=topic, partition=0, offset=offset, key="replay", value=value, headers={}, timestamp=0.0
    )


def _carried(runtime: Runtime, alert: Alert, d: Dispatch, names: dict[str, str]) -> Carried:
    texts = runtime.renderer.render(
        alert,
        d,
        runtime.profiles.get(d.channel),
        tenant_name=names.get(d.tenant, d.tenant),
        public_url=runtime.settings.web.public_url,
        languages=["ja"],
    )
    text = texts[0] if texts else None
    body = (text.parts[0] if text and text.parts else text.body if text else "") or ""
    title = text.title.strip() if text else ""
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    # The title, then the first line that says more than it (what a reader sees first).
    lead = next((line for line in lines if line != title), "")
    first = " ｜ ".join(x for x in (title or (lines[0] if lines else ""), lead if title else "") if x)
    info = alert.primary if alert.info else None
    state = alert.msg_type.value
    if info is not None and "AllClear" in [r.value for r in info.response_type]:
        state += "/AllClear"
    return Carried(
        tenant=d.tenant,
        channel=d.channel,
        audience=d.audience,
        state=state,
        severity=info.severity.value if info is not None else "-",
        line=first,
    )


def render(steps: Sequence[Step], names: dict[str, str]) -> str:
    """The table: per telegram, per tenant, one line per (channel, audience)."""
    lines: list[str] = []
    for step in steps:
        lines.append(f"== {step.file}  {step.title}".rstrip())
        if step.refused:
            lines.append(f"  refused: {step.refused}")
            continue
        by_tenant: dict[str, list[Carried]] = {}
        for c in step.carried:
            by_tenant.setdefault(c.tenant, []).append(c)
        for tenant in sorted(by_tenant):
            lines.append(f"  {names.get(tenant, tenant)} ({tenant})")
            # Channels that carry the same to the same audience share a line.
            same: dict[tuple[str, str, str, str], list[str]] = {}
            for c in by_tenant[tenant]:
                same.setdefault((c.audience, c.state, c.severity, c.line), []).append(c.channel)
            for (audience, state, severity, line), channels in same.items():
                lines.append(f"    {audience:<10}{state:<16}{severity:<9}{','.join(channels)}")
                lines.append(f"      {line}")
        for tenant in step.quiet:
            why = step.why.get(tenant) or "merged or a repeat"
            lines.append(f"  {names.get(tenant, tenant)} ({tenant}): nothing new ({why})")
        if not by_tenant and not step.quiet:
            lines.append("  no tenant")
    return "\n".join(lines) + "\n"
