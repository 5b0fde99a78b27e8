"""An aiohttp session whose connections to an API's host go where the settings say.

tweepy's async client builds its URLs on ``https://api.twitter.com`` and takes the session to
send them with; that session is the seam to reach another endpoint (the fake API on loopback in
tests, a relay in a locked-down network) without touching the library: the connector resolves the
API's host name to the configured address, and TLS is checked against the API's own name, with
an extra CA when one is configured.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL


class _Redirect(AbstractResolver):
    def __init__(self, host: str, target_host: str, target_port: int) -> None:
        self._host = host
        self._target = (target_host, target_port)
        self._default = aiohttp.DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host != self._host:
            return await self._default.resolve(host, port, family)
        target_host, target_port = self._target
        infos = await self._default.resolve(target_host, target_port, family)
        return [{**info, "hostname": host} for info in infos]

    async def close(self) -> None:
        await self._default.close()


class ApiSession:
    """A session for requests to `api` (a base URL), connecting to `connect_to` when given."""

    def __init__(
        self, api: str, *, connect_to: str | None = None, ca_file: Path | None = None, timeout: float = 10.0
    ) -> None:
        context = ssl.create_default_context()
        if ca_file is not None:
            context.load_verify_locations(cafile=str(ca_file))
        self._resolver: _Redirect | None = None
        if connect_to is not None:
            target = URL(connect_to)
            host = URL(api).host
            if host is None or target.host is None:
                raise ValueError(f"cannot connect {api} to {connect_to}")
            self._resolver = _Redirect(host, target.host, target.port or 443)
        connector = aiohttp.TCPConnector(ssl=context, resolver=self._resolver)
        self.session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)
        )

    async def close(self) -> None:
        await self.session.close()
        # The connector closes only a resolver it made itself.
        if self._resolver is not None:
            await self._resolver.close()
