"""Every process gets its services from the composition root (broadcaster/app.py): one set, shared
by its stages and its web server, each one closed when the process stops (docs/architecture.md,
*Composition root*). Before it, a web server without the pipeline built a second Runtime and
circulars service of its own on first use, and the web kept the LINE service in a loose dict."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from apscheduler.schedulers.base import STATE_STOPPED

from broadcaster.app import Process, open_app, open_runtime, serving
from broadcaster.bus.embedded import EmbeddedBus
from broadcaster.errors import ConfigError
from broadcaster.pipeline.runtime import Runtime, stage_names
from broadcaster.settings import Settings
from broadcaster.store import migrate
from broadcaster.store.audiences import Audiences
from broadcaster.store.db import SqliteDatabase
from broadcaster.store.ledger import Ledger
from broadcaster.store.users import Role, Users
from broadcaster.web.keys import CONTEXT
from broadcaster.web.line_hook import LINE_WEBHOOK
from tests.circular_helpers import LINK_KEY, add_people
from tests.helpers import eventually, make_settings
from tests.web_helpers import free_port


def _settings(tmp: Path) -> Settings:
    port = free_port()
    return make_settings(
        tmp, web={"port": port, "public_url": f"http://127.0.0.1:{port}"}, circulars={"link_key": LINK_KEY}
    )


@asynccontextmanager
async def _stores(settings: Settings) -> AsyncIterator[tuple[EmbeddedBus, Ledger]]:
    ledger = Ledger.connect(settings.db_url)
    await migrate.upgrade(ledger.db)
    await ledger.ensure_tenants((t.id, t.name) for t in settings.tenants.values())
    bus = EmbeddedBus(Path(settings.bus.url.removeprefix("embedded:")), partitions=2, poll_interval=0.05)
    await bus.start()
    try:
        yield bus, ledger
    finally:
        await bus.close()
        await ledger.close()


def _render_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("render")}


async def _assert_closed(rt: Runtime) -> None:
    # The adapters' connections: every adapter the process made is closed and dropped.
    assert rt.adapters._adapters == {}, "the adapter pool was left open"
    # The renderer's thread: shut down (a new render would be refused).
    assert rt.renderer.lane._pool._shutdown, "the renderer's thread was left running"
    # The scheduler client: APScheduler stopped and its job store's engine disposed.
    # (AsyncIOScheduler.shutdown runs as the loop's next callback, hence the wait.)
    client = rt.scheduler._scheduler
    assert client is not None
    await eventually(lambda: client.state == STATE_STOPPED, timeout=10)
    assert rt.scheduler._store.engine.pool.checkedout() == 0
    assert rt.scheduler._task is None or rt.scheduler._task.done()


async def _post_routine_circular(process: Process, token: str) -> None:
    """A circular written through the web API: its release is a job in the scheduler's store,
    added through the circulars service the web was handed."""
    body = {"title": "町内会費", "body": "集金をお願いします。", "districts": ["omachi"], "form": "yesno", "question": "集金は終わりましたか"}
    url = f"http://127.0.0.1:{process.web_port}/api/v1/tenants/anamizu/circulars"
    async with aiohttp.ClientSession() as s, s.post(url, json=body, headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 201, await r.text()


async def test_every_service_of_a_running_process_is_closed_when_it_stops(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    threads_before = _render_threads()
    async with _stores(settings) as (bus, ledger):
        # The bus's own tasks belong to whoever opened it (here, the test), not to the process.
        others = {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}
        token = await Users(ledger.db).create_token("anamizu", "cms", Role.OPERATOR)
        await add_people(Audiences(ledger.db))
        async with open_runtime(settings, bus, ledger) as rt:
            # Every stage of `broadcaster run`, the web server among them, over the one Runtime.
            async with serving(rt, stage_names(settings, web=True)) as process:
                assert process.web_port is not None
                await process.pipeline.ready()
                # The services in use: an adapter made, the renderer's thread started, a job
                # added through the scheduler client.
                rt.adapters.get("anamizu", "website")
                assert await rt.renderer.lane.run(lambda: 42) == 42
                await _post_routine_circular(process, token)
                assert rt.scheduler._scheduler is not None
            # The stages and the web are stopped; the services are still there until the root
            # closes them (a drill or a test may read them in between).
            assert rt.adapters._adapters != {}
        await _assert_closed(rt)
        assert rt.conversation._towns == {}  # type: ignore[attr-defined]
        # Nothing of the process is left running: no task, no renderer thread.
        left = {t for t in asyncio.all_tasks() if t is not asyncio.current_task() and t not in others}
        assert not left, f"tasks left running: {sorted(t.get_name() for t in left)}"
        for thread in _render_threads() - threads_before:
            thread.join(timeout=10)
            assert not thread.is_alive(), "the renderer's thread outlived the process"
        # The web server's port is closed.
        with pytest.raises(aiohttp.ClientConnectionError):
            async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{process.web_port}/healthz"):
                pass


async def test_a_web_only_process_serves_from_the_one_runtime_of_its_root(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    async with _stores(settings) as (bus, ledger):
        token = await Users(ledger.db).create_token("anamizu", "cms", Role.OPERATOR)
        await add_people(Audiences(ledger.db))
        async with open_runtime(settings, bus, ledger) as rt, serving(rt, ["web"]) as process:
            assert process.web is not None
            app = process.web.app
            ctx = app[CONTEXT]
            # The web keeps the root's services, typed: not a Runtime or circulars of its own.
            assert ctx.runtime is rt
            assert app[LINE_WEBHOOK].conversation is rt.conversation
            await _post_routine_circular(process, token)
            # The job went through the root's scheduler client (the one the root closes), not a
            # second client the web made for itself.
            jobs = await rt.scheduler.list_jobs()
            assert any(j["kind"] == "circular.tick" for j in jobs), jobs
            assert rt.circulars.scheduler is rt.scheduler
        await _assert_closed(rt)


def _ledger_closed(ledger: Ledger) -> bool:
    db = ledger.db
    if isinstance(db, SqliteDatabase):
        # Its two engines are disposed on their own threads, then the threads are shut down.
        return bool(db._writer._shutdown and db._reader._shutdown)
    # PostgreSQL: a disposed engine holds no connection, checked out or idle in its pool.
    pool = db.engine.sync_engine.pool  # type: ignore[attr-defined]
    return bool(pool.checkedout() == 0 and pool.checkedin() == 0)


async def test_the_root_owns_the_stores_and_closes_them_after_the_services(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    # The deployment's own ledger, brought to this version beforehand (`broadcaster db upgrade`).
    setup = Ledger.connect(settings.db_url)
    await migrate.upgrade(setup.db)
    await setup.ensure_tenants((t.id, t.name) for t in settings.tenants.values())
    await setup.close()
    others = {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}
    async with open_app(settings) as rt, serving(rt, stage_names(settings, web=True)) as process:
        await process.pipeline.ready()
        # The stores are the root's, in use by the services while the process runs.
        assert isinstance(rt.bus, EmbeddedBus) and rt.bus._started
        token = await Users(rt.ledger.db).create_token("anamizu", "cms", Role.OPERATOR)
        await _post_routine_circular(process, token)
    await _assert_closed(rt)
    # The bus is closed: its tasks are gone and its threads shut down.
    assert isinstance(rt.bus, EmbeddedBus)
    assert not rt.bus._started, "the bus was left open"
    assert rt.bus._writer_pool._shutdown and rt.bus._reader_pool._shutdown
    # The ledger is closed, its engine disposed.
    assert _ledger_closed(rt.ledger), "the ledger was left open"
    left = {t for t in asyncio.all_tasks() if t is not asyncio.current_task() and t not in others}
    assert not left, f"tasks left running: {sorted(t.get_name() for t in left)}"


async def test_the_root_refuses_a_ledger_behind_this_version_and_leaves_nothing_open(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    # A database never upgraded: the one migration rule (broadcaster/store/migrate.py) refuses it
    # before any service is made, and the bus is not opened.
    others = {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}
    with pytest.raises(ConfigError, match="broadcaster db upgrade"):
        async with open_app(settings):
            pytest.fail("a process started on a database behind its code")
    assert not Path(settings.bus.url.removeprefix("embedded:")).exists()
    left = {t for t in asyncio.all_tasks() if t is not asyncio.current_task() and t not in others}
    assert not left, f"tasks left running: {sorted(t.get_name() for t in left)}"
