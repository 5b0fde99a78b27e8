"""Where a profiled phase spent its time: py-spy's collapsed stacks, summed by pipeline part.

    python bench/bench_pipeline.py --burst-alerts 100 --profile /tmp/prof
    python bench/stacks.py /tmp/prof/embedded-throughput.txt [--top 20]

The stacks are those of the thread holding the GIL (py-spy --gil), so the shares add up to what
serializes a one-process pipeline. A sample counts toward the first part whose marker its stack
contains, in the order below (an adapter's send inside a channel worker counts as the adapter's).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("adapter: app_push", ("WebPushAdapter",)),
    ("adapter: website", ("WebsiteAdapter",)),
    ("adapter: email", ("EmailAdapter",)),
    ("adapter: mastodon", ("MastodonAdapter", "fediverse.py")),
    ("adapter: bluesky", ("BlueskyAdapter",)),
    ("adapter: x", ("XAdapter",)),
    ("adapter: line", ("LineAdapter",)),
    ("adapter: webhook", ("WebhookAdapter",)),
    ("adapter: outbox", ("OutboxAdapter",)),
    ("channel: render", ("Renderer.render",)),
    ("channel: ledger", ("Ledger.pre_send", "Ledger.begin_attempt", "Ledger.finish_attempt", "earlier_alerts")),
    ("channel: receipt, bookkeeping", ("ChannelStage",)),
    ("route", ("RouteStage",)),
    ("normalize", ("NormalizeStage",)),
    ("ledger stage", ("LedgerStage",)),
    ("ingest (submit)", ("pipeline/ingest.py",)),
    ("benchmark's own polling", ("wait_done", "_progress")),
    ("bus (embedded)", ("EmbeddedBus", "EmbeddedConsumer")),
    ("bus (Kafka client)", ("KafkaConsumer", "KafkaBus", "aiokafka")),
    ("ledger threads (SQLAlchemy, sqlite3)", ("store/db.py", "sqlalchemy")),
)


def summarize(path: Path, top: int = 0) -> tuple[Counter[str], Counter[str], int]:
    parts: Counter[str] = Counter()
    other: Counter[str] = Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        stack, n_text = line.rsplit(" ", 1)
        n = int(n_text)
        total += n
        for name, markers in PARTS:
            if any(m in stack for m in markers):
                parts[name] += n
                break
        else:
            parts["event loop, other"] += n
            if top:
                frames = [re.sub(r" \(.*?\)", "", f) for f in stack.split(";")[-3:]]
                other[" < ".join(reversed(frames))] += n
    return parts, other, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stacks", type=Path)
    parser.add_argument("--top", type=int, default=0, help="also list the commonest unattributed stacks")
    args = parser.parse_args()
    parts, other, total = summarize(args.stacks, args.top)
    for name, n in parts.most_common():
        print(f"{100 * n / max(total, 1):5.1f} %  {name}")
    print(f"{total} samples")
    for stack, n in other.most_common(args.top):
        print(f"{n:6d}  {stack}")


if __name__ == "__main__":
    main()
