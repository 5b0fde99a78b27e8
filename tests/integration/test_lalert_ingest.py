"""L-Alert in, end to end through the signed push hook: revisions supersede, a cancel follows exactly.

The town's relay pushes each edition of a commons document; the pipeline must send revision 2
wherever revision 1 went, never send a revision that arrives after its successor, and send the
cancel to exactly the slots (channel, audience, batch) of the original.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import sqlalchemy as sa

from broadcaster.signing import sign
from broadcaster.store import tables as t
from broadcaster.web.app import WebServer, build_app
from broadcaster.web.context import WebContext
from tests.canaries import canary
from tests.helpers import Running, eventually, make_settings, running_pipeline
from tests.web_helpers import free_port

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "lalert"
ORDER = (SAMPLES / "anamizu_evacuation_order.xml").read_bytes()
LIFT = (SAMPLES / "anamizu_evacuation_lift.xml").read_bytes()
SECRET = canary("lalert-hook-key")
FINAL = {"accepted", "superseded", "recorded", "dead"}
Slot = tuple[str, str, int]


def cancel_of(lift: bytes) -> bytes:
    """Revision 3 of the document: its withdrawal (取消)."""
    text = lift.decode("utf-8")
    for old, new in (
        ("<edxlde:distributionType>Update<", "<edxlde:distributionType>Cancel<"),
        ("documentRevision>2<", "documentRevision>3<"),
        ("previousDocumentRevision>1<", "previousDocumentRevision>2<"),
        ("2025-07-10T06:10:00+09:00", "2025-07-10T06:30:00+09:00"),
    ):
        assert old in text, old
        text = text.replace(old, new)
    return text.encode("utf-8")


def in_soap(document: bytes) -> bytes:
    inner = document.decode("utf-8").split("?>", 1)[1] if document.startswith(b"<?xml") else document.decode("utf-8")
    return (
        '<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        '<soap:Body><pcsoap:publish xmlns:pcsoap="http://soap.publiccommons.ne.jp/"><pcsoap:message>'
        f"{inner}</pcsoap:message></pcsoap:publish></soap:Body></soap:Envelope>"
    ).encode()


@asynccontextmanager
async def pipeline_with_hook(tmp: Path) -> AsyncIterator[tuple[Running, str]]:
    port = free_port()
    settings = make_settings(
        tmp,
        web={"port": port, "public_url": f"http://127.0.0.1:{port}"},
        hooks={"lalert": {"keys": {"anamizu-relay": {"secret": SECRET, "tenant": "anamizu"}}}},
    )
    async with running_pipeline(settings) as run:
        await run.runtime.audiences.add("anamizu", name="区長", kind="leader", districts=["kawashima"], endpoints={"circular": "leader-1"})
        await run.runtime.audiences.add("anamizu", districts=["omachi"], endpoints={"email": "r@example.jp", "line": "U" + "0" * 32})
        server = WebServer(build_app(WebContext.build(run.runtime)), "127.0.0.1", port)
        await server.start()
        try:
            yield run, f"http://127.0.0.1:{port}/ingest/lalert/anamizu"
        finally:
            await server.stop()


async def push(url: str, body: bytes) -> None:
    headers = sign(SECRET.encode(), "anamizu-relay", "POST", "/ingest/lalert/anamizu", body, timestamp=int(time.time()))
    async with aiohttp.ClientSession() as s, s.post(url, data=body, headers={**headers, "Content-Type": "text/xml"}) as r:
        assert r.status == 202, await r.text()


async def slots(run: Running, revision: int) -> dict[Slot, str]:
    d = t.dispatches
    rows = await run.ledger.db.read(
        lambda c: c.execute(sa.select(d.c.alert_id, d.c.channel, d.c.audience, d.c.batch, d.c.state).where(d.c.tenant == "anamizu")).all()
    )
    return {(r.channel, r.audience, r.batch): r.state for r in rows if r.alert_id.endswith(f"-r{revision}")}


async def settled(run: Running, revision: int) -> dict[Slot, str]:
    got = await slots(run, revision)
    return got if got and set(got.values()) <= FINAL else {}


async def test_revisions_supersede_and_the_cancel_goes_exactly_where_the_order_went(tmp_path: Path) -> None:
    async with pipeline_with_hook(tmp_path) as (run, url):
        await push(url, ORDER)
        first = await eventually(lambda: settled(run, 1))
        assert set(first.values()) == {"accepted"}, "the order went out without waiting for approval"
        assert {"website", "line", "email", "circular"} <= {ch for ch, _, _ in first}
        await push(url, in_soap(LIFT))
        second = await eventually(lambda: settled(run, 2))
        assert set(first) <= set(second), "revision 2 reaches every slot revision 1 reached"
        assert all(second[s] == "accepted" for s in first)
        await push(url, cancel_of(LIFT))
        third = await eventually(lambda: settled(run, 3))
        assert set(third) == set(second), "the cancel follows the event's slots exactly"
        lifted = [r for r in run.outbox("anamizu", "website") if r["alert"].endswith("-r3")]
        assert [r["msg_type"] for r in lifted] == ["Cancel"]


async def test_a_revision_arriving_after_its_successor_is_never_sent(tmp_path: Path) -> None:
    async with pipeline_with_hook(tmp_path) as (run, url):
        await push(url, LIFT)
        second = await eventually(lambda: settled(run, 2))
        await push(url, in_soap(ORDER))
        first = await eventually(lambda: settled(run, 1))
        both = set(first) & set(second)
        assert both and all(first[s] == "superseded" for s in both), first
        assert not [r for r in run.outbox("anamizu", "website") if r["alert"].endswith("-r1")]
