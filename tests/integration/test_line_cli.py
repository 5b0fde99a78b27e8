"""`broadcaster line richmenu` against the fake LINE API and `broadcaster leaders link-code`, in real
subprocesses (run on a thread, so that the fake keeps answering on this test's loop)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.outbound.line.richmenu import HEIGHT, WIDTH
from tests.canaries import canary
from tests.fakes.line import FakeLine
from tests.integration.test_cli import cli

TOKEN = canary("line-token")
SECRET = canary("line-channel-secret")

CONFIG = """
var_dir = "{tmp}"
db_url = "sqlite+aiosqlite:///{tmp}/ledger.sqlite3"
outbox_dir = "{tmp}/outbox"

[web]
public_url = "https://bousai.town.anamizu.example"

[bus]
url = "embedded:{tmp}/bus.sqlite3"

[tenants.anamizu]
name = "穴水町"
districts = [{{id = "kawashima", name = "川島"}}]

[tenants.anamizu.channels.line]
credentials = {{token = "{token}", channel_secret = "{secret}"}}
options = {{base_url = "{url}"}}

[tenants.wajima]
name = "輪島市"
"""

ROSTER = "external_id,kind,name,districts\nL-1,区長,山田太郎,川島\nR-1,resident,,川島\n"


@pytest.fixture
async def fake() -> AsyncIterator[FakeLine]:
    async with FakeLine(token=TOKEN) as server:
        yield server


def _config(tmp_path: Path, fake: FakeLine) -> Path:
    path = tmp_path / "broadcaster.toml"
    path.write_text(CONFIG.format(tmp=tmp_path, token=TOKEN, secret=SECRET, url=fake.url), encoding="utf-8")
    return path


async def test_richmenu_installs_replaces_its_own_and_leaves_others_alone(tmp_path: Path, fake: FakeLine) -> None:
    config = _config(tmp_path, fake)
    first = await asyncio.to_thread(cli, config, "line", "richmenu", "--tenant", "anamizu")
    assert first.returncode == 0, first.stderr
    (menu_id,) = fake.richmenus
    assert fake.default_richmenu == menu_id and menu_id in first.stdout
    menu = fake.richmenus[menu_id]
    assert menu.content_type == "image/png" and menu.image is not None and len(menu.image) < 1024 * 1024
    assert menu.menu["size"] == {"width": WIDTH, "height": HEIGHT}
    assert menu.menu["areas"][3]["action"]["uri"] == "https://bousai.town.anamizu.example/site/anamizu/"
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in fake.requests)

    second = await asyncio.to_thread(cli, config, "line", "richmenu", "--tenant", "anamizu")
    assert second.returncode == 0, second.stderr
    assert list(fake.richmenus) != [menu_id] and len(fake.richmenus) == 1, "the one it replaced is deleted"
    assert "was deleted" in second.stdout

    # A default someone made by other means is never deleted.
    fake.richmenus["richmenu-by-hand"] = type(menu)({**menu.menu, "name": "町の手作り"}, b"png", "image/png")
    fake.default_richmenu = "richmenu-by-hand"
    own = tmp_path / "own.png"
    own.write_bytes(menu.image)
    third = await asyncio.to_thread(cli, config, "line", "richmenu", "--tenant", "anamizu", "--image", str(own))
    assert third.returncode == 0, third.stderr
    assert "richmenu-by-hand" in fake.richmenus and "left alone" in third.stdout


async def test_richmenu_refuses_a_wrong_picture_and_a_town_without_line(tmp_path: Path, fake: FakeLine) -> None:
    config = _config(tmp_path, fake)
    gif = tmp_path / "menu.gif"
    gif.write_bytes(b"GIF89a" + b"\x00" * 100)
    bad = await asyncio.to_thread(cli, config, "line", "richmenu", "--tenant", "anamizu", "--image", str(gif))
    assert bad.returncode == 1 and "PNG or a JPEG" in bad.stderr
    assert fake.richmenus == {}, "nothing half-made is left at LINE"
    none = await asyncio.to_thread(cli, config, "line", "richmenu", "--tenant", "wajima")
    assert none.returncode == 1 and "no LINE channel access token" in none.stderr
    dry = await asyncio.to_thread(cli, config, "line", "richmenu", "--tenant", "wajima", "--dry-run")
    assert dry.returncode == 0 and json.loads(dry.stdout)["chatBarText"] == "メニュー / Menu"


async def test_link_code_prints_a_code_for_a_leader_and_audits_it(tmp_path: Path, fake: FakeLine) -> None:
    config = _config(tmp_path, fake)
    assert (await asyncio.to_thread(cli, config, "db", "upgrade")).returncode == 0
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    assert (await asyncio.to_thread(cli, config, "audiences", "import", "--tenant", "anamizu", str(roster))).returncode == 0

    made = await asyncio.to_thread(cli, config, "leaders", "link-code", "--tenant", "anamizu", "--leader", "L-1", "--officer", "tanaka")
    assert made.returncode == 0, made.stderr
    code = made.stdout.splitlines()[0]
    assert len(code) == 9 and code.replace(" ", "").isdigit()
    assert "JST" in made.stdout

    resident = await asyncio.to_thread(cli, config, "leaders", "link-code", "--tenant", "anamizu", "--leader", "R-1")
    assert resident.returncode == 1 and "no active leader or deputy 'R-1'" in resident.stderr
    other = await asyncio.to_thread(cli, config, "leaders", "link-code", "--tenant", "wajima", "--leader", "L-1")
    assert other.returncode == 1 and "not set up" in other.stderr

    with sqlite3.connect(tmp_path / "ledger.sqlite3") as db:
        audit = db.execute("select actor, action, target from audit_log").fetchall()
        stored = db.execute("select code_hash from line_link_codes").fetchall()
    assert ("cli:tanaka", "line_link_code", "L-1") in audit
    assert code.replace(" ", "") not in repr(stored)
