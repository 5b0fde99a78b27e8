"""A TCP relay on loopback that counts the connections it accepts, in front of any fake.

It only copies bytes both ways (TLS passes through untouched), so a client talks to the fake as
before; `accepted` says how many connections the client opened, which is what a warm-up must
have done before the first send (docs/benchmarks.md, *Cold path*).
"""

from __future__ import annotations

import asyncio
import contextlib

from yarl import URL

from tests.fakes.loopback import Started


class CountingRelay(Started):
    def __init__(self, target: str) -> None:
        t = URL(target)
        assert t.host is not None
        self._target = (t.host, t.port or (443 if t.scheme == "https" else 80))
        self._scheme = t.scheme
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"{self._scheme}://127.0.0.1:{self.port}"

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.url

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    dst.close()

        both = asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        task = asyncio.ensure_future(both)
        self._tasks.add(task)  # type: ignore[arg-type]
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            self._server = None
