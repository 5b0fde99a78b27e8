"""Opening a pooled connection to a provider before the first request needs it (the warm-up).

aiohttp's connector opens a connection (TCP, TLS) for a request and keeps it for the next one to
the same origin. `open_connection` takes one from the connector exactly as a request would, opens
it when the pool has none, and hands it straight back, so that the next request finds it open; a
connection already pooled is only handed back, which also restarts the client's own keep-alive
clock (15 s by default in aiohttp). No HTTP request is sent: the provider sees a connection and
nothing on it, and its own idle timeout closes it as it would after any request.

requests (Mastodon.py's client) pools with urllib3; `open_urllib3_connection` does the same there,
on a worker thread.
"""

from __future__ import annotations

import asyncio
import ssl as _ssl
from typing import Any

import aiohttp
from aiohttp.client_reqrep import ClientRequest
from yarl import URL


async def open_connection(
    session: aiohttp.ClientSession,
    url: str,
    *,
    ssl: _ssl.SSLContext | bool = True,
    within: float = 5.0,
    count: int = 1,
) -> None:
    """Leave `count` open connections to `url`'s origin in `session`'s pool (as many as the
    sends run at once: a fan-out of 20 requests takes 20 connections, and found one).

    `ssl` must be what the requests to that origin pass (the pool is keyed by it); True, the
    default, when they pass none; `within` bounds the connecting. Raises what connecting raises (aiohttp.ClientError, OSError,
    TimeoutError)."""
    origin = URL(url).origin()
    loop = asyncio.get_running_loop()
    limit = aiohttp.ClientTimeout(total=within, connect=within, sock_connect=within)
    connector = session.connector
    assert connector is not None
    held: list[Any] = []

    async def one() -> None:
        request = ClientRequest("GET", origin, loop=loop, ssl=ssl, session=session)
        held.append(await connector.connect(request, [], limit))

    try:
        async with asyncio.timeout(within):
            # All held at once, so that each is another connection and not the same one again.
            await asyncio.gather(*(one() for _ in range(max(1, count))))
    finally:
        # Back into the pool, marked idle from now (those opened before a failure too).
        for connection in held:
            connection.release()


def open_urllib3_connection(session: Any, url: str, *, timeout: float = 5.0) -> None:
    """The same for a requests.Session (blocking: run it on a worker thread)."""
    import requests

    adapter = session.get_adapter(url)
    prepared = requests.Request("GET", url).prepare()
    # What requests itself settles for a request to this URL (the CA bundle from the environment
    # too): the pool is keyed by it, and another key would warm a pool no request uses.
    env = session.merge_environment_settings(url, {}, None, None, None)
    if hasattr(adapter, "get_connection_with_tls_context"):
        pool = adapter.get_connection_with_tls_context(
            prepared, verify=env["verify"], proxies=env["proxies"], cert=env["cert"]
        )
    else:  # requests before 2.32
        pool = adapter.get_connection(url, env["proxies"])
    conn = pool._get_conn(timeout=timeout)
    try:
        if getattr(conn, "sock", None) is None:
            conn.timeout = timeout
            conn.connect()
    except BaseException:
        conn.close()
        pool._put_conn(conn)
        raise
    pool._put_conn(conn)
