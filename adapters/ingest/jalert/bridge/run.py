"""`broadcaster jalert-bridge`: the folder watcher, the local hook and the forwarder, together."""

from __future__ import annotations

import asyncio
import contextlib

from adapters.ingest.jalert.bridge.config import BridgeSettings
from adapters.ingest.jalert.bridge.forward import Forwarder
from adapters.ingest.jalert.bridge.local import LocalHook
from adapters.ingest.jalert.bridge.spool import Spool
from adapters.ingest.jalert.bridge.watch import FolderWatcher
from broadcaster.logging import get_logger

log = get_logger(__name__)


class Bridge:
    def __init__(self, settings: BridgeSettings) -> None:
        self.settings = settings
        self.spool = Spool(settings.spool_dir)
        self.forwarder = Forwarder(
            self.spool,
            endpoint=settings.endpoint,
            key_id=settings.key_id,
            secret=settings.secret_bytes(),
            timeout_s=settings.timeout_s,
            backoff_s=settings.backoff_s,
            ca_file=str(settings.ca_file) if settings.ca_file else None,
            proxy=settings.proxy,
        )
        self.watcher: FolderWatcher | None = None
        if settings.watch_dir is not None:
            self.watcher = FolderWatcher(
                settings.watch_dir,
                self.spool,
                settle_s=settings.settle_s,
                interval_s=settings.scan_interval_s,
                after=settings.after_spool,
                max_bytes=settings.max_message_bytes,
                on_spooled=self.forwarder.wake,
            )
        self.hook: LocalHook | None = None
        if settings.listen_address is not None:
            self.hook = LocalHook(
                self.spool,
                self.forwarder,
                contacts=settings.contacts,
                token=settings.listen_token.get_secret_value() if settings.listen_token else None,
                max_bytes=settings.max_message_bytes,
            )
        self.port: int | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        if self.watcher is not None:
            if not self.settings.watch_dir or not self.settings.watch_dir.is_dir():
                log.warning("jalert_watch_dir_missing", folder=str(self.settings.watch_dir))
            self._tasks.append(asyncio.create_task(self.watcher.run(), name="jalert:watch"))
        if self.hook is not None and self.settings.listen_address is not None:
            host, port = self.settings.listen_address
            self.port = await self.hook.start(host, port)
        self._tasks.append(asyncio.create_task(self.forwarder.run(), name="jalert:forward"))
        log.info(
            "jalert_bridge_started",
            endpoint=self.settings.endpoint,
            key=self.settings.key_id,
            watch=str(self.settings.watch_dir) if self.settings.watch_dir else None,
            listen=f"{self.settings.listen_address[0]}:{self.port}" if self.settings.listen_address else None,
            waiting=self.spool.depth(),
        )

    async def wait(self) -> None:
        if self._tasks:
            done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]

    async def stop(self) -> None:
        # Inputs first, so nothing is half-taken; then the forwarder after its current try.
        if self.watcher is not None:
            await self.watcher.stop()
        if self.hook is not None:
            await self.hook.stop()
        await self.forwarder.stop()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=self.settings.timeout_s + 5)
        await self.forwarder.close()
        log.info("jalert_bridge_stopped", waiting=self.spool.depth())
