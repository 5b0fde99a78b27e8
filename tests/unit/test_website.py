"""The website channel: what it publishes, how an update or cancel rewrites it, and that it is safe."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import lxml.html
import pytest
from lxml import etree

from adapters.outbound.website import WebsiteAdapter, public_file, slug
from adapters.outbound.website import publish as publish_module
from adapters.outbound.website.feeds import ATOM
from adapters.outbound.website.state import SiteState, View, merge, views
from broadcaster.cap import from_cap, validate_cap
from broadcaster.cap.publish import DEFAULT_VALIDITY, placed, publication_issues
from broadcaster.channels import AdapterEnv, ChannelAdapter
from broadcaster.errors import ConfigError
from broadcaster.model import JIS_X0402, Area, MsgType, NamedValue, ResponseType, Severity, Status, Urgency
from broadcaster.settings import ChannelSettings
from broadcaster.site_layout import site_dir, site_url
from tests.fakes.site import T0, SiteFixture, alert, follow_up, site_delivery

TOWN_CODE = (NamedValue(value_name=JIS_X0402, value="174611"),)

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[SiteFixture]:
    fixture = SiteFixture(tmp_path / "site")
    yield fixture
    await fixture.close()


def test_the_adapter_is_a_channel_adapter_that_runs_live_only_when_asked(tmp_path: Path) -> None:
    env = AdapterEnv(
        "anamizu",
        "穴水町",
        tmp_path / "outbox",
        tmp_path,
        "https://bousai.example.jp",
        (("kawashima", "川島"),),
    )
    adapter = WebsiteAdapter.from_settings("website", ChannelSettings(), env)
    assert isinstance(adapter, ChannelAdapter)
    assert adapter.settings.site_dir == tmp_path / "site" / "anamizu"
    assert adapter.settings.site_url == "https://bousai.example.jp/site/anamizu/"
    assert adapter.site.districts == (("kawashima", "川島"),)
    assert WebsiteAdapter.live_in_auto is False
    custom = ChannelSettings(
        options={"site_dir": "/srv/www/{tenant}/bousai", "site_url": "https://www.town.example.jp/bousai/"}
    )
    adapter = WebsiteAdapter.from_settings("website", custom, env)
    assert adapter.settings.site_dir == Path("/srv/www/anamizu/bousai")
    assert adapter.settings.site_url == "https://www.town.example.jp/bousai/"
    with pytest.raises(ConfigError, match="unknown options"):
        WebsiteAdapter.from_settings("website", ChannelSettings(options={"sitedir": "x"}), env)
    with pytest.raises(ConfigError):
        WebsiteAdapter.from_settings("website", ChannelSettings(options={"max_messages": 1}), env)


def test_layout_paths() -> None:
    assert site_dir({}, Path("/var/b"), "noto") == Path("/var/b/site/noto")
    assert site_dir({"site_dir": "pub/{tenant}"}, Path("/var/b"), "noto") == Path("/var/b/pub/noto")
    assert site_url({}, "http://h:1/", "noto") == "http://h:1/site/noto/"
    assert slug("jma-bcbabc4419276e49136df0af") == "jma-bcbabc4419276e49136df0af"
    for hostile in ("../../etc/passwd", "a/b", ".hidden", "x:y", "日本語", "a..b", "x" * 200):
        s = slug(hostile)
        assert s.startswith("~") and "/" not in s and ".." not in s, hostile
    assert slug("a/b") != slug("a:b")


async def test_publishes_pages_banner_feeds_and_json(site: SiteFixture) -> None:
    a = alert("anamizu-0001", districts=("kawashima",))
    result = await site.adapter().send(site_delivery(a, audience="district:kawashima"))
    assert (result.mode, result.accepted) == ("live", 1)
    assert result.provider_ref == "r1:anamizu-0001"
    assert (site.root / "current").is_symlink()
    for rel in (
        "index.html",
        "alerts/anamizu-0001.html",
        "alerts/anamizu-0001.json",
        "alerts/anamizu-0001.xml",
        "districts/kawashima.html",
        "districts/omachi.html",
        "banner.html",
        "banner.json",
        "feed.atom",
        "cap.atom",
        "api/alerts.json",
        "api/history.json",
        "api/site.json",
        "api/districts/kawashima.json",
        "site.css",
        "banner.css",
        "site.js",
    ):
        assert (site.current / rel).is_file(), rel
    assert site.current_ids() == ["anamizu-0001"]
    banner = site.read("banner.html")
    assert (
        "避難指示" in banner
        and 'href="http://127.0.0.1:8080/site/anamizu/alerts/anamizu-0001.html"' in banner
    )
    assert site.json("banner.json")["alerts"][0]["title"] == "【穴水町】避難指示"
    detail = site.json("alerts/anamizu-0001.json")
    assert detail["alert"]["msgType"] == "Alert" and detail["alert"]["eventKey"] == a.event_key
    assert "川島" in site.read("districts/kawashima.html") and "anamizu-0001" in site.read(
        "districts/kawashima.html"
    )
    assert "anamizu-0001" not in site.read("districts/omachi.html"), (
        "a district alert is not on another district's page"
    )
    assert site.json("api/districts/omachi.json")["alerts"] == []


async def test_a_town_wide_alert_is_on_every_district_page(site: SiteFixture) -> None:
    await site.adapter().send(site_delivery(alert("town-1", event="大津波警報", kind="tsunami")))
    for d in ("kawashima", "omachi"):
        assert [x["id"] for x in site.json(f"api/districts/{d}.json")["alerts"]] == ["town-1"]


async def test_publishing_the_same_dispatch_twice_leaves_the_same_site(site: SiteFixture) -> None:
    adapter = site.adapter()
    d = site_delivery(alert("anamizu-0001"))
    first = await adapter.send(d)
    before = {p.relative_to(site.current): p.read_bytes() for p in site.current.rglob("*") if p.is_file()}
    again = await adapter.send(d)
    after = {p.relative_to(site.current): p.read_bytes() for p in site.current.rglob("*") if p.is_file()}
    assert again.provider_ref == first.provider_ref
    assert "unchanged" in (again.detail or "")
    assert before == after
    # Another adapter (a restarted worker) reads the state from disk and agrees.
    assert (await site.adapter().send(d)).provider_ref == first.provider_ref


async def test_an_update_replaces_its_event_and_the_old_page_points_to_the_new(site: SiteFixture) -> None:
    adapter = site.adapter()
    original = alert("ev-1", event="避難指示", districts=("kawashima",))
    update = follow_up(
        original,
        "ev-1-u1",
        MsgType.UPDATE,
        event="避難指示（対象地区拡大）",
        districts=("kawashima", "omachi"),
    )
    other = alert("other-1", event="避難所開設", kind="shelter")
    for a in (original, other):
        await adapter.send(site_delivery(a))
    await adapter.send(site_delivery(update))
    assert sorted(site.current_ids()) == ["ev-1-u1", "other-1"]
    old = site.read("alerts/ev-1.html")
    assert "更新済み" in old and 'href="ev-1-u1.html"' in old
    assert "対象地区拡大" in site.read("banner.html") and "ev-1.html" not in site.read("banner.html")
    # The original delivered late (a retry behind the update) changes nothing on the lists.
    await adapter.send(site_delivery(original))
    assert sorted(site.current_ids()) == ["ev-1-u1", "other-1"]


async def test_a_cancel_takes_the_event_off_every_list_but_keeps_its_page_marked(site: SiteFixture) -> None:
    adapter = site.adapter()
    original = alert("ev-1", districts=("kawashima",))
    await adapter.send(site_delivery(original, audience="district:kawashima"))
    assert "ev-1" in site.read("banner.html")
    cancel = follow_up(original, "ev-1-c", MsgType.CANCEL, event="避難指示", districts=("kawashima",))
    await adapter.send(
        site_delivery(cancel, "【穴水町】避難指示を取り消します。", audience="district:kawashima")
    )
    assert site.current_ids() == []
    assert site.json("banner.json")["alerts"] == []
    assert "<section" not in site.read("banner.html"), "an empty banner shows nothing on the CMS page"
    assert site.json("api/districts/kawashima.json")["alerts"] == []
    assert "現在、発表中の緊急情報はありません" in site.read("index.html")
    page = site.read("alerts/ev-1.html")
    assert "取消" in page and "この情報は取り消されました" in page and 'href="ev-1-c.html"' in page
    assert site.json("alerts/ev-1.json")["state"] == "cancelled"
    history = site.json("api/history.json")["alerts"]
    assert {h["id"]: h["state"] for h in history} == {"ev-1": "cancelled", "ev-1-c": "cancel"}
    # The CAP feed carries the cancel, so that aggregators withdraw the alert too.
    cap = etree.fromstring(site.read("cap.atom").encode())
    msg_types = cap.findall(f".//{{{ATOM}}}entry/{{{ATOM}}}content/{{{CAP_NS}}}alert/{{{CAP_NS}}}msgType")
    assert [m.text for m in msg_types] == ["Cancel"]


async def test_an_all_clear_leaves_the_banner(site: SiteFixture) -> None:
    adapter = site.adapter()
    original = alert("ev-1")
    await adapter.send(site_delivery(original))
    lifted = follow_up(
        original, "ev-1-lift", MsgType.UPDATE, event="避難指示 解除", response=(ResponseType.ALL_CLEAR,)
    )
    await adapter.send(site_delivery(lifted))
    assert site.current_ids() == []
    assert site.json("alerts/ev-1-lift.json")["state"] == "lifted"


async def test_expired_alerts_leave_the_banner_at_the_next_publish_or_refresh(site: SiteFixture) -> None:
    adapter = site.adapter()
    soon = alert("ev-1", expires=site.clock.at + timedelta(minutes=10))
    await adapter.send(site_delivery(soon))
    assert site.current_ids() == ["ev-1"]
    site.clock.at += timedelta(minutes=11)
    await adapter.refresh()
    assert site.current_ids() == []
    assert site.json("alerts/ev-1.json")["state"] == "expired"
    assert "期限切れ" in site.read("alerts/ev-1.html")


async def test_the_adapter_republishes_by_itself_when_an_alert_expires(site: SiteFixture) -> None:
    from broadcaster.model import now

    adapter = site.adapter(clock=now)
    soon = alert("ev-1", sent=now().replace(microsecond=0), expires=now() + timedelta(seconds=1))
    await adapter.send(site_delivery(soon))
    assert site.current_ids() == ["ev-1"]
    for _ in range(60):
        await asyncio.sleep(0.1)
        if site.current_ids() == []:
            break
    assert site.current_ids() == [], "the expiry timer published again"


@pytest.mark.parametrize(("status", "label"), [(Status.EXERCISE, "訓練"), (Status.TEST, "試験")])
async def test_drills_and_tests_are_labelled_everywhere(
    site: SiteFixture, status: Status, label: str
) -> None:
    drill = alert("drill-1", status=status, event="大津波警報", kind="tsunami")
    await site.adapter().send(site_delivery(drill))
    for rel in ("index.html", "alerts/drill-1.html", "banner.html", "districts/kawashima.html"):
        page = site.read(rel)
        assert (
            f'class="badge drill-badge">{label}</span>' in page
            or f'class="bc-badge">{label}</strong>' in page
        ), rel
    assert "実際の災害ではありません" in site.read("alerts/drill-1.html")
    assert site.json("api/alerts.json")["alerts"][0]["drill"] is True
    assert site.json("api/alerts.json")["alerts"][0]["label"] == label
    feed = etree.fromstring(site.read("feed.atom").encode())
    assert (feed.findtext(f"{{{ATOM}}}entry/{{{ATOM}}}title") or "").startswith(f"【{label}】")


HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


async def test_hostile_text_is_escaped_on_every_page(site: SiteFixture) -> None:
    evil = alert(
        "evil-1",
        event=f"警報{HOSTILE}",
        headline=f"見出し{HOSTILE}",
        description=f"説明 {HOSTILE}\n<a href='javascript:alert(3)'>click</a>",
        instruction=f"<iframe src=//evil.example></iframe>{HOSTILE}",
        web="javascript:alert(4)",
        area_desc=f"<b onmouseover=alert(5)>川島</b>{HOSTILE}",
    )
    await site.adapter().send(
        site_delivery(evil, f"本文{HOSTILE}\n2行目 <svg onload=alert(6)>", title=f"題{HOSTILE}")
    )
    checked = 0
    for path in site.current.rglob("*"):
        if not path.is_file():
            continue
        raw = path.read_bytes()
        if path.suffix == ".html":
            if path.name == "banner.html":
                doc = lxml.html.fragment_fromstring(raw.decode(), create_parent="div")
            else:
                doc = lxml.html.document_fromstring(raw)
            for el in doc.iter():
                if not isinstance(el.tag, str):
                    continue
                assert el.tag not in ("img", "iframe", "svg", "b"), (path.name, el.tag)
                if el.tag == "script":
                    assert el.get("src", "").endswith("site.js") and not (el.text or "").strip(), path.name
                for attr, value in el.attrib.items():
                    assert not attr.lower().startswith("on"), (path.name, attr)
                    if attr in ("href", "src"):
                        assert not value.strip().lower().startswith(("javascript:", "data:")), (
                            path.name,
                            value,
                        )
            assert HOSTILE not in raw.decode(), path.name
            checked += 1
        elif path.suffix in (".atom", ".xml"):
            xml = etree.fromstring(raw)
            assert all(
                etree.QName(el).localname not in ("script", "img")
                for el in xml.iter()
                if isinstance(el.tag, str)
            )
            checked += 1
        elif path.suffix == ".json":
            json.loads(raw)
    assert checked >= 8
    page = site.read("alerts/evil-1.html")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, "the text is shown, escaped"
    assert "javascript:alert(4)" in page and 'href="javascript' not in page, (
        "a javascript: URL is text, not a link"
    )


async def test_every_cap_document_and_cap_feed_entry_is_valid_against_the_oasis_schema(
    site: SiteFixture, corpus: Path
) -> None:
    xsd = corpus / "cap" / "schema" / "CAP-v1.2.xsd"
    adapter = site.adapter()
    original = alert("ev-1", districts=("kawashima",), expires=T0 + timedelta(hours=6))
    alerts = [
        original,
        follow_up(original, "ev-1-u", MsgType.UPDATE, districts=("kawashima", "omachi")),
        alert("quake-1", event="震度速報", kind="earthquake", status=Status.EXERCISE),
        alert("evil-1", headline=HOSTILE, description=HOSTILE),
    ]
    cancelled = alert("ev-2")
    alerts += [cancelled, follow_up(cancelled, "ev-2-c", MsgType.CANCEL)]
    for a in alerts:
        await adapter.send(site_delivery(a))
    feed = etree.fromstring(site.read("cap.atom").encode())
    entries = feed.findall(f"{{{ATOM}}}entry")
    inline = [e.find(f"{{{ATOM}}}content/{{{CAP_NS}}}alert") for e in entries]
    assert {x.findtext(f"{{{CAP_NS}}}identifier") for x in inline if x is not None} == {
        "ev-1-u",
        "quake-1",
        "evil-1",
        "ev-2-c",
    }
    for entry, cap in zip(entries, inline, strict=True):
        assert cap is not None
        doc = etree.tostring(cap)
        assert validate_cap(doc, xsd) == [], entry.findtext(f"{{{ATOM}}}title")
        link = entry.find(f"{{{ATOM}}}link[@type='application/cap+xml']")
        assert link is not None and link.get("rel") == "alternate"
        ident = cap.findtext(f"{{{CAP_NS}}}identifier") or ""
        assert link.get("href") == f"{site.url}alerts/{slug(ident)}.xml"
    published = {a.identifier for a in alerts}
    for a in alerts:
        data = (site.current / "alerts" / f"{slug(a.identifier)}.xml").read_bytes()
        assert validate_cap(data, xsd) == []
        got = from_cap(data)
        # What aggregators require (docs/cap.md, *Publishing*), and otherwise the alert, nothing lost.
        assert publication_issues(got, published) == [], a.identifier
        assert got.primary.expires == (a.primary.expires or a.sent + DEFAULT_VALIDITY["evacuation"])
        own = [
            i.model_copy(update={"expires": g.expires, "area": g.area})
            for i, g in zip(a.info, got.info, strict=True)
        ]
        assert got == a.model_copy(update={"info": tuple(own)}), (
            "the published CAP is the alert, nothing lost"
        )
        for i, g in zip(a.info, got.info, strict=True):
            # An area named in words only stays, and the town's own comes after it.
            assert g.area == (
                i.area if placed(i.area) else (*i.area, Area(area_desc="穴水町", geocode=TOWN_CODE))
            )


async def test_a_reader_never_sees_a_half_published_site(site: SiteFixture) -> None:
    """A reader polls the site while forty messages are published: every snapshot it takes is one
    whole release (lists, pages and state agree), never a mix or a missing file."""
    adapter = site.adapter(keep_releases=2, release_grace_s=5.0)
    stop = threading.Event()
    seen: list[int] = []
    problems: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                release = (site.root / "current").resolve(strict=True)
            except FileNotFoundError:
                continue
            try:
                listed = json.loads((release / "api/alerts.json").read_bytes())
                state = SiteState.model_validate_json((release / ".state.json").read_bytes())
                index = (release / "index.html").read_text(encoding="utf-8")
                history = json.loads((release / "api/history.json").read_bytes())
            except (OSError, ValueError) as e:
                problems.append(f"{release.name}: {type(e).__name__}: {e}")
                continue
            if listed["release"] != state.release or history["release"] != state.release:
                problems.append(f"{release.name}: files of releases {listed['release']} and {state.release}")
            if len(history["alerts"]) != len(state.entries):
                problems.append(f"{release.name}: history and state disagree")
            for item in listed["alerts"]:
                if not (release / "alerts" / f"{slug(item['id'])}.html").is_file():
                    problems.append(f"{release.name}: {item['id']} listed without its page")
                if item["title"] not in index:
                    problems.append(f"{release.name}: {item['id']} in the JSON but not on the index")
            seen.append(state.release)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        previous = None
        for n in range(40):
            a = alert(
                f"a-{n:03d}", event=f"お知らせ{n}", event_key=f"ev-{n % 7}", sent=T0 + timedelta(minutes=n)
            )
            if previous is not None and previous.event_key == a.event_key:
                a = follow_up(previous, f"a-{n:03d}", MsgType.UPDATE, event=f"お知らせ{n}")
            await adapter.send(site_delivery(a))
            previous = a
            await asyncio.sleep(0)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert problems == []
    assert len(set(seen)) >= 3, f"the reader saw too few releases to mean anything: {sorted(set(seen))}"
    assert len(list((site.root / "releases").iterdir())) <= 45


async def test_a_publish_that_dies_half_way_leaves_the_previous_site(
    site: SiteFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter = site.adapter()
    await adapter.send(site_delivery(alert("first")))
    good = site.current
    calls = {"n": 0}
    real_write = publish_module._write

    def failing(path: Path, data: bytes) -> None:
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError(28, "No space left on device")
        real_write(path, data)

    monkeypatch.setattr(publish_module, "_write", failing)
    from broadcaster.errors import TransientError

    with pytest.raises(TransientError, match="No space left"):
        await adapter.send(site_delivery(alert("second")))
    assert site.current == good and site.current_ids() == ["first"]
    monkeypatch.setattr(publish_module, "_write", real_write)
    await adapter.send(site_delivery(alert("second")))
    assert sorted(site.current_ids()) == ["first", "second"]
    assert not [p for p in (site.root / "releases").iterdir() if p.name.startswith(".")], (
        "the half release is gone"
    )


async def test_two_workers_on_one_folder_lose_no_message(site: SiteFixture) -> None:
    one, two = site.adapter(), site.adapter()
    sends = [
        (one if n % 2 else two).send(site_delivery(alert(f"m-{n}", sent=T0 + timedelta(seconds=n))))
        for n in range(12)
    ]
    await asyncio.gather(*sends)
    assert sorted(site.current_ids()) == sorted(f"m-{n}" for n in range(12))


async def test_old_messages_leave_the_state_but_current_ones_stay(site: SiteFixture) -> None:
    adapter = site.adapter(max_messages=10)
    keeper = alert("keeper", sent=T0 - timedelta(days=30))
    await adapter.send(site_delivery(keeper))
    for n in range(15):
        old = alert(f"old-{n}", sent=T0 + timedelta(minutes=n), response=(ResponseType.ALL_CLEAR,))
        await adapter.send(site_delivery(old))
    history = {h["id"] for h in site.json("api/history.json")["alerts"]}
    assert "keeper" in history and len(history) == 10
    assert "keeper" in site.current_ids()
    assert not (site.current / "alerts" / "old-0.html").exists()


def test_public_file_never_leaves_the_release(tmp_path: Path) -> None:
    root = tmp_path / "site"
    release = root / "releases" / "0000000001"
    (release / "alerts").mkdir(parents=True)
    (release / "index.html").write_text("i")
    (release / "alerts" / "a.html").write_text("a")
    (release / ".state.json").write_text("{}")
    (tmp_path / "secret.txt").write_text("s")
    os.symlink(tmp_path / "secret.txt", release / "link.txt")
    os.symlink("releases/0000000001", root / "current")
    assert public_file(root, "") == release / "index.html"
    assert public_file(root, "alerts/a.html") == release / "alerts" / "a.html"
    assert public_file(root, "alerts/") is None
    for bad in (
        "../secret.txt",
        ".state.json",
        "alerts/../.state.json",
        "alerts/../../../secret.txt",
        "link.txt",
        "/etc/passwd",
        "alerts\\a.html",
        "a\x00.html",
        "%2e%2e/secret.txt",
        "alerts/missing.html",
    ):
        assert public_file(root, bad) is None, bad


def test_views_follow_the_newest_message_of_each_event() -> None:
    state = SiteState()
    original = alert("o")
    update = follow_up(original, "u", MsgType.UPDATE)
    cancel = follow_up(original, "c", MsgType.CANCEL, minutes=60)
    for a in (update, original):  # arrival order does not matter: "newer" is by sent
        state = merge(state, a, (), "public")
    assert views(state.entries, T0) == {"o": View.SUPERSEDED, "u": View.CURRENT}
    state = merge(state, cancel, (), "public")
    assert views(state.entries, T0) == {"o": View.CANCELLED, "u": View.CANCELLED, "c": View.CANCEL}
    again = merge(state, cancel, (), "public")
    assert again == state


async def test_a_real_alert_is_listed_above_a_drill_everywhere(site: SiteFixture) -> None:
    # The drill is newer and graver by its fields; the real 避難指示 still comes first.
    drill = alert(
        "drill-2", status=Status.EXERCISE, event="大津波警報", kind="tsunami", sent=T0 + timedelta(minutes=5)
    )
    real = alert("real-1", severity=Severity.SEVERE, urgency=Urgency.EXPECTED)
    await site.adapter().send(site_delivery(real))
    await site.adapter().send(site_delivery(drill))
    assert [a["id"] for a in site.json("api/alerts.json")["alerts"]] == ["real-1", "drill-2"]
    assert [a["id"] for a in site.json("banner.json")["alerts"]] == ["real-1", "drill-2"]
    index = site.read("index.html")
    assert index.index("real-1") < index.index("drill-2")


async def test_the_message_is_headed_by_its_event_not_a_generic_notice(site: SiteFixture) -> None:
    await site.adapter().send(site_delivery(alert("lvl4-1", event="避難指示")))
    page = lxml.html.fromstring(site.read("alerts/lvl4-1.html"))
    assert page.xpath("string(//section[@class='message']/h2)") == "避難指示"
