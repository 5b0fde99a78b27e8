"""Parse + normalize rate of the JMA parser over the official sample corpus, per CPU second.

    python bench/bench_jma_parse.py            # every sample, several rounds
    python bench/bench_jma_parse.py --quick    # one round, for a smoke run

If the ``jmaxml`` package is installed, the same files are run through it for comparison, and
each parser is checked against values read independently with plain lxml (title, EventID,
report time; magnitude, maximum intensity and epicentre for earthquakes; tsunami area names;
warning kinds) on the files both claim to handle.
"""

from __future__ import annotations

import argparse
import json
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
    """Best-of-rounds messages per CPU second (this process's, so that other work on a shared
    machine counts less), how many bodies fn refused, per-body CPU seconds (last round)."""
    refused = 0
    best = 0.0
    each: list[float] = []
    for _ in range(rounds):
        r, refused, each = _one_round(fn, bodies)
        best = max(best, r)
    return best, refused, each


def _one_round(fn: Callable[[bytes], object], bodies: list[bytes]) -> tuple[float, int, list[float]]:
    refused = 0
    each: list[float] = []
    start = time.process_time()
    for body in bodies:
        t0 = time.process_time()
        try:
            fn(body)
        except Exception:  # a benchmark counts failures of either parser, whatever they raise
            refused += 1
        each.append(time.process_time() - t0)
    return len(bodies) / max(time.process_time() - start, 1e-9), refused, each


def interleaved(
    a: Callable[[bytes], object], b: Callable[[bytes], object], bodies: list[bytes], rounds: int
) -> tuple[float, float]:
    """Best rates of a and b, their rounds alternating so that both see the same machine."""
    best_a = best_b = 0.0
    for _ in range(rounds):
        best_a = max(best_a, _one_round(a, bodies)[0])
        best_b = max(best_b, _one_round(b, bodies)[0])
    return best_a, best_b


def measure(corpus: Path = CORPUS, rounds: int = 5, limit: int | None = None) -> dict[str, Any]:
    """Rates (best of `rounds`, per CPU second) of both parsers over the corpus (its first `limit`
    files when given), and correctness counts against plain lxml on the files both handle."""
    files = sorted(corpus.glob("*.xml"))[:limit]
    if not files:
        raise FileNotFoundError(f"no samples under {corpus}")
    bodies = [f.read_bytes() for f in files]
    total_mb = sum(map(len, bodies)) / 1e6

    parse_bytes(bodies[0])  # imports and table loading are not part of the rate
    ours_rate, ours_refused, each = rate(parse_bytes, bodies, rounds)
    sizes = sorted(len(b) for b in bodies)
    out: dict[str, Any] = {
        "corpus": {
            "telegrams": len(bodies),
            "megabytes": round(total_mb, 2),
            "median_kb": round(statistics.median(sizes) / 1e3, 1),
        },
        "rounds": rounds,
        "broadcaster": {
            "per_cpu_s": round(ours_rate, 1),
            "mb_per_s": round(ours_rate * total_mb / len(bodies), 2),
            "refused": ours_refused,
            "median_ms": round(statistics.median(each) * 1e3, 3),
            "max_ms": round(max(each) * 1e3, 2),
        },
    }
    try:
        import jmaxml  # type: ignore[import-untyped]
    except ImportError:
        out["jmaxml"] = None
        return out
    import logging

    logging.getLogger("jmaxml").setLevel(logging.ERROR)
    their_rate, their_refused, _ = rate(jmaxml.parse, bodies, rounds)
    out["jmaxml"] = {
        "version": getattr(jmaxml, "__version__", "?"),
        "per_cpu_s": round(their_rate, 1),
        "raised_on": their_refused,
    }

    both = ours_ok = theirs_ok = 0
    both_bodies: list[bytes] = []
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
        both_bodies.append(body)
        a, b = ours_right(ours, t), jmaxml_right(theirs, t)
        ours_ok += a
        theirs_ok += b
        if a and not b:
            theirs_only.append(path.name)
        if b and not a:
            ours_only.append(path.name)
    # The rate that compares like with like: each parser on the files both handle, in turns.
    ours_both, theirs_both = interleaved(parse_bytes, jmaxml.parse, both_bodies, max(rounds, 2))
    out["both"] = {
        "telegrams": both,
        "broadcaster_per_cpu_s": round(ours_both, 1),
        "jmaxml_per_cpu_s": round(theirs_both, 1),
        "ratio": round(ours_both / theirs_both, 2) if theirs_both else None,
        "right_broadcaster": ours_ok,
        "right_jmaxml": theirs_ok,
        "jmaxml_wrong_where_broadcaster_right": len(theirs_only),
        "broadcaster_wrong_where_jmaxml_right": len(ours_only),
        "examples_jmaxml_wrong": theirs_only[:5],
        "examples_broadcaster_wrong": ours_only[:5],
    }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one round (smoke run)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--limit", type=int, default=None, help="only the first N files")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args(argv)
    try:
        r = measure(args.corpus, 1 if args.quick else args.rounds, args.limit)
    except FileNotFoundError as e:
        print(e, file=sys.stderr)
        return 1
    if args.json:
        args.json.write_text(json.dumps(r, indent=1, ensure_ascii=False), encoding="utf-8")
    c, ours = r["corpus"], r["broadcaster"]
    print(f"corpus: {c['telegrams']} telegrams, {c['megabytes']:.1f} MB, median {c['median_kb']:.1f} KB")
    print(
        f"broadcaster jma: {ours['per_cpu_s']:,.0f} msg/CPU-s ({ours['mb_per_s']:.1f} MB/s), refused {ours['refused']}; "
        f"per telegram median {ours['median_ms']:.2f} ms, max {ours['max_ms']:.1f} ms"
    )
    if r["jmaxml"] is None:
        print("jmaxml: not installed, no comparison")
        return 0
    j, both = r["jmaxml"], r["both"]
    print(f"jmaxml {j['version']}: {j['per_cpu_s']:,.0f} msg/CPU-s, raised on {j['raised_on']}")
    print(
        f"handled by both: {both['telegrams']}; on those, broadcaster {both['broadcaster_per_cpu_s']:,.0f} msg/CPU-s, "
        f"jmaxml {both['jmaxml_per_cpu_s']:,.0f} msg/CPU-s (ratio {both['ratio']})"
    )
    print(f"right (vs plain lxml): broadcaster {both['right_broadcaster']}, jmaxml {both['right_jmaxml']}")
    print(
        f"  jmaxml wrong where broadcaster right: {both['jmaxml_wrong_where_broadcaster_right']} "
        f"e.g. {both['examples_jmaxml_wrong']}"
    )
    print(
        f"  broadcaster wrong where jmaxml right: {both['broadcaster_wrong_where_jmaxml_right']} "
        f"e.g. {both['examples_broadcaster_wrong']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
