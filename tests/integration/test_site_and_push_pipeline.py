"""The website and app_push channels live in the pipeline: pages follow updates and cancels, push
reaches subscribers, and the worker prunes the subscriptions the push service calls gone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from adapters.outbound.app_push import HostPolicy, parse_subscription
from adapters.outbound.app_push.vapid import generate
from broadcaster.store import reports
from broadcaster.store.audiences import Audiences
from tests.fakes.webpush import FakePushService
from tests.helpers import eventually, make_settings, manual, running_pipeline

PRIVATE, PUBLIC = generate()


async def _done(run: Any, prefix: str) -> list[reports.ChannelRow]:
    rows = [r for r in await reports.channel_table(run.ledger) if r.alert_id.startswith(prefix)]
    return rows if rows and all(r.waiting == 0 and r.failed == 0 for r in rows) else []


async def test_push_reaches_subscribers_and_gone_ones_are_pruned(tmp_path: Path) -> None:
    async with FakePushService(vapid_public_key=PUBLIC) as fake:
        off = {"enabled": False}
        settings = make_settings(
            tmp_path,
            channels={
                "app_push": {
                    "credentials": {"vapid_private_key": PRIVATE},
                    "options": {
                        "subject": "mailto:bousai@example.jp",
                        "allowed_hosts": ["127.0.0.1"],
                        "allow_http": True,
                    },
                },
                "website": {"mode": "live"},
                **{
                    c: off
                    for c in (
                        "line",
                        "x",
                        "mastodon",
                        "bluesky",
                        "email",
                        "circular",
                        "webhook",
                        "lalert_out",
                        "fcm",
                    )
                },
            },
        )
        policy = HostPolicy(hosts=("127.0.0.1",), allow_http=True)
        async with running_pipeline(settings) as run:
            audiences = Audiences(run.ledger.db)
            subs = {n: parse_subscription(fake.subscribe(n), policy).canonical() for n in ("kept", "gone")}
            for name, address in subs.items():
                await audiences.add(
                    "anamizu",
                    districts=["kawashima"],
                    endpoints={"app_push": address},
                    external_ref=f"app-{name}",
                )
            fake.gone.add("gone")
            await run.submit(
                manual(kind="notice", event="お知らせ", headline="川島地区の断水", districts=["kawashima"])
            )
            rows = await eventually(lambda: _done(run, "m-anamizu"))
            by_channel = {r.channel: r for r in rows}
            assert by_channel["app_push"].mode == "live"
            assert by_channel["website"].mode == "live"
            (delivered,) = fake.delivered()
            assert delivered.name == "kept" and delivered.message is not None
            assert delivered.message["title"].startswith("【穴水町】") and delivered.message["id"].startswith(
                "m-anamizu"
            )

            async def pruned() -> bool:
                return await audiences.count("anamizu", "public", "app_push") == 1

            await eventually(pruned)
            people = {p.external_id: p for p in await audiences.people("anamizu")}
            assert people["app-gone"].endpoints == () and people["app-kept"].endpoints == (
                ("app_push", subs["kept"]),
            )

            site = tmp_path / "site" / "anamizu" / "current"
            listed = json.loads((site / "api" / "alerts.json").read_text(encoding="utf-8"))
            assert [a["title"] for a in listed["alerts"]] == [delivered.message["title"]]
            assert listed["alerts"][0]["district_ids"] == ["kawashima"]
