"""`broadcaster jalert-bridge`: the folder watcher, the local hook, the mail intake, the forwarder
and the health reporter, together."""

from __future__ import annotations

import asyncio
import contextlib

from adapters.ingest.jalert.bridge.chains import Chains
from adapters.ingest.jalert.bridge.config import BridgeSettings
from adapters.ingest.jalert.bridge.forward import Forwarder
from adapters.ingest.jalert.bridge.health import HealthLog, HealthReporter
from adapters.ingest.jalert.bridge.local import LocalHook
from adapters.ingest.jalert.bridge.mailintake import MailIntake
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
        self.health = HealthLog(settings.spool_dir / "receivers.json", settings.health_receivers())
        self.reporter = HealthReporter(
            self.health,
            endpoint=settings.endpoint,
            key_id=settings.key_id,
            secret=settings.secret_bytes(),
            interval_s=settings.health_interval_s,
            spool_status=self._spool_status,
            session=self.forwarder.session,
            ssl=self.forwarder.ssl_context,
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
                on_spooled=self._file_spooled,
            )
        self.hook: LocalHook | None = None
        if settings.listen_address is not None:
            self.hook = LocalHook(
                self.spool,
                self.forwarder,
                contacts=settings.contacts,
                token=settings.listen_token.get_secret_value() if settings.listen_token else None,
                max_bytes=settings.max_message_bytes,
                health=self.health,
                receiver_of=lambda c: settings.receiver_of_contact(c) if c is not None else settings.file_receiver,
            )
        self.mail: MailIntake | None = None
        if settings.mail_address is not None:
            self.mail = MailIntake(
                settings.receivers,
                self.spool,
                self.health,
                Chains(settings.spool_dir / "chains.json"),
                on_spooled=self.forwarder.wake,
                max_bytes=settings.mail_max_bytes,
                hostname=settings.mail_hostname,
            )
        self.mail_port: int | None = None
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
        if self.mail is not None and self.settings.mail_address is not None:
            host, port = self.settings.mail_address
            self.mail_port = await self.mail.start(host, port)
        self._tasks.append(asyncio.create_task(self.forwarder.run(), name="jalert:forward"))
        self._tasks.append(asyncio.create_task(self.reporter.run(), name="jalert:health"))
        log.info(
            "jalert_bridge_started",
            endpoint=self.settings.endpoint,
            key=self.settings.key_id,
            watch=str(self.settings.watch_dir) if self.settings.watch_dir else None,
            listen=f"{self.settings.listen_address[0]}:{self.port}" if self.settings.listen_address else None,
            mail=f"{self.settings.mail_address[0]}:{self.mail_port}" if self.settings.mail_address else None,
            receivers=list(self.settings.health_receivers()),
            waiting=self.spool.depth(),
        )

    def _file_spooled(self) -> None:
        self.forwarder.wake()
        if self.settings.file_receiver is not None:
            self.health.heard(self.settings.file_receiver, "file")

    def _spool_status(self) -> dict[str, object]:
        oldest = self.spool.oldest()
        return {"queue": self.spool.depth(), "oldest_waiting": oldest.isoformat() if oldest else None}

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
        if self.mail is not None:
            await self.mail.stop()
        await self.reporter.stop()
        await self.forwarder.stop()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=self.settings.timeout_s + 5)
        await self.forwarder.close()
        log.info("jalert_bridge_stopped", waiting=self.spool.depth())
