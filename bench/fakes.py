"""Every outside service the live channels talk to, faked on loopback in one process of its own.

The latency and throughput benchmarks run each channel live against the fakes of tests/fakes
(LINE, X over TLS, Mastodon, Bluesky, webhook receivers, an SMTP server, a Web Push service), so
that what is measured is the pipeline and the real adapters, with the provider answering at once.
The fakes run in a spawned process, as the providers are other machines: their parsing and
checking must not be counted as the pipeline's (on a 2-core machine they still share the cores).

    with Fleet(folder) as fleet:
        settings = load_settings(..., tenants={"anamizu": {..., "channels": fleet.channels()}})
        ...
        fleet.report()   # requests each fake saw, by status

The website channel has no remote side: it is live (it writes the town's pages into the run's
folder). Channels without a dispatch for the benchmark's alert are left in outbox mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
from collections import Counter
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any, Self

LINE_TOKEN = "bench-line-token"
WEBHOOK_SECRET = "bench-webhook-secret"
# Channels the fleet makes live (website: live without a remote side).
LIVE = ("website", "app_push", "line", "x", "mastodon", "bluesky", "email", "webhook")


def addresses(line: Any, x: Any, mastodon: Any, bluesky: Any, webhook: str, smtp: Any, push: Any) -> dict[str, Any]:
    """What the benchmark's settings need to reach each started fake (`line`: its URL, or one URL
    per town where each town has its own account)."""
    assert x.ca is not None
    return {
        "line": line,
        "x": x.url,
        "x_ca_file": str(x.ca.ca_file),
        "mastodon": mastodon.url,
        "mastodon_token": mastodon.token,
        "bluesky": bluesky.url,
        "bluesky_handle": bluesky.handle,
        "bluesky_password": bluesky.password,
        "webhook": webhook,
        "smtp_port": smtp.port,
        "push": push.base,
    }


def _serve(conn: Connection, folder: str, latency_s: float, vapid_public_key: str) -> None:
    """The fakes in this process: sends their addresses, then answers 'report' and 'stop'."""
    from tests.fakes.bluesky import FakeBluesky
    from tests.fakes.line import FakeLine
    from tests.fakes.mastodon import FakeMastodon
    from tests.fakes.smtp import FakeSMTP
    from tests.fakes.webhook import FakeReceivers
    from tests.fakes.webpush import FakePushService
    from tests.fakes.x import FakeX

    async def serve() -> None:
        # LINE allows a channel 60 broadcasts an hour, and X its posts per 15 minutes: one town's
        # real channel would never carry a benchmark's hundreds of alerts in that time, and a
        # refused one retries for an hour, so the run would wait instead of measuring.
        line = FakeLine(token=LINE_TOKEN, latency=latency_s, hourly_limit=10**9)
        x = FakeX(Path(folder), rate_limit=10**9)
        mastodon = FakeMastodon()
        bluesky = FakeBluesky()
        hooks = FakeReceivers({"cms": WEBHOOK_SECRET})
        smtp = FakeSMTP()
        push = FakePushService(
            latency=latency_s, decrypt=False, accept_unknown=True, vapid_public_key=vapid_public_key
        )
        for fake in (line, x, mastodon, bluesky, hooks, smtp, push):
            await fake.start()
        conn.send(addresses(line.url, x, mastodon, bluesky, hooks.url("cms"), smtp, push))
        loop = asyncio.get_running_loop()
        try:
            while True:
                command = await loop.run_in_executor(None, conn.recv)
                conn.send(
                    {
                        "line": dict(Counter(r.status for r in line.requests)),
                        "x": dict(Counter(r.status for r in x.requests)),
                        "mastodon": dict(Counter(r.status for r in mastodon.requests)),
                        "bluesky": dict(Counter(r.status for r in bluesky.requests)),
                        "webhook": dict(Counter(s.status for s in hooks.seen)),
                        "email": {"messages": len(smtp.arrived), "recipients": len(smtp.delivered_to())},
                        "app_push": dict(Counter(p.status for p in push.received)),
                    }
                )
                if command == "stop":
                    return
        finally:
            for fake in (line, x, mastodon, bluesky, hooks, smtp, push):
                await fake.close()

    asyncio.run(serve())


class Fleet:
    """The fakes' process, and the channel settings that point the live adapters at it."""

    def __init__(self, folder: Path, *, latency_s: float = 0.0) -> None:
        from adapters.outbound.app_push.vapid import generate

        self.folder = folder
        self.latency_s = latency_s
        self.vapid_private, self.vapid_public = generate()
        self.urls: dict[str, Any] = {}
        self._conn: Connection | None = None
        self._proc: Any = None

    def start(self) -> None:
        self._spawn(_serve, str(self.folder), self.latency_s, self.vapid_public)

    def _spawn(self, serve: Callable[..., None], *args: Any) -> None:
        """`serve(conn, *args)` in a process of its own; waits for the fakes' addresses."""
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=serve, args=(child, *args), daemon=True)
        self._proc.start()
        if not parent.poll(60):
            self._proc.kill()
            raise RuntimeError("the fakes did not start within 60 s")
        self.urls = parent.recv()
        self._conn = parent

    def report(self, command: str = "report") -> dict[str, Any]:
        assert self._conn is not None
        self._conn.send(command)
        answer: dict[str, Any] = self._conn.recv()
        return answer

    def stop(self) -> dict[str, Any] | None:
        seen = None
        if self._conn is not None and self._proc is not None and self._proc.is_alive():
            try:
                seen = self.report("stop")
            except (EOFError, OSError):
                seen = None
        if self._proc is not None:
            self._proc.join(timeout=10)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join()
        self._conn = None
        return seen

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def channels(self, *, timeout_s: float = 30.0) -> dict[str, Any]:
        """A tenant's channel settings: every channel in LIVE against its fake."""
        u = self.urls
        return {
            "website": {"mode": "live"},
            "line": {
                "mode": "live",
                "credentials": {"token": LINE_TOKEN},
                "options": {"base_url": u["line"]},
                "timeout_s": timeout_s,
            },
            "x": {
                "mode": "live",
                "credentials": {
                    "consumer_key": "ck-anamizu",
                    "consumer_secret": "cs-anamizu",
                    "access_token": "at-anamizu",
                    "access_token_secret": "ats-anamizu",
                },
                "options": {"connect_to": u["x"], "ca_file": u["x_ca_file"]},
                "timeout_s": timeout_s,
            },
            "mastodon": {
                "mode": "live",
                "credentials": {"access_token": u["mastodon_token"]},
                "options": {"base_url": u["mastodon"]},
                "timeout_s": timeout_s,
            },
            "bluesky": {
                "mode": "live",
                "credentials": {"app_password": u["bluesky_password"]},
                "options": {"handle": u["bluesky_handle"], "base_url": u["bluesky"]},
                "timeout_s": timeout_s,
            },
            "webhook": {
                "mode": "live",
                "credentials": {"secret": WEBHOOK_SECRET},
                "options": {"subscribers": [{"name": "cms", "url": u["webhook"]}]},
                "timeout_s": timeout_s,
            },
            "email": {
                "mode": "live",
                "credentials": {"password": "unused"},
                "options": {
                    "host": "127.0.0.1",
                    "port": u["smtp_port"],
                    "security": "none",
                    "login": False,
                    "from_address": "bousai@town.anamizu.example",
                },
                "timeout_s": timeout_s,
            },
            "app_push": {
                "mode": "live",
                "credentials": {"vapid_private_key": self.vapid_private},
                "options": {
                    "subject": "mailto:bench@example.jp",
                    "allowed_hosts": ["127.0.0.1"],
                    "allow_http": True,
                },
                "timeout_s": timeout_s,
            },
        }


def serve_line(conn: Connection, latency_s: float) -> None:
    """The fake LINE API alone in this process (the fan-out benchmarks): sends its URL, then
    answers each 'report' with what it saw and delivered; 'stop' ends it."""
    from tests.fakes.line import FakeLine

    async def serve() -> None:
        async with FakeLine(token=LINE_TOKEN, latency=latency_s) as fake:
            conn.send(fake.url)
            loop = asyncio.get_running_loop()
            while True:
                command = await loop.run_in_executor(None, conn.recv)
                delivered = fake.recipients()
                conn.send(
                    {
                        "requests": len(fake.requests),
                        "statuses": sorted({r.status for r in fake.requests}),
                        "delivered": len(delivered),
                        "distinct": len(set(delivered)),
                        "pushes": sum(1 for r in fake.requests if r.path.endswith("/push")),
                    }
                )
                if command == "stop":
                    return

    asyncio.run(serve())


class LineFake:
    """serve_line in a spawned process: `with LineFake(0.05) as line: line.url; line.report()`."""

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self.url = ""
        self._conn: Connection | None = None
        self._proc: Any = None

    def __enter__(self) -> Self:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=serve_line, args=(child, self.latency_s), daemon=True)
        self._proc.start()
        if not parent.poll(60):
            self._proc.kill()
            raise RuntimeError("the fake LINE API did not start within 60 s")
        self.url = parent.recv()
        self._conn = parent
        return self

    def report(self, command: str = "report") -> dict[str, Any]:
        assert self._conn is not None
        self._conn.send(command)
        answer: dict[str, Any] = self._conn.recv()
        return answer

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._proc is not None and self._proc.is_alive() and self._conn is not None:
            with contextlib.suppress(EOFError, OSError):
                self.report("stop")
        if self._proc is not None:
            self._proc.join(timeout=10)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join()


def serve_push(conn: Connection, latency_s: float, vapid_public_key: str) -> None:
    """The fake push service alone in this process (bench_webpush): sends its URL, then answers
    each command with what it received since the last; 'stop' ends it."""
    from tests.fakes.webpush import FakePushService

    async def serve() -> None:
        async with FakePushService(
            latency=latency_s, decrypt=False, accept_unknown=True, vapid_public_key=vapid_public_key
        ) as fake:
            conn.send(fake.base)
            loop = asyncio.get_running_loop()
            while True:
                command = await loop.run_in_executor(None, conn.recv)
                delivered = Counter(p.name for p in fake.received if p.status == 201)
                conn.send(
                    {
                        "requests": len(fake.received),
                        "delivered": sum(delivered.values()),
                        "distinct": len(delivered),
                        "refused": dict(Counter(p.status for p in fake.received if p.status != 201)),
                    }
                )
                fake.received.clear()
                if command == "stop":
                    return

    asyncio.run(serve())
