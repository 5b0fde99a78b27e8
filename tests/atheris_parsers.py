"""Coverage-guided fuzzing of one parser with atheris (libFuzzer), run by the slow tier.

    python tests/atheris_parsers.py PARSER SEED_DIR [libFuzzer options...]

The property is the hypothesis fuzzers' (tests/fuzz_support.py): valid Alerts or ParseError, in
bounded time. Mutations are libFuzzer's own and, half of the time, the structure-aware ones of
fuzz_support (XML text and tags, JSON values, encodings, splices). An input that breaks the
property stops the run with a traceback and a crash file (libFuzzer's -artifact_prefix).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

with atheris.instrument_imports(include=["adapters", "broadcaster"]):
    from tests.fuzz_support import TARGETS, check

NAME = sys.argv.pop(1)
TARGET = TARGETS[NAME]
SEEDS = TARGET.seeds(with_corpus=True)


def one_input(data: bytes) -> None:
    check(TARGET, data)


def mutator(data: bytes, max_size: int, seed: int) -> bytes:
    from tests.fuzz_support import mutate

    rng = random.Random(seed)
    if rng.random() < 0.5:
        return bytes(atheris.Mutate(data, max_size))
    return mutate(rng, data, SEEDS)[:max_size]


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input, custom_mutator=mutator)
    atheris.Fuzz()
