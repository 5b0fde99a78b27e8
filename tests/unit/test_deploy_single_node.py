"""deploy/single-node: systemd units, log rotation, the example config, the drill and its rule."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path

import click
import pytest

from broadcaster.cli import main as cli
from broadcaster.rules.engine import load_tenant_rules
from broadcaster.settings import DEFAULT_CHANNELS
from tests.deploy_support import DEPLOY, ROOT, load_module, unit_file
from tests.rules_helpers import demo_settings, directory, manual

SINGLE = DEPLOY / "single-node"
UNITS = sorted(SINGLE.glob("*.service")) + sorted(SINGLE.glob("*.timer"))
SERVICES = sorted(SINGLE.glob("*.service"))

HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "CapabilityBoundingSet": "",
    "SystemCallFilter": "@system-service",
}


def _resolve(args: list[str]) -> None:
    """Parse a `broadcaster ...` command line with the real CLI, as systemd would run it."""
    group: click.Command = cli
    while isinstance(group, click.Group):
        name, args = args[0], args[1:]
        command = group.get_command(click.Context(group), name)
        assert command is not None, f"no command {name!r}"
        group = command
    with click.Context(group) as ctx:
        group.parse_args(ctx, list(args))


@pytest.mark.parametrize("path", SERVICES, ids=lambda p: p.name)
def test_services_are_hardened_and_run_real_commands(path: Path) -> None:
    service = unit_file(path)["Service"]
    for key, value in HARDENING.items():
        assert service.get(key) == [value], f"{path.name}: {key}={value}"
    assert service["User"][0].startswith("broadcaster") and service["User"][0] != "root"
    assert service.get("ReadWritePaths"), "the only places it may write"
    for line in service["ExecStart"]:
        argv = shlex.split(line)
        if argv[0].endswith("/broadcaster"):
            # The drill's alert is installed from samples/ (docs/operations/drills.md).
            _resolve([str(ROOT / "samples" / "manual" / Path(a).name) if a.startswith("/etc/broadcaster/drills/") else a for a in argv[1:]])
        else:
            assert argv[0] == "/opt/broadcaster/venv/bin/python"
            assert argv[1] == "/opt/broadcaster/deploy/single-node/backup.py"
            backup = load_module("deploy_backup", SINGLE / "backup.py")
            backup.build_parser().parse_args(argv[2:])
    if path.name != "broadcaster-jalert-bridge.service":
        assert service["EnvironmentFile"] == ["/etc/broadcaster/broadcaster.env"]
        assert service["Environment"] == ["BROADCASTER_CONFIG=/etc/broadcaster/broadcaster.toml"]


def test_the_main_unit_restarts_for_ever_and_stops_gracefully() -> None:
    unit = unit_file(SINGLE / "broadcaster.service")
    assert unit["Service"]["ExecStart"] == ["/opt/broadcaster/venv/bin/broadcaster run"]
    assert unit["Service"]["Restart"] == ["always"]
    assert unit["Unit"]["StartLimitIntervalSec"] == ["0"]
    assert int(unit["Service"]["TimeoutStopSec"][0]) > 30, "stages finish the message in hand (up to 30 s)"
    assert unit["Service"]["StateDirectory"] == ["broadcaster"]


def test_timers_start_their_services() -> None:
    for timer in SINGLE.glob("*.timer"):
        assert (SINGLE / timer.name.replace(".timer", ".service")).is_file()
        assert unit_file(timer)["Timer"]["OnCalendar"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    for unit in UNITS:
        shutil.copy(unit, tmp_path / unit.name)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(str(tmp_path / u.name) for u in UNITS)],
        capture_output=True, text=True, check=False, timeout=60,
    )
    complaints = [
        line for line in (result.stdout + result.stderr).splitlines()
        # The programs live under /opt/broadcaster only on an installed server.
        if line.strip() and "is not executable: No such file or directory" not in line
    ]
    assert not complaints, complaints


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_drill_runs_in_the_quarters_on_a_wednesday() -> None:
    (calendar,) = unit_file(SINGLE / "broadcaster-drill.timer")["Timer"]["OnCalendar"]
    result = subprocess.run(
        ["systemd-analyze", "calendar", "--iterations=8", calendar],
        capture_output=True, text=True, check=True, timeout=30, env={"TZ": "Asia/Tokyo", "LANG": "C"},
    )
    runs = [line.split(": ", 1)[1].strip() for line in result.stdout.splitlines() if "elapse:" in line or "Iter." in line]
    assert len(runs) == 8
    for run in runs:  # e.g. "Wed 2027-02-17 10:30:00 JST"
        weekday, date, time_of_day = run.split()[:3]
        assert weekday == "Wed" and time_of_day == "10:30:00", run
        assert int(date.split("-")[1]) in (2, 5, 8, 11) and 15 <= int(date.split("-")[2]) <= 21, run


@pytest.mark.skipif(shutil.which("logrotate") is None, reason="logrotate is not installed")
def test_logrotate_accepts_the_outbox_rules(tmp_path: Path) -> None:
    text = (SINGLE / "logrotate.conf").read_text(encoding="utf-8")
    assert "/var/lib/broadcaster/outbox/*/*.jsonl" in text and "sns" not in text.split("{", 1)[1]
    outbox = tmp_path / "outbox" / "anamizu"
    outbox.mkdir(parents=True)
    (outbox / "line.jsonl").write_text("{}\n", encoding="utf-8")
    conf = tmp_path / "logrotate.conf"
    conf.write_text(
        text.replace("/var/lib/broadcaster/outbox", str(tmp_path / "outbox")).replace("su broadcaster broadcaster", ""),
        encoding="utf-8",
    )
    result = subprocess.run(
        ["logrotate", "-d", "-f", "-s", str(tmp_path / "state"), str(conf)],
        capture_output=True, text=True, check=False, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "error" not in result.stderr.lower(), result.stderr
    assert "line.jsonl" in result.stderr


def test_the_drill_sample_is_an_exercise_and_stays_with_the_officers(tmp_path: Path) -> None:
    doc = json.loads((ROOT / "samples" / "manual" / "drill_officers.json").read_text(encoding="utf-8"))
    assert doc["status"] == "Exercise"
    alert = manual("anamizu", **doc)
    districts = [d.id for d in demo_settings().tenants["anamizu"].districts]

    folder = tmp_path / "rules" / "anamizu"
    folder.mkdir(parents=True)
    for f in (ROOT / "rules" / "anamizu").glob("*.yaml"):
        shutil.copy(f, folder / f.name)
    ctx = directory().context("anamizu", alert)
    without = load_tenant_rules(tmp_path / "rules", "anamizu", DEFAULT_CHANNELS, districts).evaluate(alert, ctx)
    # Without the drill rule an officer's drill goes where the real message would: to residents.
    assert any(d.audience != "officers" for d in without.decisions)

    shutil.copy(DEPLOY / "rules" / "05-drill-officers.yaml", folder / "05-drill-officers.yaml")
    with_rule = load_tenant_rules(tmp_path / "rules", "anamizu", DEFAULT_CHANNELS, districts).evaluate(alert, ctx)
    assert with_rule.stopped_by is not None and with_rule.stopped_by.name == "職員あて情報伝達訓練"
    assert {d.audience for d in with_rule.decisions} == {"officers"}
    assert {d.channel for d in with_rule.decisions} == {"email", "line", "app_push"}
    # A real message of the same kind is not caught by the drill rule.
    real = manual("anamizu", **{**doc, "status": "Actual"})
    assert load_tenant_rules(tmp_path / "rules", "anamizu", DEFAULT_CHANNELS, districts).evaluate(
        real, directory().context("anamizu", real)
    ).stopped_by != with_rule.stopped_by
