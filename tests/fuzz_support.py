"""What the parser fuzzers share: the parsers, their seeds, mutations, and the one property.

The property, for every parser and every input: the parser returns valid Alerts or raises
ParseError, in bounded time. Any other exception, or an Alert that does not survive its own
JSON round trip, is a bug. Used by tests/unit/test_parser_fuzz.py (hypothesis, both tiers) and
tests/atheris_parsers.py (coverage-guided, the slow tier).
"""

from __future__ import annotations

import json
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from adapters.ingest.cap import CapParser
from adapters.ingest.jalert import JAlertParser
from adapters.ingest.jma import JmaParser
from adapters.ingest.lalert import LAlertParser
from adapters.ingest.manual import CONTENT_TYPE, ManualAlertParser
from broadcaster.errors import ParseError
from broadcaster.model import Alert, RawEvent
from broadcaster.parsing import SourceParser

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
CORPUS = ROOT.parent / "shared" / "corpus"
JST = timezone(timedelta(hours=9))
# Fixed and after every sample's own time, so that samples are not refused as from the future.
RECEIVED = datetime(2030, 1, 1, 9, 0, tzinfo=JST)
# No single input may take longer (a hang or a quadratic blow-up is a bug like a crash). Counted in
# the parser's own CPU time: on a shared machine the wall clock also counts other processes' turns.
TIME_LIMIT_S = 5.0


@dataclass(frozen=True)
class Target:
    name: str
    parser: SourceParser
    source: str
    tenant: str | None = None
    submitted_by: str = "source:test"
    content_type: str = "application/octet-stream"
    sample_globs: tuple[str, ...] = ()
    corpus_globs: tuple[str, ...] = ()

    def raw(self, body: bytes) -> RawEvent:
        return RawEvent(
            source=self.source,
            body=body,
            tenant=self.tenant,
            submitted_by=self.submitted_by,
            content_type=self.content_type,
            received=RECEIVED,
        )

    def seeds(self, with_corpus: bool) -> list[bytes]:
        paths: list[Path] = []
        for pattern in self.sample_globs:
            paths += sorted(SAMPLES.glob(pattern))
        if with_corpus and CORPUS.is_dir():
            for pattern in self.corpus_globs:
                paths += sorted(CORPUS.glob(pattern))
        seeds = [p.read_bytes() for p in paths if p.is_file()]
        if self.name == "cap":
            seeds += _cap_seeds()
        return seeds


def _cap_seeds() -> list[bytes]:
    """The project has no CAP samples of its own: its JMA and L-Alert samples, written as CAP."""
    from broadcaster.cap.write import to_cap

    out: list[bytes] = []
    for path in sorted(SAMPLES.glob("jma/*.xml")) + sorted(SAMPLES.glob("lalert/*.xml")):
        parser: SourceParser = JmaParser() if path.parent.name == "jma" else LAlertParser()
        raw = RawEvent(
            source=path.parent.name,
            body=path.read_bytes(),
            tenant=None if path.parent.name == "jma" else "anamizu",
            submitted_by="source:test",
            received=RECEIVED,
        )
        try:
            out += [to_cap(alert) for alert in parser.parse(raw)[:2]]
        except ParseError:
            continue
    return out


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            "jma",
            JmaParser(),
            "jma",
            sample_globs=("jma/*.xml",),
            corpus_globs=("jma/official_samples/*.xml",),
        ),
        Target(
            "lalert",
            LAlertParser(),
            "lalert",
            tenant="anamizu",
            sample_globs=("lalert/*.xml",),
            corpus_globs=("lalert/**/*.xml",),
        ),
        Target("cap", CapParser(), "cap", sample_globs=(), corpus_globs=("cap/examples/*.xml",)),
        Target(
            "jalert",
            JAlertParser(),
            "jalert",
            sample_globs=("jalert/*.txt", "jalert/*.json", "jma/12_*.xml"),
        ),
        Target(
            "manual",
            ManualAlertParser(),
            "manual",
            tenant="anamizu",
            submitted_by="officer:anamizu/tanaka",
            content_type=CONTENT_TYPE,
            sample_globs=("manual/*.json",),
        ),
    )
}


class UnexpectedError(AssertionError):
    """The property failed: the message says how, the cause is the parser's own exception."""


@dataclass
class Tally:
    cases: int = 0
    parsed: int = 0
    alerts: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    slowest_s: float = 0.0

    def line(self, name: str) -> str:
        top = ", ".join(f"{r} {n}" for r, n in self.refused.most_common(4))
        return (
            f"{name}: {self.cases} cases, {self.parsed} parsed ({self.alerts} alerts), "
            f"{sum(self.refused.values())} refused [{top}], slowest {self.slowest_s * 1000:.0f} ms"
        )


TALLIES: dict[str, Tally] = {}


def check(target: Target, body: bytes) -> list[Alert] | ParseError:
    """The property; raises UnexpectedError when it does not hold."""
    tally = TALLIES.setdefault(target.name, Tally())
    tally.cases += 1
    raw = target.raw(body)
    started = time.thread_time()
    try:
        alerts = list(target.parser.parse(raw))
    except ParseError as e:
        if not e.reason:
            raise UnexpectedError(f"{target.name}: ParseError without a reason") from e
        tally.refused[e.reason] += 1
        return e
    except Exception as e:
        raise UnexpectedError(
            f"{target.name}: {type(e).__name__} instead of ParseError: {str(e)[:300]}"
        ) from e
    finally:
        elapsed = time.thread_time() - started
        tally.slowest_s = max(tally.slowest_s, elapsed)
        if elapsed > TIME_LIMIT_S:
            raise UnexpectedError(f"{target.name}: {elapsed:.1f} s of CPU for {len(body)} bytes")
    tally.parsed += 1
    tally.alerts += len(alerts)
    for alert in alerts:
        if not isinstance(alert, Alert):
            raise UnexpectedError(f"{target.name}: returned {type(alert).__name__}, not an Alert")
        again = Alert.model_validate_json(alert.model_dump_json(by_alias=True))
        if again != alert:
            raise UnexpectedError(
                f"{target.name}: alert {alert.identifier} does not survive its JSON round trip"
            )
        if alert.tenant not in (None, target.tenant):
            raise UnexpectedError(f"{target.name}: alert claims tenant {alert.tenant}")
    return alerts


# -- mutations (plain functions over a random source, shared by hypothesis and atheris) ----------

INTERESTING_TEXT = (
    "",
    " ",
    "0",
    "-1",
    "１２",
    "999999999999999999999999",
    "1e309",
    "NaN",
    "-0",
    "0x10",
    "2024-13-45T25:61:00+09:00",
    "9999-12-31T23:59:59+09:00",
    "0001-01-01T00:00:00Z",
    "2024-01-01T16:12:00",
    "2024-01-01T16:12:00+25:00",
    "2099-01-01T00:00:00+09:00",
    "取消",
    "訂正",
    "遅延",
    "Cancel",
    "Update",
    "Actual",
    "Exercise",
    "訓練",
    "試験",
    "\u202e\u200b",
    "😀" * 3,
    "x" * 5000,
    "<",
    "&amp;",
    "]]>",
    "\x00",
    "\ufeff",
    "\\",
    "'\"",
)
ENCODINGS = (
    "utf-8",
    "utf-16",
    "utf-16-be",
    "shift_jis",
    "cp932",
    "euc_jp",
    "iso-2022-jp",
    "latin-1",
    "ascii",
)
_TEXT_NODE = re.compile(rb">([^<>]{1,200})<")
_ATTR = re.compile(rb'="([^"]{0,100})"')
_TAG = re.compile(rb"<(/?)([A-Za-z_][\w.:-]*)")
_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")


def _span(rng: random.Random, n: int) -> tuple[int, int]:
    a = rng.randrange(n + 1)
    b = min(n, a + rng.choice((1, 2, 4, 16, 64, 512)))
    return a, b


def _sub_match(rng: random.Random, data: bytes, pattern: re.Pattern[bytes], value: bytes) -> bytes:
    found = list(pattern.finditer(data))
    if not found:
        return data
    m = rng.choice(found)
    return data[: m.start(1)] + value + data[m.end(1) :]


def _reencode(rng: random.Random, data: bytes) -> bytes:
    text = data.decode("utf-8", "replace")
    encoding = rng.choice(ENCODINGS)
    declared = rng.choice((encoding, "UTF-8", "Shift_JIS", "x-unknown", None))
    if rng.random() < 0.7:
        decl = f'<?xml version="1.0" encoding="{declared}"?>' if declared else '<?xml version="1.0"?>'
        text = _DECL.sub("", text.lstrip("\ufeff"), count=1) if text.lstrip().startswith("<?xml") else text
        if text.lstrip().startswith("<"):
            text = decl + text
    return text.encode(encoding, "replace")


def mutate(rng: random.Random, data: bytes, seeds: Sequence[bytes]) -> bytes:
    """One to four mutations: bytes, structure (XML text, attributes, tags; JSON values), encodings."""
    for _ in range(rng.randint(1, 4)):
        n = len(data)
        op = rng.randrange(12)
        if op == 0 and n:  # flip a byte
            i = rng.randrange(n)
            data = data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1 :]
        elif op == 1:  # insert random bytes
            i = rng.randrange(n + 1)
            data = data[:i] + rng.randbytes(rng.choice((1, 3, 16, 200))) + data[i:]
        elif op == 2 and n:  # delete a span
            a, b = _span(rng, n)
            data = data[:a] + data[b:]
        elif op == 3 and n:  # duplicate a span
            a, b = _span(rng, n)
            data = data[:b] + data[a:b] * rng.choice((2, 10, 200)) + data[b:]
        elif op == 4 and n:  # truncate
            data = data[: rng.randrange(n)]
        elif op == 5 and seeds:  # splice with another seed
            other = rng.choice(seeds)
            data = data[: rng.randrange(n + 1)] + other[rng.randrange(len(other) + 1) :]
        elif op in (6, 7):  # an XML text node becomes something awkward
            value = rng.choice(INTERESTING_TEXT).encode("utf-8")
            data = _sub_match(rng, data, _TEXT_NODE, value)
        elif op == 8:  # an attribute value likewise
            data = _sub_match(
                rng, data, _ATTR, rng.choice(INTERESTING_TEXT).encode("utf-8").replace(b'"', b"")
            )
        elif op == 9:  # a tag renamed (an unknown element, a wrong namespace prefix)
            data = _sub_match(
                rng, data, _TAG, rng.choice((b"Foo", b"jmx:Report", b"Head", b"Item", b"info", b"x:y"))
            )
        elif op == 10:  # another encoding, declared right or wrong
            data = _reencode(rng, data)
        else:  # JSON: a value replaced by another kind of value
            data = _mutate_json(rng, data)
    return data


_JSON_VALUES: tuple[object, ...] = (
    None,
    True,
    0,
    -1,
    1e308,
    "",
    "x" * 3000,
    [],
    {},
    ["a"],
    {"a": 1},
    "2024-02-30T00:00:00+09:00",
    "Cancel",
)


def _mutate_json(rng: random.Random, data: bytes) -> bytes:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):  # [[[[… deeper than Python recurses
        return data
    if isinstance(doc, dict) and doc:
        key = rng.choice(sorted(doc))
        if rng.random() < 0.2:
            del doc[key]
        else:
            doc[key] = rng.choice(_JSON_VALUES)
    elif isinstance(doc, dict):
        doc["status"] = "Actual"
    # json.loads keeps lone surrogates (a "\udf20" escape); written raw they are not UTF-8, which
    # is one more kind of bad input for the parser (the mutator itself must not fail on them).
    return json.dumps(doc, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")


def run_many(target: Target, inputs: Callable[[], bytes], n: int) -> Tally:
    for _ in range(n):
        check(target, inputs())
    return TALLIES[target.name]
