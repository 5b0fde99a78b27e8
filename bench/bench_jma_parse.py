"""Parse + normalize rate of the JMA parser over the official sample corpus, on one core.

    python bench/bench_jma_parse.py            # every sample, several rounds
    python bench/bench_jma_parse.py --quick    # one round, for a smoke run

If the ``jmaxml`` package is installed, the same files are run through it for comparison, and
each parser is checked against values read independently with plain lxml (title, EventID,
report time; magnitude, maximum intensity and epicentre for earthquakes; tsunami area names;
warning kinds) on the files both claim to handle.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.ingest.jma import parse_bytes  # noqa: E402
from broadcaster.errors import ParseError  # noqa: E402
from broadcaster.model import Alert  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "jma" / "official_samples"
SEIS = "{http://xml.kishou.go.jp/jmaxml1/body/seismology1/}"
MET = "{http://xml.kishou.go.jp/jmaxml1/body/meteorology1/}"
EB = "{http://xml.kishou.go.jp/jmaxml1/elementBasis1/}"
IB = "{http://xml.kishou.go.jp/jmaxml1/informationBasis1/}"
J = "{http://xml.kishou.go.jp/jmaxml1/}"


@dataclass
class Truth:
    """Facts read with plain lxml, the yardstick for both parsers."""

    title: str
    event_id: str
    report_datetime: datetime
    magnitude: str | None = None
    max_int: str | None = None
    epicenter: str | None = None
    tsunami_areas: set[str] = field(default_factory=set)
    warning_kinds: set[str] = field(default_factory=set)


def truth(data: bytes) -> Truth:
    root = etree.fromstring(data)
    t = Truth(
        title=root.findtext(f"{J}Control/{J}Title") or "",
        event_id=(root.findtext(f"{IB}Head/{IB}EventID") or "").strip(),
        report_datetime=datetime.fromisoformat(root.findtext(f"{IB}Head/{IB}ReportDateTime") or ""),
    )
    mag = root.find(f".//{SEIS}Earthquake/{EB}Magnitude")
    if mag is not None and mag.text and mag.text != "NaN":
        t.magnitude = mag.text
    t.max_int = root.findtext(f".//{SEIS}Intensity/{SEIS}Observation/{SEIS}MaxInt")
    t.epicenter = root.findtext(f".//{SEIS}Earthquake/{SEIS}Hypocenter/{SEIS}Area/{SEIS}Name")
    t.tsunami_areas = {
        item.findtext(f"{SEIS}Area/{SEIS}Name") or ""
        for item in root.iterfind(f".//{SEIS}Tsunami/{SEIS}Forecast/{SEIS}Item")
        if item.findtext(f"{SEIS}Category/{SEIS}Kind/{SEIS}Code") not in ("00", None)
    }
    t.warning_kinds = {
        kind.findtext(f"{MET}Name") or ""
        for warning in root.iterfind(f"{MET}Body/{MET}Warning")
        if (warning.get("type") or "").startswith("気象警報・注意報")
        for kind in warning.iterfind(f"{MET}Item/{MET}Kind")
        if kind.findtext(f"{MET}Status")
        in ("発表", "継続", "特別警報から警報", "特別警報から注意報", "警報から注意報")
    }
    return t


def ours_right(alert: Alert, t: Truth) -> bool:
    info = alert.primary
    ok = (
        info.event_codes("jma:title") == (t.title,)
        and (info.param("eventId") or "") == t.event_id
        and alert.sent == t.report_datetime
    )
    if t.magnitude is not None:
        ok = ok and info.param("magnitude") == t.magnitude
    if t.max_int is not None:
        ok = ok and info.param("maxIntensity") == t.max_int
    if t.epicenter is not None:
        ok = ok and info.param("hypocenterName") == t.epicenter
    if t.tsunami_areas:
        ok = (
            ok
            and {p.value.split("|")[1] for p in info.parameter if p.value_name == "tsunamiArea"}
            >= t.tsunami_areas
        )
    if t.warning_kinds:
        got = {p.value.split("|")[3] for p in info.parameter if p.value_name == "warning"}
        ok = ok and got >= t.warning_kinds
    return ok


def jmaxml_right(report: Any, t: Truth) -> bool:
    ok = (
        report.title == t.title
        and report.event_id == t.event_id
        and report.report_datetime == t.report_datetime
    )
    kind = type(report).__name__
    if kind == "EarthquakeReport":
        if t.magnitude is not None:
            ok = ok and report.magnitude is not None and float(t.magnitude) == report.magnitude
        if t.max_int is not None:
            ok = ok and report.max_intensity == t.max_int
        if t.epicenter is not None:
            ok = ok and report.epicenter == t.epicenter
    if kind == "TsunamiReport" and t.tsunami_areas:
        ok = ok and {a.name for a in report.areas} >= t.tsunami_areas
    if kind == "WeatherWarningReport" and t.warning_kinds:
        ok = ok and {w.name for w in report.warnings} >= t.warning_kinds
    return bool(ok)


def rate(fn: Callable[[bytes], object], bodies: list[bytes], rounds: int) -> tuple[float, int, list[float]]:
    """Best-of-rounds messages per second, how many bodies fn refused, per-body seconds (last round)."""
    refused = 0
    best = 0.0
    each: list[float] = []
    for _ in range(rounds):
        refused = 0
        each = []
        start = time.perf_counter()
        for body in bodies:
            t0 = time.perf_counter()
            try:
                fn(body)
            except Exception:  # a benchmark counts failures of either parser, whatever they raise
                refused += 1
            each.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - start
        best = max(best, len(bodies) / elapsed)
    return best, refused, each


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one round (smoke run)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    args = ap.parse_args(argv)
    files = sorted(args.corpus.glob("*.xml"))
    if not files:
        print(f"no samples under {args.corpus}", file=sys.stderr)
        return 1
    bodies = [f.read_bytes() for f in files]
    rounds = 1 if args.quick else args.rounds
    total_mb = sum(map(len, bodies)) / 1e6

    parse_bytes(bodies[0])  # imports and table loading are not part of the rate
    ours_rate, ours_refused, each = rate(parse_bytes, bodies, rounds)
    sizes = sorted(len(b) for b in bodies)
    print(
        f"corpus: {len(bodies)} telegrams, {total_mb:.1f} MB, median {statistics.median(sizes) / 1e3:.1f} KB"
    )
    print(
        f"broadcaster jma: {ours_rate:,.0f} msg/s ({ours_rate * total_mb / len(bodies):.1f} MB/s), "
        f"refused {ours_refused}; per telegram median {statistics.median(each) * 1e3:.2f} ms, "
        f"max {max(each) * 1e3:.1f} ms"
    )

    try:
        import jmaxml  # type: ignore[import-untyped]
    except ImportError:
        print("jmaxml: not installed, no comparison")
        return 0
    import logging

    logging.getLogger("jmaxml").setLevel(logging.ERROR)
    their_rate, their_refused, _ = rate(jmaxml.parse, bodies, rounds)
    print(f"jmaxml {getattr(jmaxml, '__version__', '?')}: {their_rate:,.0f} msg/s, raised on {their_refused}")

    both = ours_ok = theirs_ok = 0
    ours_only: list[str] = []
    theirs_only: list[str] = []
    for path, body in zip(files, bodies, strict=True):
        t = truth(body)
        try:
            ours = parse_bytes(body)[0]
        except ParseError:
            continue
        try:
            theirs = jmaxml.parse(body)
        except Exception:  # jmaxml raises whatever its parser raises
            continue
        both += 1
        a, b = ours_right(ours, t), jmaxml_right(theirs, t)
        ours_ok += a
        theirs_ok += b
        if a and not b:
            theirs_only.append(path.name)
        if b and not a:
            ours_only.append(path.name)
    print(f"handled by both: {both}; right (vs plain lxml): broadcaster {ours_ok}, jmaxml {theirs_ok}")
    print(f"  jmaxml wrong where broadcaster right: {len(theirs_only)} e.g. {theirs_only[:5]}")
    print(f"  broadcaster wrong where jmaxml right: {len(ours_only)} e.g. {ours_only[:5]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
