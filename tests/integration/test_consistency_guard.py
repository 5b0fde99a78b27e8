"""The consistency guard in the running pipeline: each medium is made wrong in turn (a stale page,
an L-Alert document not sent, a cancel that reached LINE but not X, a page that says something
else) and the guard must raise its alarm, with the facts side by side; media that agree raise
none. Detection times are recorded as test properties (docs/consistency.md)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from broadcaster.pipeline.two_person import DEFAULT_CANCEL_TEXTS, cancel_texts_for
from broadcaster.store import consistency, reports
from broadcaster.store.consistency import Alarm
from tests.fakes.lalert import FakeLAlert
from tests.fakes.line import FakeLine
from tests.fakes.x import FakeX
from tests.helpers import Running, eventually, make_settings, manual, running_pipeline

RULES = """
rules:
  - name: town's own
    match: {origin: manual}
    channels: [website, line, x, lalert_out]
  - name: default
    default: true
    channels: [website]
"""
LAG_S = 1.5
LINE_TOKEN = "line-token"
NOTICE = {
    "kind": "shelter",
    "event": "避難所開設",
    "headline": "川島地区の避難所を開設しました",
    "description": "川島公民館を避難所として開設しました。",
    "districts": ["kawashima"],
}


@dataclass
class Media:
    run: Running
    line: FakeLine
    x: FakeX
    lalert: FakeLAlert
    site: Path


@asynccontextmanager
async def media(tmp: Path) -> AsyncIterator[Media]:
    rules = tmp / "rules" / "_default"
    rules.mkdir(parents=True)
    (rules / "10.yaml").write_text(RULES, encoding="utf-8")
    async with (
        FakeLine(token=LINE_TOKEN) as line,
        FakeX(tmp) as x,
        FakeLAlert(token="lalert-token") as lalert,
    ):
        assert x.ca is not None
        off = {"enabled": False}
        settings = make_settings(
            tmp,
            rules_dir=tmp / "rules",
            guard={"lag_s": LAG_S, "interval_s": 0.2},
            channels={
                "website": {"mode": "live"},
                "line": {"credentials": {"token": LINE_TOKEN}, "options": {"base_url": line.url}},
                "x": {
                    "credentials": x.credentials.as_dict(),
                    "options": {"connect_to": x.url, "ca_file": str(x.ca.ca_file)},
                    "max_attempts": 1,
                },
                "lalert_out": {
                    "credentials": {"token": "lalert-token"},
                    "options": {
                        "endpoint": lalert.url,
                        "publisher": {
                            "organization_code": "174611",
                            "office_name": "総務課",
                            "domain": "town.anamizu.lg.jp",
                        },
                    },
                    "max_attempts": 1,
                },
                **{
                    c: off for c in ("app_push", "mastodon", "bluesky", "email", "circular", "webhook", "fcm")
                },
            },
        )
        async with running_pipeline(settings) as run:
            yield Media(run, line, x, lalert, tmp / "site" / "anamizu")


async def _settled(m: Media, identifier: str) -> bool:
    rows = await reports.channel_table(m.run.ledger, tenant="anamizu", alert_id=identifier)
    return bool(rows) and all(r.waiting == 0 for r in rows)


async def _send(m: Media, **fields: Any) -> str:
    before = {a["identifier"] for a in await reports.alerts(m.run.ledger, tenant="anamizu")}
    await m.run.submit(manual(status="Actual", **{**NOTICE, **fields}))

    async def new() -> str | None:
        now_ = {a["identifier"] for a in await reports.alerts(m.run.ledger, tenant="anamizu")}
        # Only the officer's own message: a dead dispatch also brings a System alert to the officers.
        fresh = [i for i in now_ - before if i.startswith("m-")]
        return fresh[0] if fresh else None

    identifier: str = await eventually(new)
    await eventually(lambda: _settled(m, identifier))
    return identifier


async def _cancel(m: Media, reference: str) -> str:
    """The town's own cancel in the pre-approved 'sent in error' words: one officer may send it."""
    original = await m.run.ledger.alert("anamizu", reference)
    assert original is not None
    headline, description = cancel_texts_for(original, DEFAULT_CANCEL_TEXTS[0])["ja"]
    return await _send(
        m, msgType="Cancel", references=[reference], headline=headline, description=description
    )


async def _states(m: Media, event_key: str) -> dict[str, consistency.MediumState]:
    return {s.surface: s for s in await consistency.states_of(m.run.ledger.db, "anamizu", event_key)}


async def _event_of(m: Media, identifier: str) -> str:
    alert = await m.run.ledger.alert("anamizu", identifier)
    assert alert is not None
    return alert.event_key


async def _alarms(m: Media, surface: str) -> list[Alarm]:
    return [a for a in await consistency.alarms(m.run.ledger.db, "anamizu") if a.surface == surface]


ALL_SURFACES = {"website", "app_api", "banner", "cap_feed", "line", "x", "lalert_out"}


async def test_media_that_agree_raise_nothing_through_an_update_and_a_cancel(tmp_path: Path) -> None:
    async with media(tmp_path) as m:
        first = await _send(m)
        event_key = await _event_of(m, first)

        async def all_fine(expected: str) -> dict[str, consistency.MediumState] | None:
            states = await _states(m, event_key)
            ok = set(states) == ALL_SURFACES and all(
                s.problem is None and s.expected_id == expected for s in states.values()
            )
            return states if ok else None

        states = await eventually(lambda: all_fine(first))
        assert states["website"].source == "medium" and states["line"].source == "provider"
        assert states["app_api"].carried_id == first and states["lalert_out"].carried_id == first
        assert states["website"].facts["carried"]["kind"] == "shelter"

        update = await _send(
            m, msgType="Update", references=[first], headline="川島公民館に加え大町の集会所を開設"
        )
        await eventually(lambda: all_fine(update))
        cancel = await _cancel(m, update)
        states = await eventually(lambda: all_fine(cancel))
        # A cancel leaves the lists: the banner and the app show nothing of the event.
        assert states["banner"].carried_id is None and states["app_api"].carried_id is None
        assert states["cap_feed"].carried_id == cancel
        assert await consistency.alarms(m.run.ledger.db, "anamizu") == []


def _detected(record_property: pytest.RecordProperty, name: str, broken_at: float, alarm: Alarm) -> float:
    seconds = time.time() - broken_at
    record_property(f"detection_s_{name}", round(seconds, 2))
    print(f"guard detection {name}: {seconds:.2f} s (lag {LAG_S} s, interval 0.2 s)")
    return seconds


async def test_a_stale_page_is_an_alarm_on_every_surface_of_the_site(
    tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    async with media(tmp_path) as m:
        first = await _send(m)
        update = await _send(m, msgType="Update", references=[first], headline="避難所を追加しました")
        event_key = await _event_of(m, first)
        await eventually(lambda: _states(m, event_key))
        # Someone restores the previous release by hand: the site shows the original again.
        current = m.site / "current"
        target = os.readlink(current)
        number = int(Path(target).name)
        broken_at = time.time()
        tmp_link = m.site / "current.tmp"
        os.symlink(str(Path(target).with_name(f"{number - 1:010d}")), tmp_link)
        os.replace(tmp_link, current)

        async def raised() -> list[Alarm] | None:
            found = {a.surface: a for a in await consistency.alarms(m.run.ledger.db, "anamizu")}
            return (
                list(found.values()) if {"website", "app_api", "banner", "cap_feed"} <= set(found) else None
            )

        alarms = {a.surface: a for a in await eventually(raised, timeout=20)}
        _detected(record_property, "stale_website", broken_at, alarms["website"])
        page = alarms["website"]
        assert (page.problem, page.expected_id, page.carried_id) == ("stale", update, first)
        assert page.facts["expected"]["msg_type"] == "Update" and page.facts["carried"]["msg_type"] == "Alert"
        assert {"line", "x", "lalert_out"}.isdisjoint(a.surface for a in alarms.values())

        # The release comes back: the alarms clear by themselves.
        os.symlink(target, tmp_link)
        os.replace(tmp_link, current)

        async def cleared() -> bool:
            return not await consistency.alarms(m.run.ledger.db, "anamizu")

        await eventually(cleared, timeout=20)


async def test_an_lalert_document_not_sent_is_an_alarm_once_the_others_are_lag_ahead(
    tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    async with media(tmp_path) as m:
        first = await _send(m)
        m.lalert.fail_next(400)
        broken_at = time.time()
        update = await _send(m, msgType="Update", references=[first], headline="避難所を追加しました")

        async def raised() -> list[Alarm]:
            return await _alarms(m, "lalert_out")

        (alarm,) = await eventually(raised, timeout=20)
        seconds = _detected(record_property, "lalert_not_sent", broken_at, alarm)
        assert seconds >= LAG_S, "a medium is given guard.lag_s before it counts as stale"
        assert (alarm.problem, alarm.expected_id, alarm.carried_id) == ("stale", update, first)
        assert alarm.detection_s is not None and alarm.detection_s >= LAG_S
        assert not await _alarms(m, "website") and not await _alarms(m, "line")


async def test_a_cancel_that_reached_line_but_not_x_is_an_alarm_on_x_only(
    tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    async with media(tmp_path) as m:
        first = await _send(m)
        m.x.fail_next(403, "forbidden")
        broken_at = time.time()
        cancel = await _cancel(m, first)

        async def raised() -> list[Alarm]:
            return await _alarms(m, "x")

        (alarm,) = await eventually(raised, timeout=20)
        _detected(record_property, "cancel_not_on_x", broken_at, alarm)
        assert (alarm.expected_id, alarm.carried_id) == (cancel, first)
        assert (
            alarm.facts["expected"]["msg_type"] == "Cancel" and alarm.facts["carried"]["msg_type"] == "Alert"
        )
        states = await _states(m, await _event_of(m, first))
        assert states["line"].problem is None and states["line"].carried_id == cancel


async def test_a_page_that_says_something_else_is_an_alarm_at_once(
    tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    async with media(tmp_path) as m:
        first = await _send(m)
        current = (m.site / "current").resolve()
        page = next((current / "alerts").glob("*.json"))
        data = json.loads(page.read_text(encoding="utf-8"))
        data["alert"]["status"] = "Exercise"
        broken_at = time.time()
        fresh = page.with_suffix(".new")
        fresh.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        os.replace(fresh, page)

        async def raised() -> list[Alarm]:
            return await _alarms(m, "website")

        (alarm,) = await eventually(raised, timeout=20)
        seconds = _detected(record_property, "page_differs", broken_at, alarm)
        assert seconds < LAG_S + 1.0
        assert alarm.problem == "differs" and alarm.carried_id == first
        assert alarm.facts["differences"] == ["status"]
        assert (alarm.facts["expected"]["status"], alarm.facts["carried"]["status"]) == ("Actual", "Exercise")


async def test_the_console_shows_the_facts_side_by_side_and_one_click_republishes_that_medium(
    tmp_path: Path,
) -> None:
    from tests.web_helpers import client, web_env

    rules = tmp_path / "rules" / "_default"
    rules.mkdir(parents=True)
    (rules / "10.yaml").write_text(
        RULES.replace("[website, line, x, lalert_out]", "[website, x]"), encoding="utf-8"
    )
    async with FakeX(tmp_path) as x:
        assert x.ca is not None
        off = {"enabled": False}
        channels = {
            "website": {"mode": "live"},
            "x": {
                "credentials": x.credentials.as_dict(),
                "options": {"connect_to": x.url, "ca_file": str(x.ca.ca_file)},
                "max_attempts": 1,
            },
            **{
                c: off
                for c in (
                    "app_push",
                    "line",
                    "mastodon",
                    "bluesky",
                    "email",
                    "circular",
                    "webhook",
                    "fcm",
                    "lalert_out",
                )
            },
        }
        async with (
            web_env(
                tmp_path,
                rules_dir=tmp_path / "rules",
                guard={"lag_s": LAG_S, "interval_s": 0.2},
                channels=channels,
            ) as env,
            running_pipeline(env.settings, bus=env.bus) as run,
        ):
            m = Media(run, FakeLine(), x, FakeLAlert(), tmp_path / "site" / "anamizu")
            first = await _send(m)
            x.fail_next(403, "forbidden")
            cancel = await _cancel(m, first)
            (alarm,) = await eventually(lambda: _alarms(m, "x"), timeout=20)
            async with client() as http:
                csrf = await env.login(http, "tanaka")
                async with http.get(f"{env.base}/t/anamizu/") as r:
                    assert "consistency-banner" in await r.text()
                async with http.get(f"{env.base}/t/anamizu/consistency") as r:
                    page = await r.text()
                    assert r.status == 200, page[:500]
                assert 'data-surface="x"' in page and cancel in page and first in page
                assert "<td>Cancel</td>" in page and "<td>Alert</td>" in page, "msg_type side by side"
                assert 'class="media-states"' in page and 'data-surface="banner"' in page
                # The operator republishes X alone.
                async with http.post(
                    f"{env.base}/t/anamizu/consistency/{alarm.id}/republish",
                    data={"csrf": csrf},
                    allow_redirects=False,
                ) as r:
                    assert r.status == 303, await r.text()

            async def on_x() -> bool:
                rows = await reports.channel_table(m.run.ledger, tenant="anamizu", alert_id=cancel)
                return any(r.channel == "x" and r.accepted == 1 for r in rows)

            await eventually(on_x, timeout=20)

            async def cleared() -> bool:
                return not await consistency.alarms(m.run.ledger.db, "anamizu")

            await eventually(cleared, timeout=20)
            (done,) = await consistency.alarms(m.run.ledger.db, "anamizu", open_only=False)
            assert (
                done.republished is not None and done.republished_by == "officer:anamizu/tanaka"
            ) or done.republished_by
            audit = await m.run.ledger.verify_audit()
            assert audit[1] == []
