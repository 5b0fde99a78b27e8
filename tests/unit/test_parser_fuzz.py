"""Every parser, fed hostile and broken input: valid Alerts or ParseError, never anything else.

Inputs: the project's own samples and the public corpus, mutated (bytes, XML text and tags,
JSON values, splices), truncated at every stride, re-encoded in every encoding with right and
wrong declarations; random bytes, bare and behind each format's opening. Bounded in time per
input (tests/fuzz_support.py). The slow tier runs the same with many more examples and prints
the tallies (docs/reliability.md).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz_support import ENCODINGS, TALLIES, TARGETS, check, mutate

NAMES = sorted(TARGETS)
SEEDS = {name: TARGETS[name].seeds(with_corpus=False) for name in NAMES}
HEADS = {
    "jma": b'<?xml version="1.0" encoding="UTF-8"?><Report xmlns="http://xml.kishou.go.jp/jmaxml1/">',
    "lalert": b'<EDXLDistribution xmlns="urn:oasis:names:tc:emergency:EDXL:DE:1.0">',
    "cap": b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">',
    "jalert": "【Jアラート】".encode(),
    "manual": b'{"status": "Actual", "kind": ',
}
FAST = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    derandomize=False,
)
SLOW = settings(FAST, max_examples=2500)


@pytest.fixture(scope="module", autouse=True)
def _tallies() -> Iterator[None]:
    TALLIES.clear()
    yield
    print("\nparser fuzzing (hypothesis):")
    for name, tally in sorted(TALLIES.items()):
        print("  " + tally.line(name))


def test_every_parser_has_seeds() -> None:
    assert all(SEEDS[name] for name in NAMES), {n: len(s) for n, s in SEEDS.items()}


def _mutated(name: str, data: st.DataObject, seeds: list[bytes]) -> None:
    seed = data.draw(st.sampled_from(seeds), label="seed")
    rng = data.draw(st.randoms(use_true_random=False), label="rng")
    check(TARGETS[name], mutate(rng, seed, seeds))


@pytest.mark.parametrize("name", NAMES)
@FAST
@given(data=st.data())
def test_mutated_samples(name: str, data: st.DataObject) -> None:
    _mutated(name, data, SEEDS[name])


@pytest.mark.parametrize("name", NAMES)
@FAST
@given(body=st.binary(max_size=4096), head=st.booleans())
def test_random_bytes(name: str, body: bytes, head: bool) -> None:
    check(TARGETS[name], (HEADS[name] if head else b"") + body)


@pytest.mark.parametrize("name", NAMES)
def test_every_truncation(name: str) -> None:
    for seed in SEEDS[name]:
        stride = max(1, len(seed) // 150)
        for end in range(0, len(seed), stride):
            check(TARGETS[name], seed[:end])


@pytest.mark.parametrize("name", NAMES)
def test_every_encoding_declared_right_and_wrong(name: str) -> None:
    for seed in SEEDS[name]:
        text = seed.decode("utf-8", "replace")
        for encoding in ENCODINGS:
            body = text.encode(encoding, "replace")
            check(TARGETS[name], body)
            check(TARGETS[name], b"\xef\xbb\xbf" + body)
            if text.lstrip().startswith("<?xml"):
                for declared in ("Shift_JIS", "UTF-16", "EUC-JP", "bogus-8"):
                    swapped = text.replace('encoding="UTF-8"', f'encoding="{declared}"', 1)
                    check(TARGETS[name], swapped.encode(encoding, "replace"))


@pytest.mark.parametrize("name", ["jma", "lalert", "cap"])
def test_mutated_corpus(name: str, corpus: Path) -> None:
    seeds = TARGETS[name].seeds(with_corpus=True)
    rng = random.Random(f"corpus-{name}")
    for seed in seeds:
        check(TARGETS[name], seed)  # the corpus as it is: parsed or refused, never a crash
        for _ in range(3):
            check(TARGETS[name], mutate(rng, seed, seeds))


# -- the slow tier: the same properties, many more cases ------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("name", NAMES)
@SLOW
@given(data=st.data())
def test_mutated_samples_long(name: str, data: st.DataObject) -> None:
    _mutated(name, data, SEEDS[name])


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("name", ["jma", "lalert", "cap"])
def test_mutated_corpus_long(name: str, corpus: Path) -> None:
    seeds = TARGETS[name].seeds(with_corpus=True)
    rng = random.Random(f"corpus-long-{name}")
    for _ in range(4000):
        check(TARGETS[name], mutate(rng, rng.choice(seeds), seeds))


# -- what the fuzzers found, kept as regressions -------------------------------------------------


def _sample(path: str) -> bytes:
    return (Path(__file__).resolve().parents[2] / "samples" / path).read_bytes()


FOUND = [
    # A telegram type without a parser of its own (read generically) whose Areas have an empty
    # codeType: NamedValue refused '' (a ValidationError).
    (
        "jma",
        _sample("jma/01_vxse51_shindo_sokuho.xml")
        .replace("<Title>震度速報</Title>".encode(), "<Title>未知の情報</Title>".encode())
        .replace('codeType="地震情報／細分区域"'.encode(), b'codeType=" "'),
        "missing_code_type",
    ),
    # A prefix used but never declared: lxml keeps "edxlde:EDXLDistribution" and QName() raised.
    (
        "lalert",
        _sample("lalert/anamizu_evacuation_order.xml").replace(b"xmlns:edxlde=", b"xmlns:edxldX=", 1),
        None,
    ),
    # Garbage after a Japanese-style date: int() raised ValueError.
    (
        "jalert",
        _sample("jalert/01_missile_launch.txt").replace(
            b"sent = 2025-07-10T07:00:12+09:00", b"sent = 2025/07/1\x18\x18", 1
        ),
        "bad_datetime",
    ),
    # A district id out of pattern: ManualDistrict raised a ValidationError.
    (
        "manual",
        _sample("manual/evacuation_order.json").replace(b'"kawashima"', b'"kawaShima"', 1),
        "invalid_manual_alert",
    ),
    # A 6000-digit number, and nesting past the recursion limit: json raised ValueError / RecursionError.
    ("manual", b'{"status": ' + b"9" * 6000 + b"}", "malformed_json"),
    ("manual", b"[" * 100_000, "malformed_json"),
    # A time as a number (the API fuzzer): pydantic read 1.4e-45 as seconds since 1970.
    (
        "manual",
        b'{"status": "Exercise", "kind": "notice", "event": "e", "headline": "h", "effective": 1.4e-45}',
        "invalid_manual_alert",
    ),
    # A level as text or a truth value: pydantic would read "4" and true as numbers.
    (
        "manual",
        b'{"status": "Exercise", "kind": "notice", "event": "e", "headline": "h", "level": "4"}',
        "invalid_manual_alert",
    ),
    (
        "manual",
        b'{"status": "Exercise", "kind": "notice", "event": "e", "headline": "h", "level": true}',
        "invalid_manual_alert",
    ),
    ("jalert", b'{"format": "jalert/1", "x": ' + b"[" * 100_000, "malformed_json"),
]


@pytest.mark.parametrize(
    ("name", "body", "reason"), FOUND, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(FOUND)]
)
def test_what_fuzzing_found_is_refused_with_a_reason(name: str, body: bytes, reason: str | None) -> None:
    outcome = check(TARGETS[name], body)
    assert not isinstance(outcome, list), f"{name} accepted it"
    if reason is not None:
        assert outcome.reason == reason, outcome


def test_the_mutator_survives_json_deeper_than_python_recurses() -> None:
    # The coverage-guided fuzzer died in its own mutator (json.loads of [[[[…), not in a parser.
    deep = b"[" * 100_000 + b"]" * 100_000
    rng = random.Random(7)
    for _ in range(50):
        assert isinstance(mutate(rng, deep, [deep]), bytes)
