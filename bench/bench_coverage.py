"""Coverage per district kept current: a town of 10,000 households in 40 districts.

    python bench/bench_coverage.py            # 10,000 households, 200 receipts
    python bench/bench_coverage.py --quick    # 1,000 households, 20 receipts

The ledger is SQLite with the data key set (addresses sealed, as in a deployment), migrated as
`broadcaster db upgrade` does. 10,000 households of one to four people (about 25,000 residents)
in 40 districts, each person with a phone. One Actual evacuation alert to the whole town. Then,
one after another, a receipt comes in, as the channel worker records it (a voice dispatch's
outcomes for 20 people, `recipient_outcomes`), or a resident's safety answer, or a leader's
mark; after each, the coverage of the alert is counted again (broadcaster/coverage/counts.py).
Timed: from the receipt's write starting to the new coverage in hand, i.e. how stale the console
page and `broadcaster coverage` can be after a receipt. The bus plays no part in the count (the
ledger is read directly), so the figure holds on the embedded bus as on Kafka.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import DATA_KEY, summary  # noqa: E402

from broadcaster.channels import RecipientOutcome  # noqa: E402
from broadcaster.coverage import marks, safety  # noqa: E402
from broadcaster.coverage.config import CoverageSettings  # noqa: E402
from broadcaster.coverage.counts import compute  # noqa: E402
from broadcaster.logging import configure  # noqa: E402
from broadcaster.model import Dispatch, Explanation, now  # noqa: E402
from broadcaster.privacy import FieldCipher  # noqa: E402
from broadcaster.store import migrate, reach  # noqa: E402
from broadcaster.store.audiences import Audiences, Person  # noqa: E402
from broadcaster.store.ledger import Ledger  # noqa: E402
from broadcaster.store.sealed import attach  # noqa: E402
from tests.rules_helpers import manual  # noqa: E402

DISTRICTS = {f"d{i:02d}": f"地区{i:02d}" for i in range(40)}


def _people(households: int, rnd: random.Random) -> list[Person]:
    out: list[Person] = []
    n = 0
    for h in range(households):
        district = f"d{h % 40:02d}"
        for _ in range(rnd.choice((1, 2, 2, 3, 4))):
            n += 1
            out.append(Person(f"R-{n:06d}", name=f"住民{n}", districts=(district,), household=f"H-{h:05d}",
                              address=f"穴水町{district}-{h}", endpoints=(("phone", f"0768{n:06d}"),)))  # fmt: skip
    return out


async def run(households: int, receipts: int) -> dict[str, Any]:
    rnd = random.Random(24)
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger.connect(f"sqlite+aiosqlite:///{Path(tmp) / 'ledger.sqlite3'}")
        attach(ledger.db, FieldCipher(DATA_KEY))
        await migrate.upgrade(ledger.db)
        await ledger.ensure_tenants([("anamizu", "穴水町")])
        people = _people(households, rnd)
        started = time.perf_counter()
        await Audiences(ledger.db).import_people("anamizu", people)
        imported_s = time.perf_counter() - started
        alert = manual(
            status="Actual", kind="evacuation", event="避難指示", headline="全町に避難指示", at=now()
        )
        await ledger.record_alert(alert)
        settings = CoverageSettings()
        waits: list[float] = []
        counted: list[float] = []
        cov = None
        for i in range(receipts):
            t0 = time.perf_counter()
            kind = i % 10
            if kind < 8:  # a voice dispatch's outcomes for 20 people
                batch = rnd.sample(people, 20)
                d = Dispatch(
                    tenant="anamizu", alert_id=alert.identifier, event_key=alert.event_key, channel="voice",
                    audience="public", batch=i, batch_count=receipts, template="auto", languages=("ja",),
                    explanation=Explanation(rule="bench"), created=now(), deadline=now() + timedelta(minutes=5),
                )  # fmt: skip
                outcomes = [
                    RecipientOutcome(
                        recipient=dict(p.endpoints)["phone"], outcome="heard", reached=rnd.random() < 0.7
                    )
                    for p in batch
                ]
                await reach.record(ledger.db, d, outcomes, {}, now())
            elif kind == 8:
                p = rnd.choice(people)
                await safety.record(
                    ledger.db,
                    "anamizu",
                    alert.identifier,
                    p.external_id,
                    p.household,
                    "safe",
                    None,
                    via="email",
                )
            else:
                p = rnd.choice(people)
                await marks.mark(
                    ledger.db, "anamizu", alert.identifier, p.household_key, "leader", actor="leader:bench"
                )
            t1 = time.perf_counter()
            cov = await compute(ledger.db, "anamizu", alert.identifier, DISTRICTS, settings)
            t2 = time.perf_counter()
            waits.append((t2 - t0) * 1000)
            counted.append((t2 - t1) * 1000)
        await ledger.close()
    assert cov is not None
    return {
        "households": cov.households,
        "people": len(people),
        "districts": len(cov.districts),
        "receipts": receipts,
        "reached_at_end": cov.reached,
        "import_s": round(imported_s, 1),
        "receipt_to_coverage_ms": summary(waits),
        "count_only_ms": summary(counted),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    configure("WARNING", "console")
    households, receipts = (1000, 20) if args.quick else (10_000, 200)
    print(json.dumps(asyncio.run(run(households, receipts)), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
