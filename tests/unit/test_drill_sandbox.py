"""The drill sandbox's guarantees one by one, each without the others (docs/drills.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.outbound.outbox import OutboxAdapter
from broadcaster.drill.sandbox import SandboxPool, exercise, sandbox_settings, stages
from broadcaster.drill.scenario import load
from broadcaster.errors import ConfigError
from broadcaster.model import RawEvent, Status
from broadcaster.pipeline import two_person
from broadcaster.pipeline.runtime import load_parsers
from tests.helpers import TENANTS, make_settings

LIVE_LINE = {"mode": "live", "credentials": {"token": "t"}, "options": {"base_url": "http://127.0.0.1:9"}}


def _settings(tmp: Path) -> object:
    return make_settings(
        tmp,
        tenants={**TENANTS, "anamizu": {**TENANTS["anamizu"], "channels": {"line": LIVE_LINE}}},
        channels={"line": LIVE_LINE, "website": {"mode": "live"}},
    )


def test_the_pool_gives_every_channel_the_outbox_even_when_the_settings_say_live(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    pool = SandboxPool(settings)  # type: ignore[arg-type]
    for channel in ("line", "website", "x"):
        assert isinstance(pool.get("anamizu", channel), OutboxAdapter)
        assert not pool.mode("anamizu", channel).live


def test_the_settings_run_no_live_channel_no_lalert_no_circular_no_feed(tmp_path: Path) -> None:
    sb = sandbox_settings(_settings(tmp_path), tmp_path / "sandbox")  # type: ignore[arg-type]
    assert all(ch.mode == "outbox" and not ch.credentials for ch in sb.channels.values())
    enabled = sb.enabled_channels()
    assert "lalert_out" not in enabled and "circular" not in enabled
    assert not any(c.startswith("area_mail") for c in enabled)
    assert sb.tenants["anamizu"].channels == {} and sb.ingest == {} and sb.hooks == {}
    assert str(sb.outbox_dir).startswith(str(tmp_path / "sandbox")) and "sandbox" in sb.db_url
    assert stages(sb)[:2] == ["normalize", "route"] and "scheduler" not in stages(sb)


def test_every_parsed_alert_is_an_exercise_that_practises_the_two_person_rule() -> None:
    manual = next(p for p in load_parsers() if p.name == "manual")
    body = {
        "status": "Actual",
        "kind": "evacuation",
        "event": "避難指示",
        "headline": "避難指示",
        "districts": ["kawashima"],
    }
    raw = RawEvent(
        source="manual",
        content_type="application/vnd.broadcaster.manual+json",
        body=json.dumps(body, ensure_ascii=False).encode(),
        tenant="anamizu",
        submitted_by="officer:anamizu/tanaka",
    )
    (real,) = manual.parse(raw)
    (drill,) = exercise(manual).parse(raw)
    assert real.status is Status.ACTUAL and drill.status is Status.EXERCISE
    assert two_person.applies(real) and two_person.applies(drill)
    plain = drill.model_copy(update={"info": real.info})
    assert not two_person.applies(plain), "an Exercise outside the drill room is not held"


def test_a_scenario_file_with_mistakes_is_refused_with_its_name(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntenant: anamizu\nsteps:\n  - file: nowhere.xml\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.yaml: step 1: no file nowhere.xml"):
        load(bad)
    bad.write_text("name: x\ntenant: anamizu\nsteps:\n  - note: nothing\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="exactly one of `file`"):
        load(bad)


@pytest.mark.parametrize("name", ["heavy_rain_night.yaml", "noto_quake_tsunami.yaml"])
def test_the_shipped_scenarios_load(name: str) -> None:
    scenario = load(Path(__file__).resolve().parents[2] / "scenarios" / name)
    assert scenario.tenant == "anamizu" and len(scenario.steps) >= 5
