"""Every benchmark once, at the smallest sizes, through bench/run.py: they run and report.

No timing is asserted (the figures of a loaded test machine mean nothing); what is checked is that
each part finishes, writes its figures into results.json and report.md, and that the fan-out
benchmarks reached everyone exactly once. The Kafka parts use the suite's broker.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.kafka_broker import KafkaBroker

ROOT = Path(__file__).resolve().parents[2]


def run_bench(tmp_path: Path, part: str, kafka: str | None = None) -> dict[str, Any]:
    cmd = [sys.executable, "bench/run.py", "--tiny", "--only", part, "--out", str(tmp_path)]
    if kafka:
        cmd += ["--kafka", kafka]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=110, check=False)
    assert proc.returncode == 0, f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    doc: dict[str, Any] = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert (tmp_path / "report.md").read_text(encoding="utf-8").startswith("# Benchmark report")
    assert doc["mode"] == "tiny" and doc["machine"]["cpus"]
    result: dict[str, Any] = doc["results"][part]
    assert "error" not in result, result
    return doc


@pytest.mark.kafka
def test_pipeline_latency_skew_and_throughput_on_both_buses(tmp_path: Path, kafka: KafkaBroker) -> None:
    doc = run_bench(tmp_path, "pipeline", kafka.bootstrap)
    for bus in ("embedded", "kafka"):
        data = doc["results"]["pipeline"][bus]
        assert data["latency"]["latency_ms"]["n"] > 0
        assert data["latency"]["dispatches_per_alert"] >= 1
        assert data["throughput"]["dispatches"] > 0
        # One more alert after a quiet spell, timed apart from the warm ones.
        assert data["latency"]["after_idle_first_alert_ms"] > 0 and data["latency"]["idle_s"] == 1
    statuses = {f["figure"]: f["status"] for f in doc["figures"]}
    assert statuses["ingest-to-send p99, Kafka"] in ("met", "missed")
    assert statuses["first alert after idle, embedded"] in ("met", "missed")
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "summary.png").stat().st_size > 0


@pytest.mark.kafka
def test_bare_relay_baseline(tmp_path: Path, kafka: KafkaBroker) -> None:
    doc = run_bench(tmp_path, "relay", kafka.bootstrap)
    assert doc["results"]["relay"]["relay"]["alerts_per_s"] > 0
    assert doc["results"]["relay"]["hop"]["n"] > 0


@pytest.mark.kafka
@pytest.mark.postgres
def test_scaling_with_worker_processes(tmp_path: Path, kafka: KafkaBroker) -> None:
    doc = run_bench(tmp_path, "scaling", kafka.bootstrap)
    (run,) = doc["results"]["scaling"]["runs"]
    assert run["workers_per_stage"] == 2 and len(run["worker_cpu_s"]) == 2
    assert run["dispatches"] > 0


@pytest.mark.parametrize("part", ["line", "webpush", "circular"])
def test_fan_out_reaches_everyone_once(tmp_path: Path, part: str) -> None:
    result = run_bench(tmp_path, part)["results"][part]
    if part == "line":
        assert result["everyone_exactly_once"]
    elif part == "webpush":
        assert all(v["everyone_exactly_once"] for k, v in result.items() if isinstance(v, dict))
    else:
        assert result["every_leader_once"]


def test_parsing_runs_or_skips_without_the_corpus(tmp_path: Path) -> None:
    result = run_bench(tmp_path, "parse")["results"]["parse"]
    if "skipped" in result:
        return
    assert result["broadcaster"]["refused"] == 0
    if result.get("jmaxml") is not None:
        assert result["both"]["right_broadcaster"] == result["both"]["telegrams"]


def test_voice_synthesis_and_calls_through_the_exchange(tmp_path: Path) -> None:
    doc = run_bench(tmp_path, "voice")
    voice = doc["results"]["voice"]
    assert voice["synthesis"]["messages"] == 2 and voice["synthesis"]["audio_s"]["p50"] > 1.0
    assert voice["calls"]["calls"] == 10 and sum(voice["calls"]["outcomes"].values()) == 10
    names = {f["figure"] for f in doc["figures"]}
    assert "voice calls per minute through the exchange simulator" in names


def test_prefecture_fan_out_reaches_every_town_once_and_is_judged(tmp_path: Path) -> None:
    from broadcaster.render.languages import SUPPORTED

    doc = run_bench(tmp_path, "prefecture")
    result = doc["results"]["prefecture"]
    assert result["line"]["accounts"] == 19 and result["line"]["everyone_exactly_once"]
    assert result["webpush"]["everyone_exactly_once"]
    assert result["fcm"]["topics"] == 19 * len(SUPPORTED) and result["fcm"]["every_device_once"]
    assert [r["processes"] for r in result["encryption"]["runs"]] == [1, 2]
    assert result["projection"]["webpush"]["projected"] is True
    statuses = {f["figure"]: f["status"] for f in doc["figures"]}
    assert statuses["web push encryption: subscriptions per CPU second, each worker process"] in ("met", "missed")


def test_noto_night_burst_reaches_every_town_exactly_once(tmp_path: Path) -> None:
    doc = run_bench(tmp_path, "burst")
    result = doc["results"]["burst"]
    if "skipped" in result:
        return  # the JMA sample corpus is not beside this checkout
    # The baseline is one town alone (one alert at a time); the burst is every town of the run.
    for phase, towns in (("one_at_a_time", {"anamizu"}), ("burst", {"wajima", "suzu", "noto", "anamizu"})):
        p = result[phase]
        assert p["exactly_once"] == {"ok": True, "differences": []}
        assert p["latency_ms"]["n"] > 0 and set(p["accepted_attempts_per_dispatch"]) == {"1"}
        # Every town got the sequence's head on the medium with a receiver per town.
        assert p["fakes_saw"]["webhook"] == dict.fromkeys(towns, 4)
    assert result["same_decisions"] and result["everyone_exactly_once"]
    figure = {f["figure"]: f for f in doc["figures"]}["Noto-night burst: everyone exactly once"]
    assert figure["status"] == "met"
    assert "A Noto night" in (tmp_path / "report.md").read_text(encoding="utf-8")
