"""Slow tier: coverage-guided fuzzing of every parser with atheris (tests/atheris_parsers.py).

Each parser is fuzzed for BROADCASTER_ATHERIS_SECONDS (60 by default) in a process of its own,
starting from the project's samples and the corpus. A crash (any exception but ParseError, an
invalid Alert) or an input slower than 10 s fails the test with the input kept as a crash file.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz_support import TARGETS

pytest.importorskip("atheris", reason="atheris is not installed (it ships wheels for CPython 3.11 on Linux)")

ROOT = Path(__file__).resolve().parents[2]
SECONDS = int(os.environ.get("BROADCASTER_ATHERIS_SECONDS", "60"))


@pytest.mark.slow
@pytest.mark.timeout(SECONDS * 3 + 120)
@pytest.mark.parametrize("name", sorted(TARGETS))
def test_atheris_finds_nothing(name: str, tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for i, seed in enumerate(TARGETS[name].seeds(with_corpus=True)):
        (seeds / f"seed-{i:04d}").write_bytes(seed)
    out = tmp_path / "atheris.log"
    with out.open("wb") as log:
        proc = subprocess.run(
            [
                sys.executable, str(ROOT / "tests" / "atheris_parsers.py"), name, str(seeds),
                f"-max_total_time={SECONDS}", "-timeout=10", "-max_len=262144", "-rss_limit_mb=3072",
                f"-artifact_prefix={tmp_path}/", "-print_final_stats=1",
            ],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, timeout=SECONDS * 3 + 60, check=False,
        )
    text = out.read_text(encoding="utf-8", errors="replace")
    runs = re.search(r"Done (\d+) runs in (\d+) second", text)
    cov = re.findall(r"cov: (\d+) ft: (\d+)", text)
    print(
        f"\natheris {name}: {runs.group(1) if runs else '?'} runs in {runs.group(2) if runs else '?'} s, "
        f"{len(list(seeds.iterdir()))} seeds, coverage {cov[-1][0] if cov else '?'} edges"
    )
    crashes = sorted(p.name for p in tmp_path.glob("crash-*")) + sorted(p.name for p in tmp_path.glob("timeout-*"))
    assert proc.returncode == 0 and not crashes, f"{name}: exit {proc.returncode}, {crashes}\n{text[-3000:]}"
