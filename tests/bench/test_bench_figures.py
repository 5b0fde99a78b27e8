"""The bench report judges every figure of issue 23's table against its target and a same-run baseline.

Fed a results document shaped as the parts write it (no benchmark runs here), `figures` must name
each figure, its target and, where the target is relative, the baseline it was measured against.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def bench_run() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_run_module", ROOT / "bench" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up in sys.modules while the module runs.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def results(cold_ms: float, cpu_ms: float, speedup: float, rate: int) -> dict[str, Any]:
    def bus(extra: dict[str, Any]) -> dict[str, Any]:
        return {
            "latency": {
                "latency_ms": {"p50": 20.0, "p99": 40.0}, "skew_ms": {"p99": 10.0},
                "cold_first_alert_ms": cold_ms, "after_idle_first_alert_ms": cold_ms * 2, "idle_s": 600.0, **extra,
            },
            "throughput": {"alerts_per_s": 5.0, "dispatches": 80, "pipeline_cpu_ms_per_alert": cpu_ms},
        }

    return {
        "pipeline": {"embedded": bus({}), "kafka": bus({"bare_hop_ms_while_pipeline_idle": {"p50": 4.0}})},
        "relay": {"relay": {"alerts_per_s": 10.0}},
        "webpush": {"send_rate": {"subscriptions_per_cpu_second": rate, "subscriptions": 1000}},
        "scaling": {
            "runs": [{"workers_per_stage": 1, "alerts_per_s": 1.0}, {"workers_per_stage": 2, "alerts_per_s": speedup}],
            "projection": {"measured_speedup_1_to_2": speedup},
        },
    }


def by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["figure"]: f for f in bench_run().figures(doc, 1)}


def test_every_figure_of_the_table_has_its_target() -> None:
    figs = by_name(results(cold_ms=50.0, cpu_ms=20.0, speedup=1.8, rate=6000))
    cold = figs["first alert after a restart (cold), embedded"]
    assert cold["target"] == "≤ 1.5 × warm p99" and cold["baseline"] == "warm p99 40.0 ms"
    assert cold["ratio"] == 1.25 and cold["status"] == "met"
    assert figs["pipeline CPU per alert (80 dispatches), embedded"]["status"] == "met"
    assert figs["ingest-to-send p99, embedded"]["target"] == "≤ 50 ms"
    assert figs["cross-channel skew p99, embedded"]["target"] == "≤ 25 ms"
    hops = figs["Kafka ingest-to-send p50 vs 4 bare hops"]
    assert hops["ratio"] == 1.25 and hops["status"] == "met"
    assert figs["throughput, Kafka: pipeline / bare relay"]["status"] == "met"
    assert figs["scaling, Kafka: 2 / 1 worker processes per stage"]["status"] == "met"
    assert figs["web push: subscriptions per CPU second (one sender)"]["status"] == "met"


def test_figures_past_their_targets_are_missed() -> None:
    figs = by_name(results(cold_ms=120.0, cpu_ms=132.0, speedup=0.98, rate=2000))
    assert figs["first alert after a restart (cold), Kafka"]["ratio"] == 3.0
    for name in (
        "first alert after a restart (cold), Kafka",
        "pipeline CPU per alert (80 dispatches), Kafka",
        "scaling, Kafka: 2 / 1 worker processes per stage",
        "web push: subscriptions per CPU second (one sender)",
    ):
        assert figs[name]["status"] == "missed", name


def test_the_first_alert_after_idle_is_judged_against_the_warm_p99() -> None:
    met = by_name(results(cold_ms=25.0, cpu_ms=20.0, speedup=1.8, rate=6000))["first alert after idle, embedded"]
    assert met["value"] == 50.0 and met["baseline"] == "warm p99 40.0 ms"
    assert met["ratio"] == 1.25 and met["status"] == "met" and "600 s" in met["note"]
    missed = by_name(results(cold_ms=50.0, cpu_ms=20.0, speedup=1.8, rate=6000))["first alert after idle, Kafka"]
    assert missed["ratio"] == 2.5 and missed["status"] == "missed"


def test_the_prefecture_projection_follows_the_measured_web_push_rate() -> None:
    slow = by_name(results(cold_ms=25.0, cpu_ms=20.0, speedup=1.8, rate=2000))
    fast = by_name(results(cold_ms=25.0, cpu_ms=20.0, speedup=1.8, rate=5500))
    name = "web push: 1,100,000 subscribers, CPU minutes at the measured rate (projected)"
    assert slow[name]["value"] == 9.2 and fast[name]["value"] == 3.3


def prefecture(per_cpu: tuple[int, int], wall: tuple[int, int]) -> dict[str, Any]:
    runs = [
        {"processes": p, "subscriptions": 20_000, "per_wall_s": w, "per_cpu_s_per_process": c,
         "linearity": round(w / (p * wall[0]), 2)}
        for p, c, w in ((1, per_cpu[0], wall[0]), (2, per_cpu[1], wall[1]))
    ]
    return {"prefecture": {"encryption": {"runs": runs, "cores": 2}}}


def test_web_push_encryption_is_judged_per_worker_process_and_for_linearity() -> None:
    run = bench_run()
    name = "web push encryption: subscriptions per CPU second, each worker process"
    linear = "web push encryption: 2 processes / 2 × one (wall rate)"
    good = {f["figure"]: f for f in run.prefecture_figures(prefecture((9_000, 8_800), (8_000, 15_500)))}
    assert good[name]["status"] == "met" and good[name]["value"] == 8_800, "the slowest worker counts"
    assert good[linear]["status"] == "met" and good[linear]["ratio"] == 0.97
    bad = {f["figure"]: f for f in run.prefecture_figures(prefecture((9_000, 4_500), (8_000, 9_000)))}
    assert bad[name]["status"] == "missed" and bad[linear]["status"] == "missed"
    assert bad[linear]["baseline"] == "1 process 8,000 /s"
