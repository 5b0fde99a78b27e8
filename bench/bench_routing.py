"""Routing speed: how many alerts a route worker decides per second, on one core.

    python bench/bench_routing.py            # 50 rules, 100,000 subscribers, 20,000 alerts
    python bench/bench_routing.py --quick    # 5,000 subscribers, 2,000 alerts: a smoke run

Routing decides audiences, not people: a decision names (channel, audience), and the number of
people in it comes from the indexed audience counts, never from counting subscribers. Measured:

* decide: the tenant's context (districts named, territory) and the rules' decisions;
* decide + counts: the same, plus the people in every decided audience from a count snapshot
  (one indexed read of audience_counts per tenant, refreshed every few seconds);
* for reference, one indexed count query per decided audience straight from the database, and
  what expanding the largest audience into recipients costs (done once per dispatch, not here).

The rule set is 穴水町's shipped rules with synthetic rules in front of them up to 50, so that
every alert is tested against more rules than a town would write.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from broadcaster.audience import TOPICS  # noqa: E402
from broadcaster.logging import configure  # noqa: E402
from broadcaster.model import Alert  # noqa: E402
from broadcaster.rules.engine import RuleSet, build_rule_set, read_rule_files  # noqa: E402
from broadcaster.settings import DEFAULT_CHANNELS  # noqa: E402
from broadcaster.store import migrate  # noqa: E402
from broadcaster.store.audiences import Audiences, Person  # noqa: E402
from broadcaster.store.ledger import Ledger  # noqa: E402
from tests.rules_helpers import demo_settings, directory, manual, sample  # noqa: E402

TENANT = "anamizu"
DISTRICTS = ["kawashima", "omachi", "hiyomi", "kabuto"]
KINDS = ["earthquake", "tsunami", "weather_warning", "landslide", "heavy_rain", "flood", "evacuation",
         "shelter", "notice", "lifeline", "typhoon", "volcano"]


def rule_set(total: int = 50) -> RuleSet:
    files = read_rule_files(ROOT / "rules", TENANT)
    shipped = build_rule_set(TENANT, files, DEFAULT_CHANNELS, DISTRICTS)
    extra = total - len(shipped.rules)
    rng = random.Random(1)
    lines = ["rules:"]
    for i in range(max(0, extra)):
        kind = KINDS[i % len(KINDS)]
        # Conditions that rarely hold, so that alerts go on to test the shipped rules below.
        lines += [
            f"  - name: synthetic-{i}",
            f"    match: {{kind: {kind}, event: [架空の情報{i}], parameters: {{magnitude: {{at_least: {rng.randint(8, 9)}}}}}}}",
            "    channels: [website, line]",
            "    audience: district",
            "    continue: true",
        ]
    synthetic = (Path("00-synthetic.yaml"), ("\n".join(lines) + "\n").encode())
    rules = build_rule_set(TENANT, [synthetic, *files], DEFAULT_CHANNELS, DISTRICTS)
    assert len(rules.rules) == total, len(rules.rules)
    return rules


def alerts(n: int) -> list[Alert]:
    rng = random.Random(2)
    base = [sample(f, TENANT) for f in (
        "01_vxse51_shindo_sokuho.xml", "02_vtse41_otsunami_keiho.xml", "03_vxse53_shingen_shindo.xml",
        "07_vpww55_ooame_r06.xml", "08_vpww54_ooame_h27.xml", "09_vpww54_all_lifted.xml", "11_vxww50_dosha.xml",
        "12_vxse43_eew_keiho.xml", "13_vtse41_kunren.xml", "anamizu_evacuation_order.xml", "anamizu_shelter_open.xml",
    )]
    for i in range(40):
        kind = rng.choice(["evacuation", "shelter", "notice", "lifeline", "headquarters", "typhoon", "system"])
        fields: dict[str, Any] = {"kind": kind, "event": kind, "headline": f"h{i}",
                                  "status": rng.choice(["Actual"] * 4 + ["Exercise", "Test"]),
                                  "districts": rng.sample(DISTRICTS, rng.randint(0, 2))}
        if kind == "evacuation":
            fields["level"] = rng.choice([3, 4, 5])
        base.append(manual(TENANT, **fields))
    return [base[i % len(base)] for i in range(n)]


def people(n: int) -> list[Person]:
    rng = random.Random(3)
    out = []
    for i in range(n):
        kind = "leader" if i % 2500 == 0 else "deputy" if i % 2500 == 1 else "officer" if i % 5000 == 2 else "resident"
        endpoints = []
        if rng.random() < 0.7:
            endpoints.append(("line", f"U{i:032x}"))
        if rng.random() < 0.3:
            endpoints.append(("app_push", f"https://push.example/{i}"))
        if rng.random() < 0.4:
            endpoints.append(("email", f"p{i}@example.jp"))
        if kind in ("leader", "deputy"):
            endpoints.append(("circular", f"C{i}"))
        out.append(Person(
            external_id=f"P{i}", kind=kind, districts=(DISTRICTS[i % 4],),
            language="ja" if rng.random() < 0.9 else rng.choice(["vi", "en", "zh-CN"]),
            topics=() if rng.random() < 0.6 else tuple(rng.sample(TOPICS, 2)),
            endpoints=tuple(endpoints),
        ))
    return out


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>10,.0f} alerts/s  ({seconds * 1e6 / n:6.1f} µs per alert)"


async def main(quick: bool) -> None:
    configure("WARNING")
    n_people, n_alerts = (5_000, 2_000) if quick else (100_000, 20_000)
    rules = rule_set(50)
    tenants = directory()
    batch = alerts(n_alerts)
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger.connect(f"sqlite:///{Path(tmp) / 'ledger.sqlite3'}")
        await migrate.upgrade(ledger.db)
        await ledger.ensure_tenants((t.id, t.name) for t in demo_settings().tenants.values())
        store = Audiences(ledger.db)
        t0 = time.perf_counter()
        await store.import_people(TENANT, people(n_people))
        imported = time.perf_counter() - t0
        snapshot = await store.counts(TENANT)
        print(f"rules: {len(rules.rules)}; subscribers: {n_people:,} (imported in {imported:.1f} s); alerts: {n_alerts:,}")
        print("one core (a route worker is one asyncio thread)\n")

        # Warm up (the first facts of each alert, pydantic's lazy structures).
        for alert in batch[:200]:
            rules.decide(alert, tenants.context(TENANT, alert))

        start, cpu = time.perf_counter(), time.process_time()
        decided = 0
        for alert in batch:
            decided += len(rules.decide(alert, tenants.context(TENANT, alert)))
        wall, used = time.perf_counter() - start, time.process_time() - cpu
        print(f"decide           {rate(n_alerts, wall)}  cpu {rate(n_alerts, used).split('(')[0].strip()}"
              f"  {decided / n_alerts:.1f} decisions per alert")

        start, cpu = time.perf_counter(), time.process_time()
        people_total = 0
        for alert in batch:
            for d in rules.decide(alert, tenants.context(TENANT, alert)):
                people_total += snapshot.count(d.audience, d.channel)
        wall, used = time.perf_counter() - start, time.process_time() - cpu
        print(f"decide + counts  {rate(n_alerts, wall)}  cpu {rate(n_alerts, used).split('(')[0].strip()}"
              f"  {people_total / n_alerts:,.0f} addresses per alert (counted, not expanded)")

        sample_n = min(500, n_alerts)
        start = time.perf_counter()
        queries = 0
        for alert in batch[:sample_n]:
            for d in rules.decide(alert, tenants.context(TENANT, alert)):
                await store.count(TENANT, d.audience, d.channel)
                queries += 1
        wall = time.perf_counter() - start
        print(f"decide + a count query per audience (database, for reference)  {rate(sample_n, wall)}"
              f"  {wall * 1e3 / queries:.2f} ms per query")

        start = time.perf_counter()
        everyone = await store.recipients(TENANT, "public", "line")
        wall = time.perf_counter() - start
        print(f"expanding public on LINE into recipients (once per dispatch, in route): "
              f"{len(everyone):,} addresses in {wall * 1e3:.0f} ms")
        await ledger.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    asyncio.run(main(parser.parse_args().quick))
