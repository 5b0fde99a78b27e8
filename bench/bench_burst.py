"""A Noto night: a real-shaped burst of JMA telegrams for a prefecture's 19 towns at once.

    python bench/bench_burst.py                    # 34 telegrams, 19 towns, three minutes ÷ 6
    python bench/bench_burst.py --telegrams 10 --compress 12
    python bench/bench_burst.py --tiny             # the smoke test's size (4 telegrams, 4 towns)

The sequence (docs/benchmarks.md, *A Noto night*): 震度速報, 大津波警報, 震源・震度 and its 訂正 —
the project's own 2024 Noto samples (samples/jma; the 訂正 is made from the 震源・震度 telegram
at run time) — then 30 more in three minutes: JMA's official sample telegrams read at run time
from the public corpus beside the checkout (tsunami warnings and observations, offshore
observations, further quake information, weather warnings of other prefectures; most of them
concern none of the 19 towns, as most of JMA's feed does not) with the project's 石川県 weather
warnings and tsunami information among them. Without the corpus the benchmark is skipped.

The 19 towns are 石川県's municipalities, from the Noto coast to the inland towns of the Kaga
plain, each with its own live channels against one process of fakes on loopback (bench/fakes.py:
LINE, X over TLS, Mastodon, Bluesky, a signed webhook, SMTP, Web Push; the website writes each
town's pages) and a few residents with an app subscription and an e-mail address.

Three phases, each on fresh fakes, pipeline and ledger (embedded bus, SQLite, as `broadcaster run`):

* one alert at a time (the baseline): 穴水町 alone, each telegram submitted after everything the
  last one caused is final, so each alert is measured alone on a warm pipeline;
* one telegram at a time (not in the smoke run): every town, each telegram after the last one's
  sends are final: what 19 towns' copies of one telegram cost together;
* the burst: every town, the telegrams submitted on the real-shaped schedule (below), compressed
  in time by `--compress`.

Per dispatch, ingest → send (raw received → provider answered, from the hop times each attempt
records); per alert (one town's copy of one telegram), the skew from its first channel's answer
to its last, and ingest → last send. The same figures for both phases, and their ratios.

And that everyone got exactly once what their town should get: per town and channel, the
dispatches route decided (the ledger) against the sends each fake saw for that town, every
decided dispatch final, one accepted attempt per sent dispatch, and the burst's decisions the
same as one telegram at a time's (and, for 穴水町, as its own alone).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import DATA_KEY, add_residents, cpu_seconds, open_ledger, summary  # noqa: E402
from fakes import LINE_TOKEN, WEBHOOK_SECRET, Fleet, addresses  # noqa: E402

from broadcaster.app import open_runtime, serving  # noqa: E402
from broadcaster.bus import Bus, open_bus  # noqa: E402
from broadcaster.logging import configure  # noqa: E402
from broadcaster.model import RawEvent  # noqa: E402
from broadcaster.pipeline.ingest import submit  # noqa: E402
from broadcaster.pipeline.runtime import stage_names  # noqa: E402
from broadcaster.settings import Settings, load_settings  # noqa: E402
from broadcaster.sources import raw_from_file  # noqa: E402
from broadcaster.store import migrate, tables  # noqa: E402
from broadcaster.store.ledger import Ledger  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "jma" / "official_samples"
OWN = ROOT / "samples" / "jma"

# 石川県's 19 municipalities (JMA city codes, the corpus's areacodes/ishikawa_extract.csv): the
# Noto coast (輪島, 珠洲, 能登, 穴水, 七尾, 志賀, 羽咋), the Kaga coast (金沢, かほく, 内灘, 白山, 能美,
# 小松, 加賀, 宝達志水) and inland (野々市, 川北, 津幡, 中能登).
TOWNS: tuple[tuple[str, str, str], ...] = (
    ("wajima", "輪島市", "1720400"),
    ("suzu", "珠洲市", "1720500"),
    ("noto", "能登町", "1746300"),
    ("anamizu", "穴水町", "1746100"),
    ("nanao", "七尾市", "1720200"),
    ("shika", "志賀町", "1738400"),
    ("hakui", "羽咋市", "1720700"),
    ("kanazawa", "金沢市", "1720100"),
    ("kahoku", "かほく市", "1720900"),
    ("uchinada", "内灘町", "1736500"),
    ("hakusan", "白山市", "1721000"),
    ("nomi", "能美市", "1721100"),
    ("komatsu", "小松市", "1720300"),
    ("kaga", "加賀市", "1720600"),
    ("hodatsushimizu", "宝達志水町", "1738600"),
    ("nonoichi", "野々市市", "1721200"),
    ("kawakita", "川北町", "1732400"),
    ("tsubata", "津幡町", "1736100"),
    ("nakanoto", "中能登町", "1740700"),
)
# Residents per town with an app subscription and an e-mail address (those channels' audience).
RESIDENTS = 3

# The head: (folder, file, seconds after the first telegram). The 訂正 is made from the 震源・震度
# telegram (`teisei`). Real times of 2024-01-01 were further apart (震度速報 16:11, 津波警報
# 16:12, 大津波警報 16:22); the order is what matters to a town, the spacing to the load.
HEAD: tuple[tuple[str, str, float], ...] = (
    ("own", "01_vxse51_shindo_sokuho.xml", 0),
    ("own", "02_vtse41_otsunami_keiho.xml", 60),
    ("own", "03_vxse53_shingen_shindo.xml", 120),
    ("teisei", "03_vxse53_shingen_shindo.xml", 150),
)
# Then 30 more, spread evenly over the next three minutes, in this order.
TAIL: tuple[tuple[str, str], ...] = (
    ("own", "04_vtse51_tsunami_joho.xml"),
    ("corpus", "32-39_11_02_250206_VTSE41.xml"),
    ("corpus", "32-35_07_01_100915_VXSE51.xml"),
    ("corpus", "32-39_11_03_250206_VTSE51.xml"),
    ("corpus", "61_11_01_250206_VTSE52.xml"),
    ("corpus", "32-35_07_02_100915_VXSE51.xml"),
    ("corpus", "32-39_11_05_240613_VXSE53.xml"),
    ("corpus", "32-39_11_06_250206_VTSE41.xml"),
    ("own", "07_vpww55_ooame_r06.xml"),
    ("corpus", "32-39_11_08_250206_VTSE51.xml"),
    ("corpus", "61_11_02_250206_VTSE52.xml"),
    ("corpus", "32-35_07_03_100915_VXSE51.xml"),
    ("corpus", "32-35_04_03_240613_VXSE52.xml"),
    ("corpus", "15_11_02_150916_VPWW54.xml"),
    ("corpus", "32-39_11_09_250206_VTSE41.xml"),
    ("corpus", "32-35_06_03_240613_VXSE53.xml"),
    ("corpus", "32-39_11_10_250206_VTSE51.xml"),
    ("own", "11_vxww50_dosha.xml"),
    ("corpus", "32-35_07_04_100915_VXSE51.xml"),
    ("corpus", "61_11_03_250206_VTSE52.xml"),
    ("corpus", "32-39_11_11_250206_VTSE41.xml"),
    ("corpus", "15_12_01_161130_VPWW54.xml"),
    ("corpus", "32-35_06_09_240613_VXSE61.xml"),
    ("corpus", "38-39_02_03_250206_VTSE51.xml"),
    ("own", "08_vpww54_ooame_h27.xml"),
    ("corpus", "32-35_07_05_100915_VXSE51.xml"),
    ("corpus", "32-39_11_13_250206_VTSE41.xml"),
    ("corpus", "15_11_03_150916_VPWW54.xml"),
    ("corpus", "32-35_08_06_240613_VXSE52.xml"),
    ("corpus", "38-39_02_05_250206_VTSE51.xml"),
)
TAIL_FROM_S, TAIL_SPAN_S = 150.0, 180.0
# Three minutes of the real-shaped schedule become this many times shorter.
COMPRESS = 6.0
# Channels of the fleet; circular (district leaders) has none of them configured and stays in
# outbox mode, not counted as a medium.
MEDIA = ("website", "app_push", "line", "x", "mastodon", "bluesky", "email", "webhook")


@dataclass(frozen=True)
class Telegram:
    name: str
    at_s: float  # on the real-shaped schedule, before compression
    path: Path


def teisei(src: Path, dest: Path) -> Path:
    """A 訂正 of a 震源・震度 telegram, as JMA issues one: same event, InfoType 訂正, a later report
    and a corrected magnitude."""
    text = src.read_text(encoding="utf-8")
    text = text.replace("<InfoType>発表</InfoType>", "<InfoType>訂正</InfoType>", 1)
    text = re.sub(r"<ReportDateTime>(.*?)T16:30:00", r"<ReportDateTime>\1T16:33:00", text, count=1)
    text = text.replace("Ｍ７．６", "Ｍ７．５").replace(">7.6<", ">7.5<")
    out = dest / f"teisei_{src.name}"
    out.write_text(text, encoding="utf-8")
    return out


def build_sequence(tmp: Path, limit: int | None = None) -> list[Telegram]:
    """The telegrams in order with their times; the corpus's files read where they lie."""
    out: list[Telegram] = []
    for folder, name, at in HEAD:
        path = teisei(OWN / name, tmp) if folder == "teisei" else OWN / name
        out.append(Telegram(path.name, at, path))
    step = TAIL_SPAN_S / len(TAIL)
    for i, (folder, name) in enumerate(TAIL):
        out.append(
            Telegram(name, TAIL_FROM_S + step * (i + 1), (CORPUS if folder == "corpus" else OWN) / name)
        )
    return out[:limit] if limit else out


def corpus_missing() -> str | None:
    missing = [name for folder, name in TAIL if folder == "corpus" and not (CORPUS / name).exists()]
    if missing:
        return f"the JMA sample corpus is not beside this checkout ({CORPUS}; {len(missing)} files missing)"
    return None


# ---------------------------------------------------------------- the fakes, per town


def _serve(conn: Connection, folder: str, vapid_public_key: str, towns: list[tuple[str, str]]) -> None:
    """The fakes of bench/fakes.py in this process, each send attributed to a town: by its LINE
    account, receiver (webhook), sender (e-mail), subscription (push) or the 【town】 its text
    begins with (X, Mastodon, Bluesky: one account each, shared by the towns here)."""
    from tests.fakes.bluesky import FakeBluesky
    from tests.fakes.line import FakeLine
    from tests.fakes.mastodon import FakeMastodon
    from tests.fakes.smtp import FakeSMTP
    from tests.fakes.webhook import FakeReceivers
    from tests.fakes.webpush import FakePushService
    from tests.fakes.x import FakeX

    def sender(address: str) -> str:
        return address.split("@", 1)[-1].split(".", 1)[0]

    def town_of(text: str) -> str:
        hits = [t for t, name in towns if f"【{name}】" in text]
        return hits[0] if len(hits) == 1 else "?"

    def firsts(posts: dict[str, tuple[str, str | None]]) -> list[str]:
        """The town of each post that begins a message. A thread's other parts (a long message
        split, each replying to the part before) count as "continued" when a post of the same
        thread names a town, "?" when none does."""
        parent_of = {k: parent for k, (_, parent) in posts.items()}
        root_town: dict[str, str] = {}
        for k, (text, _) in posts.items():
            town = town_of(text)
            if town != "?":
                root = k
                while parent_of.get(root) in posts:
                    root = str(parent_of[root])
                root_town.setdefault(root, town)
        out: list[str] = []
        for k, (text, _) in posts.items():
            town = town_of(text)
            if town == "?":
                root = k
                while parent_of.get(root) in posts:
                    root = str(parent_of[root])
                town = "continued" if root in root_town else "?"
            out.append(town)
        return out

    async def serve() -> None:
        # Each town its own LINE official account (its own token and its own hourly broadcast
        # limit): one shared account for 19 towns runs into LINE's limit within the night.
        lines = {t: FakeLine(token=f"{LINE_TOKEN}-{t}") for t, _ in towns}
        x = FakeX(Path(folder), rate_limit=10**9)
        mastodon = FakeMastodon()
        bluesky = FakeBluesky()
        hooks = FakeReceivers({t: WEBHOOK_SECRET for t, _ in towns})
        smtp = FakeSMTP()
        push = FakePushService(decrypt=False, accept_unknown=True, vapid_public_key=vapid_public_key)
        fakes = (*lines.values(), x, mastodon, bluesky, hooks, smtp, push)
        for fake in fakes:
            await fake.start()
        conn.send(addresses({t: fake.url for t, fake in lines.items()}, x, mastodon, bluesky, hooks.url("TOWN"), smtp, push))

        loop = asyncio.get_running_loop()
        try:
            while True:
                command = await loop.run_in_executor(None, conn.recv)
                seen: dict[str, Counter[str]] = {
                    "line": Counter({t: len(fake.delivered) for t, fake in lines.items() if fake.delivered}),
                    "x": Counter(firsts({k: (t.text, t.in_reply_to) for k, t in x.tweets.items()})),
                    "mastodon": Counter(
                        firsts({k: (s.text, s.in_reply_to_id) for k, s in mastodon.statuses.items()})
                    ),
                    "bluesky": Counter(town_of(repr(p)) for p in bluesky.records.values()),
                    "webhook": Counter(s.receiver for s in hooks.seen if 200 <= s.status < 300),
                    "email": Counter(sender(a.mail_from) for a in smtp.arrived),
                    "email_recipients": Counter(),
                    "app_push": Counter(p.name.split("-", 1)[0] for p in push.received if p.status == 201),
                }
                # What could not be told apart, to read (the start of each such post).
                seen["unattributed"] = Counter(
                    f"{name}: {text[:60]}"
                    for name, posts in (("x", x.tweets), ("mastodon", mastodon.statuses))
                    for text in (p.text for p in posts.values())
                    if town_of(text) == "?"
                )
                for a in smtp.arrived:
                    seen["email_recipients"][sender(a.mail_from)] += len(a.rcpt_tos)
                conn.send({k: dict(v) for k, v in seen.items()})
                if command == "stop":
                    return
        finally:
            for fake in fakes:
                await fake.close()

    asyncio.run(serve())


class TownFleet(Fleet):
    """Fleet's fakes, one process, every town's channels pointed at them with its own identity."""

    def __init__(self, folder: Path, towns: Sequence[tuple[str, str]]) -> None:
        super().__init__(folder)
        self.towns = list(towns)

    def start(self) -> None:
        self._spawn(_serve, str(self.folder), self.vapid_public, self.towns)

    def town_channels(self, town: str) -> dict[str, Any]:
        channels = self.channels()
        channels["webhook"]["options"]["subscribers"] = [
            {"name": "cms", "url": self.urls["webhook"].replace("TOWN", town)}
        ]
        channels["email"]["options"]["from_address"] = f"bousai@{town}.example"
        channels["line"]["credentials"]["token"] = f"{LINE_TOKEN}-{town}"
        channels["line"]["options"]["base_url"] = self.urls["line"][town]
        return channels


def push_subscriptions(base: str, town: str, n: int) -> list[str]:
    from bench_webpush import subscriptions

    # The push service names a subscription by its path's last part: the town's, to count per town.
    return [s.replace(f"{base}/push/b", f"{base}/push/{town}-") for s in subscriptions(base, n)]


# ---------------------------------------------------------------- the pipeline


def burst_settings(workdir: Path, fleet: TownFleet, towns: Sequence[tuple[str, str, str]]) -> Settings:
    return load_settings(
        None,
        var_dir=workdir,
        db_url=f"sqlite+aiosqlite:///{workdir / 'ledger.sqlite3'}",
        outbox_dir=workdir / "outbox",
        bus={
            "url": f"embedded:{workdir / 'bus.sqlite3'}",
            "partitions": 8,
            "poll_interval_s": 0.2,
            "prefix": f"burst{time.time_ns()}.",
        },
        web={"enabled": False},
        tenants={
            t: {"name": name, "areas": {"jma": [code]}, "channels": fleet.town_channels(t)}
            for t, name, code in towns
        },
        rules_dir=ROOT / "rules",
        privacy={"key": DATA_KEY},
    )


@asynccontextmanager
async def pipeline_for(
    workdir: Path, fleet: TownFleet, towns: Sequence[tuple[str, str, str]]
) -> AsyncIterator[tuple[Bus, Ledger]]:
    settings = burst_settings(workdir, fleet, towns)
    bus = open_bus(settings.bus)
    await bus.start()
    ledger = open_ledger(settings)
    try:
        await migrate.upgrade(ledger.db)
        await ledger.ensure_tenants([(t, name) for t, name, _ in towns])
        for t, _, _ in towns:
            pushes = push_subscriptions(fleet.urls["push"], t, RESIDENTS)
            await add_residents(
                ledger,
                t,
                [{"app_push": p, "email": f"r{i}@{t}.example.jp"} for i, p in enumerate(pushes)],
                district=None,
            )
        async with (
            open_runtime(settings, bus, ledger) as runtime,
            serving(runtime, stage_names(settings)) as process,
        ):
            await process.pipeline.ready()
            yield bus, ledger
    finally:
        await ledger.close()
        await bus.close()


OPEN = ("pending", "sending", "failed")


def _state(c: sa.Connection) -> tuple[int, int, int]:
    """(raw events not yet normalized, alerts not yet routed, dispatches not yet final)."""
    count = sa.select(sa.func.count())
    raw = c.execute(
        count.select_from(tables.raw_events).where(tables.raw_events.c.status == "received")
    ).scalar()
    alerts = c.execute(count.select_from(tables.alerts).where(tables.alerts.c.state == "received")).scalar()
    open_ = c.execute(
        count.select_from(tables.dispatches).where(tables.dispatches.c.state.in_(OPEN))
    ).scalar()
    return int(raw or 0), int(alerts or 0), int(open_ or 0)


async def settled(ledger: Ledger, submitted: int, within: float) -> None:
    """Until every submitted telegram is normalized, routed and each dispatch final."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        raws = await ledger.db.read(
            lambda c: int(c.execute(sa.select(sa.func.count()).select_from(tables.raw_events)).scalar() or 0)
        )
        if raws >= submitted and await ledger.db.read(_state) == (0, 0, 0):
            return
        await asyncio.sleep(0.02)
    d = tables.dispatches
    states = await ledger.db.read(lambda c: dict(Counter(r[0] for r in c.execute(sa.select(d.c.state)))))
    stuck = await ledger.db.read(
        lambda c: [
            tuple(r)
            for r in c.execute(
                sa.select(d.c.tenant, d.c.channel, d.c.state, d.c.attempts, d.c.last_error)
                .where(d.c.state.in_(OPEN))
                .limit(10)
            )
        ]
    )
    raise TimeoutError(
        f"the pipeline had not settled {submitted} telegrams after {within:g} s: "
        f"(raw, alerts, dispatches) not done {await ledger.db.read(_state)}, dispatches {states}; "
        f"not final: {stuck}"
    )


def raw_event(t: Telegram) -> RawEvent:
    return raw_from_file(t.path, officer=None, tenant=None, source=None, known_tenants=None)


async def phase(
    workdir: Path,
    fleet: TownFleet,
    towns: Sequence[tuple[str, str, str]],
    telegrams: Sequence[Telegram],
    compress: float | None,
) -> dict[str, Any]:
    """One at a time (compress None), or on the schedule compressed `compress` times."""
    async with pipeline_for(workdir, fleet, towns) as (bus, ledger):
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        raws = [raw_event(t) for t in telegrams]
        for i, (t, raw) in enumerate(zip(telegrams, raws, strict=True)):
            if compress is not None:
                # On the schedule: late submits (the loop busy) are not made up for by sending sooner.
                wait = t.at_s / compress - (time.perf_counter() - t0)
                if wait > 0:
                    await asyncio.sleep(wait)
            await submit(bus, raw.model_copy(update={"received": datetime.now(raw.received.tzinfo)}), ledger)
            if compress is None:
                await settled(ledger, i + 1, within=300)
        submitted_s = time.perf_counter() - t0
        await settled(ledger, len(telegrams), within=900)
        elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
        out = await measure(ledger, {r.id: t.name for t, r in zip(telegrams, raws, strict=True)})
        out.update(
            telegrams=len(telegrams),
            seconds=round(elapsed, 2),
            seconds_submitting=round(submitted_s, 2),
            pipeline_cpu_s=round(cpu, 2),
        )
        out["fakes_saw"] = fleet.report()
    return out


async def measure(ledger: Ledger, names: dict[str, str]) -> dict[str, Any]:
    d, at, al = tables.dispatches, tables.attempts, tables.alerts

    def read(c: sa.Connection) -> dict[str, Any]:
        decided = [
            tuple(r)
            for r in c.execute(
                sa.select(
                    d.c.key, d.c.tenant, d.c.channel, d.c.state, d.c.mode, d.c.recipient_count, d.c.alert_id
                )
            )
        ]
        attempts = [
            tuple(r)
            for r in c.execute(
                sa.select(
                    at.c.dispatch_key,
                    at.c.tenant,
                    at.c.alert_id,
                    at.c.channel,
                    at.c.status,
                    at.c.mode,
                    at.c.hops,
                    at.c.recipients,
                )
            )
        ]
        alert_raw = {
            (r[0], r[1]): r[2] for r in c.execute(sa.select(al.c.tenant, al.c.identifier, al.c.raw_event_id))
        }
        raw_status = {
            r[0]: (r[1], r[2])
            for r in c.execute(
                sa.select(tables.raw_events.c.id, tables.raw_events.c.status, tables.raw_events.c.alerts)
            )
        }
        return {"decided": decided, "attempts": attempts, "alert_raw": alert_raw, "raw_status": raw_status}

    rows = await ledger.db.read(read)
    accepted = [a for a in rows["attempts"] if a[4] == "accepted"]
    per_dispatch = Counter(a[0] for a in accepted)
    live = [a for a in accepted if a[5] == "live" and a[3] in MEDIA]
    # Per dispatch and per alert (a town's copy of a telegram), from the hop times.
    lat: list[float] = []
    sends: dict[tuple[str, str], list[tuple[datetime, datetime]]] = {}
    per_telegram: dict[str, list[float]] = {}
    for _, tenant, alert_id, _, _, _, hops, _ in live:
        received, sent = datetime.fromisoformat(hops["received"]), datetime.fromisoformat(hops["sent"])
        ms = (sent - received).total_seconds() * 1000
        lat.append(ms)
        sends.setdefault((tenant, alert_id), []).append((received, sent))
        name = names.get(rows["alert_raw"].get((tenant, alert_id)) or "", "?")
        per_telegram.setdefault(name, []).append(ms)
    # Skew is between media: an alert that went out on one channel only (a website notice) has none.
    skews = [
        (max(s for _, s in v) - min(s for _, s in v)).total_seconds() * 1000
        for v in sends.values()
        if len(v) > 1
    ]
    to_last = [(max(s for _, s in v) - v[0][0]).total_seconds() * 1000 for v in sends.values()]
    decided: dict[str, Counter[str]] = {}
    recipients: dict[str, Counter[str]] = {}
    states: Counter[str] = Counter()
    for _key, tenant, channel, state, _mode, _count, _alert in rows["decided"]:
        states[state] += 1
        if state == "accepted":
            decided.setdefault(channel, Counter())[tenant] += 1
    for a in accepted:
        recipients.setdefault(a[3], Counter())[a[1]] += a[7]
    return {
        "latency_ms": summary(lat),
        "skew_ms": summary(skews),
        "alert_to_last_send_ms": summary(to_last),
        "alerts_sent": len(sends),
        "per_telegram_latency_ms": {k: summary(v) for k, v in per_telegram.items()},
        "dispatch_states": dict(states),
        "decided_per_channel_town": {k: dict(sorted(v.items())) for k, v in sorted(decided.items())},
        "recipients_per_channel_town": {k: dict(sorted(v.items())) for k, v in sorted(recipients.items())},
        "decisions": sorted(
            f"{t}|{ch}|{names.get(rows['alert_raw'].get((t, a)) or '', '?')}"
            for _, t, ch, _, _, _, a in rows["decided"]
        ),
        "accepted_attempts_per_dispatch": dict(Counter(per_dispatch.values())),
        "dispatches_accepted_without_attempt": sum(
            1 for r in rows["decided"] if r[3] == "accepted" and r[0] not in per_dispatch
        ),
        "raw_events": dict(Counter(s for s, _ in rows["raw_status"].values())),
    }


def exactly_once(p: dict[str, Any]) -> dict[str, Any]:
    """Per channel and town: what the fakes saw against what route decided (accepted dispatches;
    app push and e-mail per recipient). Lists every difference."""
    seen, decided, recipients = (
        p["fakes_saw"],
        p["decided_per_channel_town"],
        p["recipients_per_channel_town"],
    )
    diffs: list[str] = []
    for channel in MEDIA:
        if channel == "website":
            continue  # no remote side; its pages are written per publish, counted by the ledger only
        want = recipients.get(channel, {}) if channel in ("app_push",) else decided.get(channel, {})
        got = seen.get(channel, {})
        if channel == "email":
            want, got = recipients.get(channel, {}), seen.get("email_recipients", {})
        for town in sorted((set(want) | set(got)) - {"continued"}):
            if want.get(town, 0) != got.get(town, 0):
                diffs.append(
                    f"{channel}/{town}: decided {want.get(town, 0)}, the fake saw {got.get(town, 0)}"
                )
    per = p["accepted_attempts_per_dispatch"]
    if {int(k) for k in per} - {1}:  # int keys in the run, str ones read back from JSON
        diffs.append(f"accepted attempts per dispatch: {per}")
    if p["dispatches_accepted_without_attempt"]:
        diffs.append(f"{p['dispatches_accepted_without_attempt']} dispatches accepted without an attempt")
    stuck = {k: v for k, v in p["dispatch_states"].items() if k not in ("accepted", "superseded", "recorded")}
    if stuck:
        diffs.append(f"dispatches not final or not sent: {stuck}")
    return {"ok": not diffs, "differences": diffs[:40]}


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


# The baseline's town: one alert at a time is one town's copy of each telegram, alone.
BASELINE_TOWN = "anamizu"


def _only(decisions: list[str], town: str) -> list[str]:
    return [d for d in decisions if d.startswith(f"{town}|")]


async def run(
    towns_n: int, telegrams_n: int | None, compress: float, *, per_telegram: bool = True
) -> dict[str, Any]:
    """Three phases, each on fresh fakes, pipeline and ledger: one alert at a time (the baseline:
    one town, each telegram after the last one's sends are final), optionally one telegram at a
    time for every town, then the burst for every town."""
    towns = TOWNS[:towns_n]
    alone = [t for t in TOWNS if t[0] == BASELINE_TOWN]
    with tempfile.TemporaryDirectory(prefix="bench-burst-") as tmp_name:
        tmp = Path(tmp_name)
        telegrams = build_sequence(tmp, telegrams_n)
        out: dict[str, Any] = {
            "towns": [name for _, name, _ in towns],
            "baseline_town": alone[0][1],
            "telegrams": [t.name for t in telegrams],
            "schedule_s": [round(t.at_s / compress, 2) for t in telegrams],
            "compress": compress,
            "real_span_s": telegrams[-1].at_s,
            "channels": "live on fakes: " + ", ".join(MEDIA) + "; circular in outbox mode, not counted",
            "residents_per_town": RESIDENTS,
        }
        phases: list[tuple[str, Sequence[tuple[str, str, str]], float | None]] = [
            ("one_at_a_time", alone, None)
        ]
        if per_telegram:
            phases.append(("telegram_at_a_time", towns, None))
        phases.append(("burst", towns, compress))
        for name, phase_towns, compression in phases:
            workdir = tmp / name
            workdir.mkdir()
            # Fakes of the phase's own: the providers' idempotency keys (LINE's retry key,
            # Mastodon's) are the dispatches', the same in every phase; a later phase's sends
            # would be taken for retries of an earlier one's.
            fleet = TownFleet(workdir, [(t, n) for t, n, _ in phase_towns])
            fleet.start()
            try:
                out[name] = await phase(workdir, fleet, phase_towns, telegrams, compression)
            finally:
                fleet.stop()
            out[name]["exactly_once"] = exactly_once(out[name])
    base, burst = out["one_at_a_time"], out["burst"]
    decisions = {name: out[name].pop("decisions") for name, _, _ in phases}
    # The burst decides for each town what one telegram at a time decides, and for the baseline's
    # town what it decides alone.
    same = _only(decisions["burst"], BASELINE_TOWN) == decisions["one_at_a_time"]
    if per_telegram:
        same = same and decisions["burst"] == decisions["telegram_at_a_time"]
    out["same_decisions"] = same
    out["everyone_exactly_once"] = bool(same and all(out[n]["exactly_once"]["ok"] for n, _, _ in phases))
    out["ratios_burst_to_one_at_a_time"] = {
        f"{k}_{q}": ratio(burst[k][q], base[k][q])
        for k in ("latency_ms", "skew_ms", "alert_to_last_send_ms")
        for q in ("p50", "p99")
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--towns", type=int, default=len(TOWNS), help=f"the first N of the {len(TOWNS)} towns"
    )
    parser.add_argument(
        "--telegrams", type=int, default=None, help="the first N telegrams of the sequence (34)"
    )
    parser.add_argument(
        "--compress", type=float, default=COMPRESS, help="the schedule runs this many times faster"
    )
    parser.add_argument(
        "--no-per-telegram",
        action="store_true",
        help="skip the middle phase (every town, one telegram at a time)",
    )
    parser.add_argument("--tiny", action="store_true", help="4 telegrams, 4 towns: the smoke test")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    configure("ERROR")
    missing = corpus_missing()
    if missing:
        result: dict[str, Any] = {"skipped": missing}
        print(f"[burst] skipped: {missing}", file=sys.stderr)
    else:
        towns, telegrams = (4, 4) if args.tiny else (args.towns, args.telegrams)
        result = asyncio.run(
            run(towns, telegrams, args.compress, per_telegram=not (args.no_per_telegram or args.tiny))
        )
    text = json.dumps(result, indent=1, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text, encoding="utf-8")
    if "skipped" not in result and not result["everyone_exactly_once"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
