"""FCM by topic live in the pipeline: routing names each district's device topics, the channel
sends one request per topic, and the fake FCM fans each out to the phones subscribed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from broadcaster.audience import device_topics
from broadcaster.render.languages import SUPPORTED
from broadcaster.store import reports
from tests.fakes.fcm import FakeFcm, service_account
from tests.helpers import eventually, make_settings, manual, running_pipeline

ACCOUNT, PUBLIC = service_account()
RULES = """rules:
  - name: notices-to-the-app
    match: {kind: [notice]}
    channels: [fcm]
    audiences: [district, leaders]
  - name: default
    default: true
    channels: [website]
"""


async def _done(run: Any) -> list[reports.ChannelRow]:
    rows = [r for r in await reports.channel_table(run.ledger) if r.channel == "fcm"]
    return rows if rows and all(r.waiting == 0 and r.failed == 0 for r in rows) else []


async def test_an_alert_reaches_the_districts_phones_by_topic_in_their_language(tmp_path: Path) -> None:
    rules = tmp_path / "rules" / "_default"
    rules.mkdir(parents=True)
    (rules / "10.yaml").write_text(RULES, encoding="utf-8")
    async with FakeFcm(email=ACCOUNT["client_email"], public_key=PUBLIC) as fake:
        phones = {
            "phone-kawashima-ja": ("kawashima", "ja"),
            "phone-kawashima-en": ("kawashima", "en"),
            "phone-elsewhere-ja": ("nakai", "ja"),
        }
        for phone, (district, language) in phones.items():
            fake.devices.add(phone)
            fake.subscribe(phone, *device_topics("anamizu", (district,), language))
        settings = make_settings(
            tmp_path,
            rules_dir=tmp_path / "rules",
            channels={
                "fcm": {
                    "adapter": "fcm_topics",
                    "mode": "live",
                    "credentials": {"service_account": json.dumps(ACCOUNT)},
                    "options": {"base_url": fake.base, "token_url": fake.token_url},
                }
            },
        )
        async with running_pipeline(settings) as run:
            await run.submit(
                manual(kind="notice", event="お知らせ", headline="川島地区の断水", districts=["kawashima"])
            )
            (row,) = await eventually(lambda: _done(run))
            assert row.mode == "live"
            await eventually(lambda: _fanned(fake))
    assert fake.requests == len(SUPPORTED), "one request per language's topic, none per phone"
    assert {m["topic"] for m in fake.sent} == {f"anamizu.kawashima.{tag}" for tag in SUPPORTED}
    assert dict(fake.fanned) == {"phone-kawashima-ja": 1, "phone-kawashima-en": 1}
    (ja,) = fake.delivered("phone-kawashima-ja")
    (en,) = fake.delivered("phone-kawashima-en")
    assert ja["notification"]["title"].startswith("【穴水町】") and "川島" in ja["notification"]["body"]
    assert ja["data"]["alert_id"] == en["data"]["alert_id"] and ja["android"]["priority"] in ("HIGH", "NORMAL")


async def _fanned(fake: FakeFcm) -> bool:
    await fake.fanned_out()
    return sum(fake.fanned.values()) >= 2
