"""What every fake remote service shares: an aiohttp app on a free loopback port."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from aiohttp import web


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    """Start `app` on 127.0.0.1 and a port the system chose; returns the runner and base URL."""
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


class Started:
    """`async with` over start() and close(), for anything a test starts on loopback."""

    async def start(self) -> str:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class Served(Started):
    """start() / close() / `async with` for a fake; a subclass builds its app in start()."""

    _runner: web.AppRunner | None = None
    url: str = ""

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
