"""The Noto-night burst's verdict: a town that got a send twice, or not at all, is a miss.

`exactly_once` compares, per channel and town, what route decided (the ledger) with what each fake
saw; `burst_figures` turns that into the report's figure. Fed phases shaped as bench_burst.py
writes them (the smoke test runs the benchmark itself; tests/bench/test_bench_smoke.py).
"""

from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def load(name: str, file: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def phase() -> dict[str, Any]:
    towns = {"wajima": 4, "anamizu": 4}
    people = {"wajima": 12, "anamizu": 12}
    return {
        "latency_ms": {"p50": 100.0, "p99": 300.0, "max": 310.0, "n": 64},
        "skew_ms": {"p50": 50.0, "p99": 120.0, "max": 130.0, "n": 8},
        "alert_to_last_send_ms": {"p50": 150.0, "p99": 350.0, "max": 360.0, "n": 8},
        "dispatch_states": {"accepted": 64},
        "decided_per_channel_town": {c: dict(towns) for c in ("line", "x", "mastodon", "bluesky", "webhook", "email")},
        "recipients_per_channel_town": {"app_push": dict(people), "email": dict(people)},
        "accepted_attempts_per_dispatch": {"1": 64},
        "dispatches_accepted_without_attempt": 0,
        "fakes_saw": {
            **{c: dict(towns) for c in ("line", "x", "mastodon", "bluesky", "webhook", "email")},
            "email_recipients": dict(people),
            "app_push": dict(people),
        },
    }


def document(base: dict[str, Any], burst: dict[str, Any], bb: ModuleType) -> dict[str, Any]:
    base["exactly_once"], burst["exactly_once"] = bb.exactly_once(base), bb.exactly_once(burst)
    return {
        "burst": {
            "towns": ["輪島市", "穴水町"], "telegrams": ["a.xml"] * 4, "real_span_s": 150.0, "compress": 30.0,
            "one_at_a_time": base, "burst": burst, "same_decisions": True,
            "everyone_exactly_once": base["exactly_once"]["ok"] and burst["exactly_once"]["ok"],
        }
    }


def verdict(doc: dict[str, Any], run: ModuleType) -> dict[str, Any]:
    figures = {f["figure"]: f for f in run.burst_figures(doc)}
    result: dict[str, Any] = figures["Noto-night burst: everyone exactly once"]
    return result


def test_every_town_once_is_met_and_the_ratios_are_to_one_at_a_time() -> None:
    bb, run = load("bench_burst_module", "bench_burst.py"), load("bench_run_module_b", "run.py")
    slow = phase()
    slow["latency_ms"]["p99"] = 600.0
    doc = document(phase(), slow, bb)
    assert verdict(doc, run)["status"] == "met"
    p99 = {f["figure"]: f for f in run.burst_figures(doc)}["Noto-night burst: ingest-to-send p99"]
    assert p99["ratio"] == 2.0 and p99["baseline"] == "one alert at a time 300.0 ms"


def test_a_send_seen_twice_or_never_is_a_miss() -> None:
    bb, run = load("bench_burst_module", "bench_burst.py"), load("bench_run_module_b", "run.py")
    twice = phase()
    twice["fakes_saw"]["line"]["wajima"] = 5  # one LINE broadcast of 輪島市 twice
    doc = document(phase(), twice, bb)
    assert twice["exactly_once"]["differences"] == ["line/wajima: decided 4, the fake saw 5"]
    assert verdict(doc, run)["status"] == "missed"

    lost = copy.deepcopy(phase())
    lost["fakes_saw"]["app_push"]["anamizu"] = 11  # one resident of 穴水町 never pushed
    lost["dispatch_states"] = {"accepted": 63, "failed": 1}
    doc = document(lost, phase(), bb)
    assert "app_push/anamizu: decided 12, the fake saw 11" in lost["exactly_once"]["differences"]
    assert any("not final" in d for d in lost["exactly_once"]["differences"])
    assert verdict(doc, run)["status"] == "missed"
