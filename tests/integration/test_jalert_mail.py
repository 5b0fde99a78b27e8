"""J-Alert as towns connect it: the receiver's e-mail through the bridge's SMTP intake, its contact
outputs through the local hook, and its health, end to end into the pipeline.

The receiver is played by an SMTP client on loopback (aiosmtplib) writing mails the way Japanese
devices do (ISO-2022-JP); the bridge runs its real mail intake, spool and forwarder; the
broadcaster its real hook, pipeline and ledger.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import aiosmtplib
import pytest

from adapters.ingest.jalert.bridge import Bridge, load_bridge_settings
from broadcaster.status import collect_status, render_status
from broadcaster.store import reports
from broadcaster.store.audiences import Audiences
from broadcaster.store.receivers import receivers
from broadcaster.web.app import WebServer, build_app
from broadcaster.web.context import WebContext
from tests.canaries import canary
from tests.helpers import Running, eventually, make_settings, running_pipeline
from tests.web_helpers import free_port

SECRET = canary("jalert-mail-key")
RECEIVER = "jalert-rx@town.example.lg.jp"
TENANTS = {"anamizu": {"name": "穴水町", "areas": {"jma": ["1746100"]}}}
RULES = """
rules:
  - name: tests-reach-officers-only
    match: {status: [Test]}
    channels: [email]
    audience: officers
  - name: life-safety-everywhere
    match: {kind: [missile, eew]}
    channels: [website, x]
    priority: flash
  - name: default
    default: true
    channels: [website]
"""
LAUNCH = "ミサイル発射。ミサイル発射。北朝鮮からミサイルが発射されたものとみられます。建物の中、または地下に避難して下さい。"


@dataclass
class Stack:
    run: Running
    bridge: Bridge
    tmp: Path

    async def mail(self, subject: str, body: str, *, sender: str = RECEIVER, msgid: str) -> None:
        msg = EmailMessage()
        msg["From"] = sender
        msg["To"] = "bridge@town.example.lg.jp"
        msg["Subject"] = subject
        msg["Message-ID"] = f"<{msgid}@rx.town.example.lg.jp>"
        msg.set_content(body, charset="iso-2022-jp")
        assert self.bridge.mail_port is not None
        await aiosmtplib.send(
            msg, sender=sender, recipients=["bridge@town.example.lg.jp"], hostname="127.0.0.1", port=self.bridge.mail_port
        )

    async def contact(self, name: str) -> int:
        async with aiohttp.ClientSession() as s, s.post(f"http://127.0.0.1:{self.bridge.port}/contact/{name}") as r:
            return r.status

    async def alerts(self) -> dict[str, dict[str, Any]]:
        return {a["identifier"]: a for a in await reports.alerts(self.run.ledger, tenant="anamizu")}


@asynccontextmanager
async def stack(tmp: Path) -> AsyncIterator[Stack]:
    rules = tmp / "rules" / "_default"
    rules.mkdir(parents=True)
    (rules / "10.yaml").write_text(RULES, encoding="utf-8")
    port = free_port()
    settings = make_settings(
        tmp,
        tenants=TENANTS,
        rules_dir=tmp / "rules",
        web={"port": port, "public_url": f"http://127.0.0.1:{port}"},
        # The town's own receiver: its bridge key speaks for 穴水町.
        hooks={"jalert": {"keys": {"anamizu-rx": {"secret": SECRET, "tenant": "anamizu"}}}},
    )
    async with running_pipeline(settings) as run:
        await Audiences(run.ledger.db).add(
            "anamizu", kind="officer", name="当直", groups=["duty"], endpoints={"email": "duty@town.example.jp"}
        )
        server = WebServer(build_app(WebContext.build(run.runtime)), "127.0.0.1", port)
        await server.start()
        bridge = Bridge(
            load_bridge_settings(
                None,
                endpoint=f"http://127.0.0.1:{port}/ingest/jalert",
                key_id="anamizu-rx",
                secret=SECRET,
                spool_dir=tmp / "spool",
                listen="127.0.0.1:0",
                mail_listen="127.0.0.1:0",
                receivers=[{"name": "rx1", "addresses": [RECEIVER], "networks": ["127.0.0.0/8", "::1/128"]}],
                contacts={"1": {"type": "eew"}, "9": {"type": "test"}},
                backoff_s=[0.1, 0.2],
                health_interval_s=0.2,
            )
        )
        await bridge.start()
        try:
            yield Stack(run, bridge, tmp)
        finally:
            await bridge.stop()
            await server.stop()


def _outbox(run: Running, alert: str, channels: tuple[str, ...]) -> list[dict[str, Any]]:
    found = [r for ch in channels for r in run.outbox("anamizu", ch) if r["alert"] == alert]
    return found if {r["channel"] for r in found} == set(channels) else []


async def test_receiver_mails_for_a_missile_an_eew_and_a_test_become_the_right_alerts(tmp_path: Path) -> None:
    async with stack(tmp_path) as s:
        await s.mail("【Jアラート】弾道ミサイル情報", LAUNCH, msgid="m-1")
        await s.mail("【Jアラート】緊急地震速報", "緊急地震速報。大きな揺れに警戒して下さい。", msgid="e-1")
        await s.mail("Jアラート全国一斉情報伝達試験", "これは、Jアラートのテストです。", msgid="t-1")

        async def three() -> dict[str, dict[str, Any]] | None:
            got = await s.alerts()
            return got if len(got) == 3 and all(a["state"] == "done" for a in got.values()) else None

        alerts = await eventually(three)
        by_kind = {a["kind"]: a for a in alerts.values()}
        missile, eew, test = by_kind["missile"], by_kind["eew"], by_kind["other"]
        assert missile["status"] == eew["status"] == "Actual"
        assert missile["headline"] == "ミサイル発射", "the stage read from the receiver's own text"
        assert eew["headline"] == "緊急地震速報"
        assert test["status"] == "Test"
        for a in (missile, eew):
            sent = await eventually(functools.partial(_outbox, s.run, a["identifier"], ("website", "x")))
            assert {r["status"] for r in sent} == {"Actual"}
        # The receiver's test reaches the officers by e-mail, and nothing else.
        mails = await eventually(functools.partial(_outbox, s.run, test["identifier"], ("email",)))
        assert [(r["audience"], r["recipients"]) for r in mails] == [("officers", 1)]
        assert not [r for ch in ("website", "x") for r in s.run.outbox("anamizu", ch) if r["alert"] == test["identifier"]]
        assert s.bridge.spool.depth() == 0


async def test_only_configured_receivers_may_mail_and_a_mail_no_rule_knows_is_quarantined_whole(
    tmp_path: Path,
) -> None:
    async with stack(tmp_path) as s:
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
            await s.mail("【Jアラート】弾道ミサイル情報", LAUNCH, sender="spam@example.com", msgid="x-1")
        assert refused.value.code == 550
        await s.mail("受信機の保守のお知らせ", "明日10時から受信機の保守を行います。", msgid="q-1")

        async def quarantined() -> list[dict[str, Any]] | None:
            rows = await reports.quarantine(s.run.ledger)
            return rows or None

        [row] = await eventually(quarantined)
        assert row["reason"] == "mail_unmatched"
        assert "受信機の保守のお知らせ" in row["detail"]
        kept = sorted((tmp_path / "spool" / "mail-quarantine").iterdir())
        assert [p.suffix for p in kept] == [".eml", ".reason"]
        assert b"Message-ID: <q-1@rx.town.example.lg.jp>" in kept[0].read_bytes(), "the raw mail, as it came"
        assert kept[1].read_text(encoding="utf-8").startswith("mail_unmatched: ")
        raw = await s.run.ledger.db.read(
            lambda c: c.exec_driver_sql("SELECT body FROM raw_events WHERE id = ?", (row["raw_event_id"],)).scalar()
        )
        assert b"q-1@rx.town.example.lg.jp" in raw, "the broadcaster keeps the raw mail with the reason"
        assert await s.alerts() == {}


async def test_the_same_eew_by_contact_and_by_mail_is_one_alert_and_the_receiver_is_heard(tmp_path: Path) -> None:
    async with stack(tmp_path) as s:
        assert await s.contact("1") == 202
        await s.mail("【Jアラート】緊急地震速報", "緊急地震速報。大きな揺れに警戒して下さい。", msgid="e-2")
        assert await s.contact("9") == 202  # the receiver's test rule closes contact 9

        async def settled() -> dict[str, dict[str, Any]] | None:
            got = await s.alerts()
            return got if len(got) == 3 and all(a["state"] in ("done", "merged") for a in got.values()) else None

        alerts = await eventually(settled)
        eews = [a for a in alerts.values() if a["kind"] == "eew"]
        assert sorted(a["state"] for a in eews) == ["done", "merged"]
        first = next(a for a in eews if a["state"] == "done")
        assert first["identifier"].startswith("jalert-contact-rx1-1-"), "the contact came first"
        ids = {a["identifier"] for a in eews}
        sent = [r for ch in ("website", "x") for r in s.run.outbox("anamizu", ch) if r["alert"] in ids]
        assert sorted(r["channel"] for r in sent) == ["website", "x"], "one message to residents per medium"
        assert {r["alert"] for r in sent} == {first["identifier"]}

        async def heard() -> list[Any] | None:
            rows = await receivers(s.run.ledger.db, tenant="anamizu")
            return rows if rows and rows[0].heard >= 3 and rows[0].last_test is not None else None

        [rx] = await eventually(heard)
        assert (rx.key_id, rx.name, rx.tenant, rx.silent, rx.bridge_silent) == ("anamizu-rx", "rx1", "anamizu", False, False)
        text = render_status(await collect_status(s.run.settings, s.run.bus, s.run.ledger))
        assert "J-Alert receivers:" in text and "anamizu-rx/rx1" in text and "last heard" in text
