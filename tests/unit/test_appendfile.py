"""Append-only files: a full disk or a crash leaves whole records only (the outbox, SNS post logs)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from adapters.outbound.outbox import OutboxAdapter, read_outbox
from adapters.outbound.sns.posted import Post, PostLog
from broadcaster import appendfile
from tests.fakes.deliveries import delivery

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def logged() -> Iterator[list[MutableMapping[str, Any]]]:
    """Every event logged inside, whatever level an earlier test (the demo: ERROR) configured."""
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    try:
        with capture_logs() as logs:
            yield logs
    finally:
        structlog.configure(**saved)


# A child process whose files may not grow past LIMIT bytes (RLIMIT_FSIZE, no root needed): the
# kernel takes part of the write that crosses the limit and refuses the next, as a full disk does.
# It sends deliveries through the outbox and prints, per delivery, what the ledger would be told.
CHILD = textwrap.dedent(
    """
    import asyncio, json, resource, signal, sys
    from pathlib import Path
    from adapters.outbound.outbox import OutboxAdapter
    from broadcaster.errors import TransientError
    from tests.fakes.deliveries import delivery, text

    path, limit, count = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    async def main() -> None:
        outbox = OutboxAdapter("line", path)
        for n in range(count):
            d = delivery("line", text(f"【穴水町】避難指示 {n} " + "川島地区、大町地区。" * (n % 7 + 1)), attempt=n + 1)
            try:
                result = await outbox.send(d)
            except TransientError as e:
                print("TOLD", json.dumps({"n": n, "key": d.idempotency_key, "outcome": "transient", "why": str(e)}))
            else:
                print("TOLD", json.dumps({"n": n, "key": d.idempotency_key, "outcome": "accepted", "ref": result.provider_ref}))

    asyncio.run(main())
    """
)


def run_child(path: Path, limit: int, count: int) -> tuple[list[dict[str, str]], str]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(limit), str(count)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    told = [json.loads(line[5:]) for line in done.stdout.splitlines() if line.startswith("TOLD ")]
    return told, done.stdout


def test_a_full_disk_leaves_whole_records_that_match_what_the_ledger_was_told(tmp_path: Path) -> None:
    path = tmp_path / "outbox" / "anamizu" / "line.jsonl"
    told, output = run_child(path, 6000, 40)
    assert "append_file_cut" in output and "reason=write_refused" in output
    accepted = [t for t in told if t["outcome"] == "accepted"]
    refused = [t for t in told if t["outcome"] == "transient"]
    assert accepted and refused, "the limit was reached part way"
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    lines = raw.split(b"\n")[:-1]
    records = [json.loads(line) for line in lines]  # every line parses
    assert [(r["attempt"] - 1, r["idempotency_key"]) for r in records] == [
        (int(t["n"]), t["key"]) for t in accepted
    ]
    # each accepted record's reference is the offset where its line starts
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    assert [t["ref"] for t in accepted] == [f"line.jsonl@{s}" for s in starts]

    # Space comes back (no limit): the retries of the refused ones append cleanly after the rest.
    retried, _ = run_child(path, 10**9, 40)
    assert all(t["outcome"] == "accepted" for t in retried)
    assert len(read_outbox(path)) == len(records) + 40


def test_a_torn_tail_is_cut_back_to_the_last_whole_record_and_logged(tmp_path: Path) -> None:
    path = tmp_path / "line.jsonl"
    whole = b'{"n": 1}\n{"n": 2}\n'
    path.write_bytes(whole + b'{"n": 3, "te')
    with logged() as logs:
        OutboxAdapter("line", path)  # a worker starting
    assert path.read_bytes() == whole
    assert [(e["event"], e["reason"], e["cut"]) for e in logs] == [("append_file_cut", "torn_tail", 12)]


def test_zeros_left_by_a_power_cut_go_with_the_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "line.jsonl"
    path.write_bytes(b'{"n": 1}\n' + b"\0" * 40 + b"\n" + b"\0" * 9)
    assert appendfile.recover(path) == 50
    assert path.read_bytes() == b'{"n": 1}\n'


def test_a_whole_file_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "line.jsonl"
    path.write_bytes(b'{"n": 1}\n')
    with logged() as logs:
        assert appendfile.recover(path) == 0
        assert appendfile.recover(tmp_path / "missing.jsonl") == 0
    assert logs == []


async def test_a_record_never_joins_a_torn_one(tmp_path: Path) -> None:
    path = tmp_path / "outbox" / "anamizu" / "line.jsonl"
    outbox = OutboxAdapter("line", path)
    await outbox.send(delivery("line"))
    with path.open("ab") as f:  # another process died halfway through its record
        f.write(b'{"channel": "line", "ten')
    await outbox.send(delivery("line", attempt=2))
    assert [r["attempt"] for r in read_outbox(path)] == [1, 2]


async def test_the_sns_post_log_recovers_and_appends_whole_lines(tmp_path: Path) -> None:
    log = PostLog.under(tmp_path, "x", "anamizu")
    await log.record(Post("k1", "a1", 0, "111"))
    with log.path.open("ab") as f:
        f.write(b'{"key": "k2", "al')
    fresh = PostLog(log.path)
    assert [p.ref for p in await fresh.of_alert("a1")] == ["111"]
    await fresh.record(Post("k3", "a1", 0, "333"))
    assert [json.loads(line)["ref"] for line in log.path.read_bytes().splitlines()] == ["111", "333"]


def test_a_record_is_one_line() -> None:
    with pytest.raises(ValueError, match="one line"):
        appendfile.append(Path("/nonexistent/x"), b'{"a": 1}')
