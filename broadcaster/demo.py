"""`broadcaster demo`: the Noto earthquake evening and a night of heavy rain, offline.

Everything runs in this process on the embedded bus and SQLite, every channel in outbox mode.
The demo feeds the project's own sample telegrams (samples/) and two officers' manual alerts
through the pipeline, waits until every dispatch is final, and prints what went where and how
fast. With --serve it keeps the pipeline running for `broadcaster send` from another terminal.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from broadcaster import demo_coverage, demo_qzss, demo_voice
from broadcaster.app import open_runtime, serving
from broadcaster.bus.embedded import EmbeddedBus
from broadcaster.demo_site import print_site
from broadcaster.model import RawEvent, now
from broadcaster.pipeline.approval import approve
from broadcaster.pipeline.ingest import submit
from broadcaster.pipeline.runtime import Runtime, stage_names
from broadcaster.settings import PROJECT_ROOT, Settings, load_settings
from broadcaster.sources import raw_from_file
from broadcaster.status import collect_status, render_status
from broadcaster.store import handoffs, migrate, reports
from broadcaster.store.audiences import Audiences
from broadcaster.store.ledger import Ledger

SAMPLES = PROJECT_ROOT / "samples"
SCENARIOS = PROJECT_ROOT / "scenarios"
CONFIG = PROJECT_ROOT / "config" / "demo.toml"

# (what the demo says, file, who sends it); None = a source (JMA, L-Alert), else an officer.
STORY: Sequence[tuple[str, str, str | None]] = (
    ("16:10 震度速報: 石川県能登 震度7", "jma/01_vxse51_shindo_sokuho.xml", None),
    ("16:12 大津波警報: 石川県能登", "jma/02_vtse41_otsunami_keiho.xml", None),
    ("16:20 震源・震度に関する情報: M7.6", "jma/03_vxse53_shingen_shindo.xml", None),
    ("訂正: 大津波警報 (JMA corrects its own telegram)", "jma/06_vtse41_teisei.xml", None),
    ("a garbled telegram arrives (it goes to quarantine, nothing else stops)", "manual/garbled.xml", None),
    ("02:40 officer 田中 issues 避難指示 for 川島 and 大町 (held for a second officer)", "manual/evacuation_order.json", "tanaka"),
    ("03:20 L-Alert: 穴水町 opens two shelters", "lalert/anamizu_shelter_open.xml", None),
)


async def _seed_people(audiences: Audiences, settings: Settings) -> int:
    """Residents, leaders and officers with made-up addresses, so that counts mean something."""
    n = 0
    languages = ["ja"] * 8 + ["en", "vi"]
    for t_index, tenant in enumerate(settings.tenants.values()):
        for d_index, district in enumerate(tenant.districts):
            for i in range(12):
                lang = languages[(i + d_index) % len(languages)]
                endpoints = {"line": demo_coverage.resident_line(t_index, d_index, i)}
                if i % 2 == 0:
                    endpoints["email"] = f"{tenant.id}.{district.id}.{i}@example.jp"
                if i % 3 == 0:
                    endpoints["app_push"] = f"https://push.example.jp/{tenant.id}/{district.id}/{i}"
                await audiences.add(tenant.id, language=lang, districts=[district.id], endpoints=endpoints)
                n += 1
            await audiences.add(
                tenant.id,
                kind="leader",
                name=f"{district.name} 区長",
                districts=[district.id],
                endpoints={"circular": f"leader-{tenant.id}-{district.id}", "line": f"Uleader{tenant.id}{district.id}"},
            )
            n += 1
        for officer in ("tanaka", "sato"):
            await audiences.add(tenant.id, kind="officer", name=officer, endpoints={"email": f"{officer}@{tenant.id}.example.jp"})
            n += 1
    return n


async def _settled(ledger: Ledger, raw_id: str | None) -> bool:
    """The raw event (if given) is recorded and routed, and no dispatch is still on its way."""
    if raw_id is not None and not await reports.raw_processed(ledger, raw_id):
        return False
    states = await reports.dispatch_states(ledger)
    return not any(s in states for s in ("pending", "sending", "failed"))


async def _wait(ledger: Ledger, within: float, raw_id: str | None = None) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await _settled(ledger, raw_id):
            return True
        await asyncio.sleep(0.1)
    return False


async def _held(ledger: Ledger, tenant: str) -> str | None:
    for alert in await reports.alerts(ledger, tenant=tenant):
        if alert["state"] == "held":
            return str(alert["identifier"])
    return None


def demo_settings(workdir: Path) -> Settings:
    workdir = workdir.resolve()
    return load_settings(
        CONFIG,
        var_dir=workdir,
        db_url=f"sqlite+aiosqlite:///{workdir / 'ledger.sqlite3'}",
        outbox_dir=workdir / "outbox",
        bus={"url": f"embedded:{workdir / 'bus.sqlite3'}", "partitions": 8, "poll_interval_s": 0.1},
    )


def prepare(workdir: Path) -> Settings:
    """An empty working folder and the demo's settings (before the event loop starts)."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    return demo_settings(workdir)


async def run_demo(settings: Settings, *, serve: bool = False) -> int:
    workdir = settings.var_dir
    echo = click.echo
    echo(f"Offline demo: {', '.join(t.name for t in settings.tenants.values())} share one deployment.")
    echo(f"Every channel runs in outbox mode (no credentials), but the website: it publishes files here. "
         f"Working folder: {workdir}\n")

    bus = EmbeddedBus(Path(settings.bus.url.removeprefix("embedded:")), partitions=settings.bus.partitions,
                      poll_interval=settings.bus.poll_interval_s)
    # One stack, the composition root's way (broadcaster/app.py): whatever was opened is closed,
    # last opened first, even when a later step (the telephone exchange, the ledger) fails.
    async with AsyncExitStack() as stack:
        await bus.start()
        stack.push_async_callback(bus.close)
        from broadcaster.store.personal import open_ledger

        if settings.privacy.cipher() is None:
            # The demo's people are invented; a real deployment refuses to start like this.
            echo("WARNING: no data key (privacy.key): the demo stores its people's addresses in clear. "
                 "A deployment for real residents must set one (docs/privacy.md).\n", err=True)
        exchange = None
        why_not = demo_voice.available()
        if why_not is None:
            exchange, settings = await demo_voice.start(settings, CONFIG)
            stack.push_async_callback(exchange.close)
            echo(f"Voice calls go to the demo's telephone exchange (Asterisk ARI, simulated): {exchange.url}\n")
        else:
            echo(f"No voice calls in this demo: {why_not}\n", err=True)
        ledger = open_ledger(settings)
        stack.push_async_callback(ledger.close)
        await migrate.upgrade(ledger.db)
        runtime = await stack.enter_async_context(open_runtime(settings, bus, ledger))
        process = await stack.enter_async_context(serving(runtime, stage_names(settings, web=serve)))
        people = await _seed_people(runtime.audiences, settings)
        officers = await _add_demo_officers(ledger)
        if exchange is not None:
            await demo_voice.seed(runtime.audiences)
            people += len(demo_voice.PHONE_PEOPLE)
        echo(f"Registered {people} demo people (residents in ja/en/vi, district leaders, officers).\n")
        for what, rel, officer in STORY:
            echo(f"  → {what}")
            raw = _raw(SAMPLES / rel, officer)
            await submit(bus, raw, ledger)
            await _wait(ledger, 20, raw.id)
            if officer:
                alert_id = await _held(ledger, "anamizu")
                if alert_id:
                    echo(f"    held: {alert_id} waits for approval (two-person rule)")
                    n = await approve(bus, ledger, "anamizu", alert_id, "officer:anamizu/sato", origin="demo")
                    echo(f"    officer 佐藤 approves → {n} dispatches go out at once")
                    await _wait(ledger, 20)
        echo("  → 16:22 みちびき (QZSS) relays the same 震度速報 and 大津波警報: decoded, and merged with JMA's")
        qzss_raws = await demo_qzss.replay(bus, ledger, echo)
        await _wait(ledger, 20)
        await demo_qzss.report(ledger, qzss_raws, echo)
        complete = await _wait(ledger, 60)
        data = await collect_status(settings, bus, ledger)
        echo("\nWhat went where (per alert and channel; latency = ingest to provider answer):\n")
        echo(render_status(data))
        if exchange is not None:
            await demo_voice.report(ledger, exchange, echo)
        _print_outputs(settings, echo)
        await _print_handoffs(ledger, echo)
        print_site(settings, echo, f"http://{settings.web.host}:{process.web_port}" if process.web_port else None)
        await _print_consistency(runtime, echo)
        complete = await _safety_drill(runtime, echo) and complete
        await _run_drill(settings, ledger, echo)
        if serve:
            _demo_officers(officers, echo, process.web_port)
            echo(f"\nServing: the pipeline keeps running. In another terminal:\n"
                 f"  broadcaster --config {CONFIG} send samples/jma/12_vxse43_eew_keiho.xml\n"
                 f"  broadcaster --config {CONFIG} status\n"
                 "Ctrl-C stops.")
            await _forever()
    return 0 if complete else 1


async def _print_consistency(runtime: Runtime, echo: Any) -> None:
    """What the consistency guard reads back from every medium now (docs/consistency.md)."""
    from broadcaster.pipeline.guard import ConsistencyGuard
    from broadcaster.store import consistency

    guard = ConsistencyGuard(runtime.ledger, runtime.adapters, runtime.settings.guard)
    await guard.run_once()
    counts: dict[str, int] = {}
    for tenant, event_key in await consistency.recent_events(runtime.ledger.db, now() - timedelta(hours=1)):
        for s in await consistency.states_of(runtime.ledger.db, tenant, event_key):
            counts[s.problem or "agrees"] = counts.get(s.problem or "agrees", 0) + 1
    echo("\nEvery medium read back (consistency guard): "
         + ", ".join(f"{n} {what}" for what, n in sorted(counts.items())))  # fmt: skip


async def _safety_drill(runtime: Runtime, echo: Any) -> bool:
    """A safety check (安否確認) and its coverage per district rising as residents answer and a
    district leader marks their list (docs/coverage.md)."""
    bus, ledger = runtime.bus, runtime.ledger
    echo("\nSafety-check drill: officer 田中 asks 川島 and 大町 for a safety answer (安否確認):")
    raw = _raw(demo_coverage.sample(SAMPLES), "tanaka")
    await submit(bus, raw, ledger)
    await _wait(ledger, 20, raw.id)
    alert_id = await _held(ledger, "anamizu")
    if alert_id is None:
        echo("    the safety check was not held for a second officer: nothing to measure", err=True)
        return False
    await approve(bus, ledger, "anamizu", alert_id, "officer:anamizu/sato", origin="demo")
    echo("    officer 佐藤 approves; coverage read back from the ledger after each step:")
    done = await _wait(ledger, 30)
    await demo_coverage.run(runtime, alert_id, echo)
    return done


async def _run_drill(settings: Settings, ledger: Ledger, echo: Any) -> None:
    """A short drill in its sandbox: everything Exercise, nothing leaves its outbox (docs/drills.md)."""
    from broadcaster.drill.report import text
    from broadcaster.drill.run import DrillRun
    from broadcaster.drill.scenario import load

    scenario = load(SCENARIOS / "short_tsunami_drill.yaml")
    echo(f"\nA short drill ({scenario.name}) at 60 times real time, in a sandbox of its own:\n")
    officers = await Audiences(ledger.db).people(scenario.tenant)
    report = await DrillRun(settings, scenario, speed=60.0, officers=officers).run()
    echo(text(report))


DEMO_PASSWORD = "demo password 2024"  # noqa: S105 - the offline demo's own, printed to its user


async def _add_demo_officers(ledger: Ledger) -> dict[str, str]:
    """Two officers of 穴水町, one composes, the other approves; returns their TOTP secrets.

    Added before the story: the second officer approves under an account of their own, with a
    second factor, as every approval must (docs/approval.md).
    """
    import pyotp

    from broadcaster.store.users import Role, Users
    from broadcaster.web.auth import hash_password

    users = Users(ledger.db)
    password = hash_password(DEMO_PASSWORD)
    secrets: dict[str, str] = {}
    for name, role in (("tanaka", Role.OPERATOR), ("sato", Role.APPROVER)):
        secrets[name] = pyotp.random_base32()
        await users.add(
            name, display_name=name, home_tenant="anamizu", password_hash=password, totp_secret=secrets[name],
            roles={"anamizu": role},
        )
    return secrets


def _demo_officers(secrets: dict[str, str], echo: Any, port: int | None) -> None:
    """The two officers' accounts, for trying the console."""
    import pyotp

    echo(f"\nConsole: http://127.0.0.1:{port}/console  (password: {DEMO_PASSWORD!r})")
    for name, role in (("tanaka", "operator"), ("sato", "approver")):
        secret = secrets[name]
        echo(f"  {name:<7} {role:<9} second factor: {pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name='broadcaster demo')}")
        echo(f"          code now: {pyotp.TOTP(secret).now()}  (add the link to an authenticator app for later codes)")


def _raw(path: Path, officer: str | None) -> RawEvent:
    if officer:
        return raw_from_file(path, officer=officer, tenant="anamizu", source=None, known_tenants=None)
    return raw_from_file(path, officer=None, tenant=None, source=None, known_tenants=None)


def _print_outputs(settings: Settings, echo: Any) -> None:
    echo("\nOutputs (append-only, one JSON line per attempt):")
    for path in sorted(settings.outbox_dir.glob("*/*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()
        echo(f"  {path}  ({len(lines)} records)")
    sample = settings.outbox_dir / "anamizu" / "line.jsonl"
    if sample.exists():
        first = json.loads(sample.read_text(encoding="utf-8").splitlines()[0])
        echo("\nFor example, the first LINE message of 穴水町:\n")
        for part in first["texts"][0].get("parts") or [first["texts"][0]["body"]]:
            echo("    " + part.replace("\n", "\n    "))


async def _print_handoffs(ledger: Ledger, echo: Any) -> None:
    """緊急速報メール in hand-off mode: what the officer pastes into each carrier's console."""
    rows = await handoffs.listed(ledger.db, "anamizu")
    if not rows:
        return
    echo("\n緊急速報メール (hand-off: no link to the carriers yet). The officer pastes each into the carrier's")
    echo("console, then confirms it on the console's 緊急速報メール page:\n")
    for h in rows:
        echo(f"  {h.target}  [{h.where_to}]  area {h.area}")
        echo(f"    題 ({len(h.title)}/15): {h.title}")
        echo(f"    本文 ({len(h.body)}/200):")
        echo("      " + h.body.replace("\n", "\n      "))


async def _forever() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
