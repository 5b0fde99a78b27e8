"""The live pages' event streams over real HTTP (broadcaster/web/sse.py): what they say, to whom.

The site's stream (/site/<tenant>/live) and a leader's (/c/<token>/events) say a state and an aware
time, nothing else; a leader's link revoked while the stream is open ends it; an unknown town or a
bad link gets no stream at all.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from broadcaster.circulars import store as cs
from broadcaster.circulars.board import CircularBoard
from broadcaster.model import MsgType
from broadcaster.store.audiences import Audiences
from broadcaster.web.keys import CONTEXT
from tests.browser.test_live_browser import _leader_link
from tests.circular_helpers import LINK_KEY, add_people
from tests.contract.test_circulars_contract import delivery_of, evacuation
from tests.fakes.site import SiteFixture, alert, follow_up, site_delivery
from tests.web_helpers import client, web_env

# Generous for a loaded machine: each read ends as soon as its event arrives.
WAIT = 30.0


async def _event(response: aiohttp.ClientResponse) -> tuple[str, dict[str, str]]:
    """The next event (comments and the retry line skipped)."""
    name, data = "message", ""
    while True:
        line = (await asyncio.wait_for(response.content.readline(), WAIT)).decode().rstrip("\n")
        if line == "":
            if data:
                return name, json.loads(data)
            continue
        if line.startswith(":") or line.startswith("retry:"):
            continue
        field, _, value = line.partition(": ")
        if field == "event":
            name = value
        elif field == "data":
            data = value


def _aware_jst(at: str) -> datetime:
    moment = datetime.fromisoformat(at)
    assert moment.utcoffset() == timedelta(hours=9), f"not an aware JST time: {at}"
    return moment


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[str, SiteFixture]]:
    channels = {"website": {"options": {"site_dir": str(tmp_path / "www" / "{tenant}")}}}
    async with web_env(tmp_path, channels=channels) as e:
        fixture = SiteFixture(tmp_path / "www" / "anamizu", url=f"{e.base}/site/anamizu/")
        try:
            yield e.base, fixture
        finally:
            await fixture.close()


async def test_the_site_stream_names_the_release_and_a_time_and_nothing_else(
    site: tuple[str, SiteFixture],
) -> None:
    base, fixture = site
    adapter = fixture.adapter()
    original = alert("evac-1", districts=("kawashima",))
    await adapter.send(site_delivery(original))
    async with client() as http, http.get(f"{base}/site/anamizu/live") as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/event-stream")
        assert r.headers["Cache-Control"] == "no-store"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        name, hello = await _event(r)
        # The state, a time, and how old the release is (a page older than that fetches itself).
        assert name == "hello" and set(hello) == {"at", "state", "age"}
        _aware_jst(hello["at"])
        assert hello["state"] == fixture.current.name
        assert 0.0 <= float(hello["age"]) < 3600

        await adapter.send(site_delivery(follow_up(original, "evac-1-c", MsgType.CANCEL)))
        name, change = await _event(r)
        assert name == "change" and set(change) == {"at", "state"}
        _aware_jst(change["at"])
        assert change["state"] == fixture.current.name != hello["state"]
        # A town the deployment does not serve has no stream (and no page).
        async with http.get(f"{base}/site/nowhere/live") as unknown:
            assert unknown.status == 404
            assert not unknown.headers["Content-Type"].startswith("text/event-stream")


async def test_a_leader_stream_follows_the_circular_and_ends_when_the_link_is_revoked(tmp_path: Path) -> None:
    async with web_env(tmp_path, circulars={"link_key": LINK_KEY}) as e:
        svc = e.app[CONTEXT].runtime.circulars
        await add_people(Audiences(e.ledger.db))
        board = CircularBoard(svc)
        original = evacuation()
        await svc.ledger.record_alert(original)
        await board.send(delivery_of(original, "leaders:kawashima", ("L-yamada",)))
        link = await _leader_link(svc, original.identifier)
        token = link.rsplit("/c/", 1)[1]
        async with client() as http:
            async with http.get(f"{e.base}/c/{token}x/events") as bad:
                assert bad.status == 404, "a forged link gets the page's refusal, no stream"
            async with http.get(f"{e.base}/c/{token}/events") as r:
                assert r.status == 200
                name, hello = await _event(r)
                assert (name, hello["state"]) == ("hello", "released") and set(hello) == {"at", "state"}
                _aware_jst(hello["at"])
                update = evacuation("m-anamizu-evac-2", MsgType.UPDATE, (original.reference_key,))
                await svc.ledger.record_alert(update)
                await board.send(delivery_of(update, "leaders:kawashima", ("L-yamada",)))
                name, change = await _event(r)
                assert (name, change["state"]) == ("change", "superseded")
                (c,) = [
                    c for c in await cs.circulars_of(svc.db, "anamizu") if c.alert_id == original.identifier
                ]
                (d,) = await cs.deliveries(svc.db, c.id)
                await cs.revoke(
                    svc.db, "anamizu", d.id, "officer:anamizu/tanaka", datetime.now().astimezone()
                )
                name, gone = await _event(r)
                assert name == "gone" and set(gone) == {"at"}
            async with http.get(f"{e.base}/c/{token}/events") as r:
                assert r.status == 410, "the revoked link's reconnect is refused like its page"
