"""The `broadcaster` command."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from broadcaster.errors import BroadcasterError, ConfigError
from broadcaster.logging import configure
from broadcaster.settings import Settings, load_settings

T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    obj = ctx.ensure_object(dict)
    extra = {k: v for k, v in overrides.items() if v is not None}
    try:
        settings = load_settings(obj.get("config"), **extra)
    except ConfigError as e:
        raise click.ClickException(str(e)) from e
    configure(obj.get("log_level") or settings.log_level, settings.log_format)
    return settings


def _friendly(fn: Callable[..., T]) -> Callable[..., T]:
    """Errors an operator can act on become one clear line and exit status 1, not a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except BroadcasterError as e:
            raise click.ClickException(str(e)) from e

    return wrapper


@click.group()
@click.option("--config", "-c", type=click.Path(dir_okay=False, path_type=Path), envvar="BROADCASTER_CONFIG",
              help="TOML settings file (also BROADCASTER_CONFIG).")
@click.option("--log-level", default=None, help="DEBUG, INFO, WARNING, ERROR.")
@click.pass_context
def main(ctx: click.Context, config: Path | None, log_level: str | None) -> None:
    """Emergency information broadcaster: one input, every medium at once."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config
    ctx.obj["log_level"] = log_level


def _bus_db(bus: str | None, db: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if db:
        out["db_url"] = db
    if bus:
        out["bus"] = {"url": bus}
    return out


async def _open(settings: Settings) -> tuple[Any, Any]:
    from broadcaster.bus import open_bus
    from broadcaster.store import migrate
    from broadcaster.store.personal import open_ledger

    settings.var_dir.mkdir(parents=True, exist_ok=True)
    # Without a data key a production deployment refuses to start (docs/privacy.md).
    ledger = open_ledger(settings, synchronous=settings.bus.sqlite_synchronous)
    bus = open_bus(settings.bus)
    await bus.start()
    missing = await migrate.missing_revisions(ledger.db)
    if missing:
        await ledger.close()
        await bus.close()
        raise ConfigError(
            f"the database lacks revision(s) {', '.join(missing)} that this version needs: run `broadcaster db upgrade`"
        )
    return bus, ledger


async def _until_signal(wait: Awaitable[None]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    stopper = asyncio.ensure_future(stop.wait())
    waiter = asyncio.ensure_future(wait)
    done, _ = await asyncio.wait({stopper, waiter}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if waiter in done:
        waiter.result()


@main.command()
@click.option("--bus", help="Bus URL: embedded:PATH or kafka://host:port.")
@click.option("--db", help="Database URL (sqlite+aiosqlite:///PATH or postgresql+asyncpg://...).")
@click.option("--stage", "stages", multiple=True, help="Run only these stages (default: all).")
@click.pass_context
@_friendly
def run(ctx: click.Context, bus: str | None, db: str | None, stages: tuple[str, ...]) -> None:
    """Run the pipeline (every stage in this process) until SIGINT or SIGTERM."""
    settings = _settings(ctx, **_bus_db(bus, db))
    _run(_serve_pipeline(settings, list(stages) or None))


async def _serve_pipeline(settings: Settings, stages: list[str] | None, *, metrics_port: int | None = None) -> None:
    from broadcaster.pipeline.runner import Pipeline, Runtime, stage_names

    bus, ledger = await _open(settings)
    metrics_server = None
    try:
        runtime = Runtime.build(settings, bus, ledger)
        pipeline = Pipeline(runtime, stages or stage_names(settings, web=True))
        await pipeline.start()
        if metrics_port is not None:
            from broadcaster.web.app import WebServer, build_app
            from broadcaster.web.context import WebContext

            metrics_server = WebServer(
                build_app(WebContext.build(settings, ledger, bus), only_health=True), settings.web.host, metrics_port
            )
            await metrics_server.start()
            pipeline.start_metrics()
        click.echo(f"broadcaster running: bus {settings.bus.url}, {len(pipeline.stages)} stages. Ctrl-C stops.", err=True)
        try:
            await _until_signal(pipeline.wait())
        finally:
            await pipeline.stop()
            if metrics_server is not None:
                await metrics_server.stop()
    finally:
        await ledger.close()
        await bus.close()


@main.command()
@click.argument("stage")
@click.option("--bus", help="Bus URL (kafka://host:port for scale-out).")
@click.option("--db", help="Database URL.")
@click.option("--metrics-port", type=int, default=None, help="Serve /metrics, /healthz and /readyz on this port.")
@click.pass_context
@_friendly
def worker(ctx: click.Context, stage: str, bus: str | None, db: str | None, metrics_port: int | None) -> None:
    """Run one stage: normalize, route, channel:NAME, ledger, redrive, scheduler or ingest:NAME (scale out by adding more)."""
    settings = _settings(ctx, **_bus_db(bus, db))
    _run(_serve_pipeline(settings, [stage], metrics_port=metrics_port))


@main.group()
def db() -> None:
    """The ledger database."""


@db.command("upgrade")
@click.option("--db", "url", help="Database URL.")
@click.pass_context
@_friendly
def db_upgrade(ctx: click.Context, url: str | None) -> None:
    """Create or migrate the ledger's tables to this version."""
    settings = _settings(ctx, **_bus_db(None, url))

    async def go() -> str | None:
        from broadcaster.store import migrate
        from broadcaster.store.personal import open_ledger

        settings.var_dir.mkdir(parents=True, exist_ok=True)
        # A migration needs no data key; with one, anything it writes is sealed.
        ledger = open_ledger(settings, required=False)
        try:
            await migrate.upgrade(ledger.db)
            await ledger.ensure_tenants((t.id, t.name) for t in settings.tenants.values())
            return await migrate.current_revision(ledger.db)
        finally:
            await ledger.close()

    click.echo(f"database at revision {_run(go())}")


@main.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Check settings, tenants, rules, templates and adapters; exit 1 on any problem."""
    from broadcaster.checks import run_checks

    try:
        settings = _settings(ctx)
    except click.ClickException as e:
        click.echo(f"FAIL settings: {e.message}")
        sys.exit(1)
    problems = 0
    for ok, what, detail in run_checks(settings):
        click.echo(f"{'ok  ' if ok else 'FAIL'} {what}{': ' + detail if detail else ''}")
        problems += not ok
    if problems:
        click.echo(f"{problems} problem(s)")
        sys.exit(1)
    click.echo("all checks passed")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--officer", help="Officer identity for a manual alert (required for JSON).")
@click.option("--tenant", help="Tenant the officer sends for (required for JSON).")
@click.option("--source", default=None, help="Source name for a raw telegram (default: by content).")
@click.option("--bus", help="Bus URL.")
@click.option("--from-tenant", help="The officer's own municipality, sending on --tenant's behalf (a delegate of it).")
@click.pass_context
@_friendly
def send(ctx: click.Context, file: Path, officer: str | None, tenant: str | None, source: str | None, bus: str | None, from_tenant: str | None) -> None:
    """Put FILE on the pipeline: a raw telegram (XML), or a manual alert (JSON) under an officer."""
    from broadcaster.pipeline.ingest import submit
    from broadcaster.pipeline.tenancy import delegation_for
    from broadcaster.sources import raw_from_file

    settings = _settings(ctx, **_bus_db(bus, None))
    delegation = delegation_for(settings.tenants, tenant, officer, from_tenant)
    who = delegation.officer if delegation else officer
    raw = raw_from_file(file, officer=who, tenant=tenant, source=source, known_tenants=settings.tenants)

    async def go() -> None:
        b, ledger = await _open(settings)
        try:
            await submit(b, raw, ledger)
            if delegation is not None:
                await ledger.audit(**delegation.audit_entry("delegated_send", raw.id, "cli"))
        finally:
            await ledger.close()
            await b.close()

    _run(go())
    click.echo(f"accepted {file.name} as raw event {raw.id} (source {raw.source}, by {raw.submitted_by})")


@main.command()
@click.argument("alert_id")
@click.option("--tenant", required=True)
@click.option("--officer", required=True, help="The approving officer (not the author).")
@click.option("--from-tenant", help="The officer's own municipality, approving on --tenant's behalf.")
@click.pass_context
@_friendly
def approve(ctx: click.Context, alert_id: str, tenant: str, officer: str, from_tenant: str | None) -> None:
    """Approve a held alert (two-person rule): it goes to every channel at once."""
    from broadcaster.pipeline.approval import approve as do_approve
    from broadcaster.pipeline.tenancy import delegation_for

    settings = _settings(ctx)
    delegation = delegation_for(settings.tenants, tenant, officer, from_tenant)
    who = delegation.officer if delegation else f"officer:{tenant}/{officer}"

    async def go() -> int:
        bus, ledger = await _open(settings)
        try:
            n = await do_approve(bus, ledger, tenant, alert_id, who)
            if delegation is not None:
                await ledger.audit(**delegation.audit_entry("delegated_approve", alert_id, "cli"))
            return n
        finally:
            await ledger.close()
            await bus.close()

    click.echo(f"approved: {_run(go())} dispatches released")


@main.command()
@click.argument("alert_id")
@click.option("--tenant", required=True)
@click.option("--officer", required=True, help="Who asks (recorded in the audit log).")
@click.option("--channel", help="Only this channel.")
@click.option("--dispatch", "key", help="Only this dispatch (its idempotency key, from `status --json`).")
@click.pass_context
@_friendly
def republish(ctx: click.Context, alert_id: str, tenant: str, officer: str, channel: str | None, key: str | None) -> None:
    """Send an alert's dead or failed dispatches again (after a provider recovered)."""
    from broadcaster.pipeline.republish import republish as do_republish

    settings = _settings(ctx)

    async def go() -> int:
        bus, ledger = await _open(settings)
        try:
            return await do_republish(
                bus, ledger, tenant, alert_id, actor=f"officer:{tenant}/{officer}", channel=channel, key=key
            )
        finally:
            await ledger.close()
            await bus.close()

    n = _run(go())
    click.echo(f"republished {n} dispatch(es)" if n else "nothing to republish: no dead or failed dispatch matches")


@main.command()
@click.argument("alert_id", required=False)
@click.option("--tenant")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@_friendly
def status(ctx: click.Context, alert_id: str | None, tenant: str | None, as_json: bool) -> None:
    """Per-channel delivery table (sent, accepted, failed, latency) and the quarantine."""
    from broadcaster.status import collect_status, render_status

    settings = _settings(ctx)

    async def go() -> dict[str, Any]:
        bus, ledger = await _open(settings)
        try:
            return await collect_status(settings, bus, ledger, alert_id=alert_id, tenant=tenant)
        finally:
            await ledger.close()
            await bus.close()

    data = _run(go())
    click.echo(json.dumps(data, ensure_ascii=False, indent=1, default=str) if as_json else render_status(data))


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_friendly
def parse(files: tuple[Path, ...]) -> None:
    """Print each file's normalized Alerts as JSON lines with CAP field names (or why not)."""
    from broadcaster.pipeline.normalize import Refused
    from broadcaster.pipeline.normalize import parse as do_parse
    from broadcaster.pipeline.runner import load_parsers
    from broadcaster.sources import raw_from_file

    configure("WARNING")
    parsers = load_parsers()
    failed = 0
    for path in files:
        raw = raw_from_file(path, officer="officer:cli/parse", tenant="-", source=None, known_tenants=None)
        result = do_parse(raw, parsers)
        if isinstance(result, Refused):
            failed += 1
            click.echo(json.dumps({"file": str(path), "refused": result.reason, "detail": result.detail}, ensure_ascii=False))
            continue
        for alert in result:
            click.echo(alert.model_dump_json(by_alias=True, exclude_none=True))
    if failed:
        sys.exit(1)


@main.command()
@click.option("--serve", is_flag=True, help="Keep running after the demo (Ctrl-C stops).")
@click.option("--dir", "workdir", type=click.Path(file_okay=False, path_type=Path), default=Path("var/demo"),
              show_default=True, help="Where the demo keeps its bus, ledger and outbox (emptied first).")
def demo(serve: bool, workdir: Path) -> None:
    """Run the offline demo: sample telegrams and a manual alert through every channel."""
    from broadcaster.demo import prepare, run_demo

    # The demo tells its own story; the log would only interleave with it.
    configure("ERROR")
    sys.exit(_run(run_demo(prepare(workdir), serve=serve)))


def _register() -> None:
    from broadcaster.cli_access import audit, tokens, users
    from broadcaster.cli_audiences import audiences
    from broadcaster.cli_rules import rules

    for group in (users, tokens, audit, audiences, rules):
        main.add_command(group)


def _register_privacy() -> None:
    # `privacy keygen|status|rekey` and `retention run` (docs/privacy.md).
    from broadcaster.cli_privacy import privacy, retention

    main.add_command(privacy)
    main.add_command(retention)


def _register_bridge() -> None:
    # Runs on the J-Alert receiver's side (LGWAN), apart from everything else here.
    from adapters.ingest.jalert.bridge.command import jalert_bridge

    main.add_command(jalert_bridge)


def _register_render() -> None:
    # `preview FILE` and `phrases export|import|status` (broadcaster/render/commands.py).
    from broadcaster.render.commands import phrases_group, preview_command

    main.add_command(preview_command)
    main.add_command(phrases_group)


def _register_push() -> None:
    # `vapid generate|public-key`: the town app's Web Push keys (docs/push.md).
    from adapters.outbound.app_push.cli import vapid

    main.add_command(vapid)


def _register_stats() -> None:
    # `stats fetch|show`: providers' delivery statistics per alert (broadcaster/cli_stats.py).
    from broadcaster.cli_stats import stats

    main.add_command(stats)


def _register_line() -> None:
    # `line richmenu` and `leaders link-code`: the LINE webhook's commands (broadcaster/cli_line.py).
    from broadcaster.cli_line import leaders_group, line_group

    main.add_command(line_group)
    main.add_command(leaders_group)


_register()
_register_stats()
_register_privacy()
_register_bridge()
_register_line()
_register_push()
_register_render()

if __name__ == "__main__":
    main()
