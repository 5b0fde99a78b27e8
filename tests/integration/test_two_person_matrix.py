"""The two-person rule walked through every way in: console, REST API, CLI and scheduler ×
message kinds and msgTypes × who sends and who approves (docs/approval.md).

The expected outcome of each case is written here from the rule as the docs state it, not
computed by the code under test. The town's rules hold nothing, so every hold is the rule in code.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from broadcaster.model import Kind, now
from broadcaster.pipeline import scheduled_sends
from broadcaster.pipeline.two_person import DEFAULT_CANCEL_TEXTS
from broadcaster.store import reports
from broadcaster.web.console import compose as c
from tests.helpers import ROOT, eventually
from tests.integration.test_two_person_doors import Doors, doors
from tests.web_helpers import client

# What the docs name as life-safety kinds (docs/approval.md); evacuation without a level.
LIFE_SAFETY = {"missile", "eew", "tsunami", "special_warning", "evacuation"}
MISTAKE = next(t for t in DEFAULT_CANCEL_TEXTS if t.sent_in_error)


@dataclass(frozen=True)
class Case:
    name: str
    doc: dict[str, Any]
    held: bool


def _doc(tag: str, **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "tenant": "anamizu",
        "status": "Actual",
        "msgType": "Alert",
        "kind": "notice",
        "event": "お知らせ",
        "headline": f"町からの連絡 {tag}",
        "description": "",
    }
    doc.update(fields)
    return doc


def _error_cancel(tag: str, original: str, original_headline: str) -> dict[str, Any]:
    # Exactly the pre-approved words, as the console writes them (docs/approval.md).
    return _doc(
        tag,
        msgType="Cancel",
        references=[original],
        headline=f"取消：{original_headline}",
        description=MISTAKE.ja,
        translations={"en": {"headline": "Cancelled: お知らせ", "description": MISTAKE.en}},
    )


def cases(door: str, order: str, notice: str, notice_headline: str, kinds: list[str]) -> list[Case]:
    out = [Case(f"{door}-alert-{k}", _doc(f"{door}-{k}", kind=k), k in LIFE_SAFETY) for k in kinds]
    out += [
        Case(f"{door}-notice-extreme", _doc(f"{door}-x", severity="Extreme"), True),
        Case(
            f"{door}-notice-level5",
            _doc(f"{door}-l5", headline=f"【警戒レベル５】緊急安全確保 {door}-l5"),
            True,
        ),
        Case(
            f"{door}-notice-missile-words", _doc(f"{door}-mw", description="ミサイルが発射されました"), True
        ),
        Case(f"{door}-update-of-order", _doc(f"{door}-uo", msgType="Update", references=[order]), True),
        Case(f"{door}-update-of-notice", _doc(f"{door}-un", msgType="Update", references=[notice]), False),
        Case(
            f"{door}-cancel-other-words",
            _doc(f"{door}-co", msgType="Cancel", references=[notice], description="取り消します"),
            True,
        ),
    ]
    return out


async def _sent_alert(d: Doors, headline: str) -> str:
    """The identifier of the alert with this headline (a scheduled send's is made when it fires)."""

    async def find() -> str | None:
        rows = await reports.alerts(d.run.ledger, tenant="anamizu", limit=500)
        return next((r["identifier"] for r in rows if r["headline"] == headline), None)

    return str(await eventually(find))


async def _console_send(d: Doors, session: Any, csrf: str, doc: dict[str, Any]) -> str:
    form = {
        "csrf": csrf,
        "doc": json.dumps(doc, ensure_ascii=False),
        "signature": c.digest(doc, csrf.encode()),
        "confirm_actual": "yes",
        "confirm_warnings": "yes",  # the preview's text checks, seen
    }
    async with session.post(f"{d.base}/t/anamizu/compose/send", data=form, allow_redirects=False) as r:
        assert r.status == 303, await r.text()
        return str(r.headers["Location"].rsplit("/", 1)[1])


def _cli_config(tmp: Path, d: Doors) -> Path:
    s = d.run.settings
    path = tmp / "cli.toml"
    path.write_text(
        f'var_dir = "{tmp}"\n'
        f'db_url = "{s.db_url}"\n'
        f'outbox_dir = "{s.outbox_dir}"\n'
        f'rules_dir = "{s.rules_dir}"\n'
        "[web]\nport = 0\n"
        f'[bus]\nurl = "{s.bus.url}"\npartitions = {s.bus.partitions}\npoll_interval_s = 0.05\n'
        '[tenants.anamizu]\nname = "穴水町"\nareas = { jma = ["1746100"] }\n'
        '[[tenants.anamizu.districts]]\nid = "kawashima"\nname = "川島"\n'
        '[tenants.wajima]\nname = "輪島市"\nareas = { jma = ["1720400"] }\ndelegates = ["anamizu"]\n',
        encoding="utf-8",
    )
    return path


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "broadcaster.cli", *args],
        env={**os.environ, "BROADCASTER_CONFIG": str(config)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )


async def _setup(d: Doors, door: str) -> tuple[str, str, str]:
    """An approved evacuation order and an everyday notice, for the Updates and Cancels."""
    order = await d.api_send(
        d.tokens["operator"],
        _doc(
            "order", kind="evacuation", level=4, event="避難指示", headline=f"【警戒レベル４】避難指示 {door}"
        ),
    )
    assert await d.settled(order) == "held"
    async with client() as s:
        csrf = await d.login(s, "sato")
        async with s.post(f"{d.base}/t/anamizu/alerts/{order}/approve", data={"csrf": csrf}) as r:
            assert r.status == 200, await r.text()
    headline = f"町からの連絡 {door}-base"
    notice = await d.api_send(d.tokens["operator"], _doc(f"{door}-base"))
    assert await d.settled(notice) in ("routed", "done")
    return order, notice, headline


async def _walk(
    d: Doors, door: str, send: Callable[[dict[str, Any]], Awaitable[str]], kinds: list[str]
) -> None:
    order, notice, headline = await _setup(d, door)
    wrong: list[str] = []
    for case in cases(door, order, notice, headline, kinds):
        alert_id = await send(case.doc)
        state = await d.settled(alert_id)
        if (state == "held") != case.held:
            wrong.append(f"{case.name}: {state}, expected {'held' if case.held else 'sent'}")
    # One officer cancels the town's own notice in the pre-approved words: it goes at once.
    cancel = await send(_error_cancel(f"{door}-ce", notice, headline))
    if await d.settled(cancel) == "held":
        wrong.append(f"{door}-cancel-sent-in-error: held, expected sent")
    assert wrong == []


@pytest.fixture
async def env(tmp_path: Path) -> Any:
    async with doors(tmp_path) as e:
        yield e


async def test_the_api_door_with_a_token(env: Doors) -> None:
    await _walk(env, "api", lambda doc: env.api_send(env.tokens["operator"], doc), [k.value for k in Kind])


async def test_the_console_door_with_an_officer(env: Doors) -> None:
    async with client() as s:
        csrf = await env.login(s, "tanaka")
        await _walk(env, "console", lambda doc: _console_send(env, s, csrf, doc), [k.value for k in Kind])


async def test_the_scheduler_door(env: Doors) -> None:
    service = env.run.runtime.scheduler
    await eventually(lambda: service.active, timeout=30)

    async def send(doc: dict[str, Any]) -> str:
        at = now() + timedelta(seconds=0.5)
        await scheduled_sends.schedule_once(service, "anamizu", doc, "officer:anamizu/tanaka", at)
        return await _sent_alert(env, doc["headline"])

    await _walk(env, "scheduler", send, [k.value for k in Kind])


async def test_the_cli_door(env: Doors, tmp_path: Path) -> None:
    config = _cli_config(tmp_path, env)
    folder = tmp_path / "docs"
    folder.mkdir()

    async def send(doc: dict[str, Any]) -> str:
        path = folder / f"{len(list(folder.iterdir()))}.json"
        path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        result = await asyncio.to_thread(
            _cli, config, "send", str(path), "--officer", "tanaka", "--tenant", "anamizu"
        )
        assert result.returncode == 0, result.stderr
        raw = result.stdout.split("as raw event ", 1)[1].split()[0]
        return f"m-anamizu-{raw[:24]}"

    # A subprocess each: the kinds that differ in outcome, not all of them.
    await _walk(env, "cli", send, ["missile", "eew", "notice", "shelter"])


async def test_who_may_send_and_who_may_approve(env: Doors) -> None:
    held = await env.api_send(env.tokens["operator"], _doc("who", kind="missile"))
    assert await env.settled(held) == "held"
    url = f"{env.base}/api/v1/tenants/anamizu/alerts/{held}/approve"
    # Tokens (any role), the operator, and the author: refused; the alert stays held.
    for token in ("approver_a", "operator"):
        async with client() as s, s.post(url, headers={"Authorization": f"Bearer {env.tokens[token]}"}) as r:
            assert r.status == 403, token
    async with client() as s:
        csrf = await env.login(s, "tanaka")
        async with s.post(url, headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 403, "an operator does not approve"
    assert await env.run.ledger.alert_state("anamizu", held) == "held"
    # An approver who wrote the alert cannot approve it either.
    async with client() as s:
        csrf = await env.login(s, "sato")
        mine = _doc("sato-own", kind="tsunami")
        async with s.post(
            f"{env.base}/api/v1/tenants/anamizu/alerts", json=mine, headers={"X-CSRF-Token": csrf}
        ) as r:
            assert r.status == 202
            own = (await r.json())["alert_id"]
        assert await env.settled(own) == "held"
        async with s.post(
            f"{env.base}/api/v1/tenants/anamizu/alerts/{own}/approve", headers={"X-CSRF-Token": csrf}
        ) as r:
            assert r.status == 409 and "their own alert" in (await r.json())["error"]
        # A second officer, signed in with their second factor, releases the token's alert.
        async with s.post(url, headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 200, await r.text()
    assert await eventually(lambda: env.sent(held))
