"""The `broadcaster` command as an operator uses it, in real subprocesses."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyotp
import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"

CONFIG = """
var_dir = "{tmp}"
db_url = "sqlite+aiosqlite:///{tmp}/ledger.sqlite3"
outbox_dir = "{tmp}/outbox"
tenants_dir = "{root}/config/tenants"

[web]
port = 0

[bus]
url = "embedded:{tmp}/bus.sqlite3"
poll_interval_s = 0.05
"""


def cli(config: Path | None, *args: str, timeout: float = 120, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    if config is not None:
        env["BROADCASTER_CONFIG"] = str(config)
    return subprocess.run(
        [sys.executable, "-m", "broadcaster.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=timeout,
        check=False,
        cwd=ROOT,
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "broadcaster.toml"
    path.write_text(CONFIG.format(tmp=tmp_path, root=ROOT), encoding="utf-8")
    return path


def test_check_passes_on_the_demo_configuration(config: Path) -> None:
    result = cli(config, "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rules for anamizu" in result.stdout
    assert "channel line for anamizu: outbox (no credentials" in result.stdout
    assert "all checks passed" in result.stdout


def test_check_names_the_file_and_line_of_a_broken_rule(config: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules" / "anamizu"
    rules.mkdir(parents=True)
    (rules / "10.yaml").write_text(
        "rules:\n  - name: ok\n    channels: [website]\n  - name: bad\n    channels: [pager]\n", encoding="utf-8"
    )
    for tenant in ("wajima", "noto"):
        (tmp_path / "rules" / tenant).mkdir()
        (tmp_path / "rules" / tenant / "10.yaml").write_text("rules:\n  - name: x\n    channels: [website]\n")
    result = cli(config, "check", timeout=60)
    env_result = subprocess.run(
        [sys.executable, "-m", "broadcaster.cli", "check"],
        env={**os.environ, "BROADCASTER_CONFIG": str(config), "BROADCASTER_RULES_DIR": str(tmp_path / "rules")},
        capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
    )
    assert result.returncode == 0
    assert env_result.returncode == 1
    assert f"{rules / '10.yaml'}:4" in env_result.stdout
    assert "unknown channel(s) pager" in env_result.stdout


def test_parse_prints_cap_named_json_lines_and_refuses_garbage() -> None:
    result = cli(None, "parse", str(SAMPLES / "jma" / "01_vxse51_shindo_sokuho.xml"), str(SAMPLES / "lalert" / "anamizu_shelter_open.xml"))
    assert result.returncode == 0, result.stderr
    docs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["origin"] for d in docs] == ["jma", "lalert"]
    assert docs[0]["msgType"] == "Alert"
    assert docs[0]["info"][0]["eventCode"]
    bad = cli(None, "parse", str(SAMPLES / "manual" / "garbled.xml"))
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["refused"] == "malformed_xml"


def _add_user(config: Path, name: str, role: str) -> str:
    added = cli(config, "users", "add", name, "--tenant", "anamizu", "--role", role, "--password-stdin", stdin="a long enough password\n")
    assert added.returncode == 0, added.stderr
    return added.stdout.split("second factor secret:", 1)[1].split()[0]


def _status(config: Path) -> dict[str, Any]:
    result = cli(config, "status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_send_run_and_status_end_to_end(config: Path) -> None:
    assert cli(config, "db", "upgrade").returncode == 0
    refused = cli(config, "send", str(SAMPLES / "manual" / "evacuation_order.json"))
    assert refused.returncode == 1
    assert "needs --officer and --tenant" in refused.stderr

    log = (config.parent / "run.log").open("wb")
    run = subprocess.Popen(
        [sys.executable, "-m", "broadcaster.cli", "run"],
        env={**os.environ, "BROADCASTER_CONFIG": str(config)},
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    try:
        assert cli(config, "send", str(SAMPLES / "jma" / "02_vtse41_otsunami_keiho.xml")).returncode == 0
        assert cli(config, "send", str(SAMPLES / "manual" / "garbled.xml")).returncode == 0
        sent = cli(config, "send", "--officer", "tanaka", "--tenant", "anamizu", str(SAMPLES / "manual" / "evacuation_order.json"))
        assert sent.returncode == 0, sent.stderr
        deadline = time.monotonic() + 60
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = _status(config)
            states = {a["state"] for a in status["alerts"]}
            if len(status["alerts"]) == 4 and states <= {"done", "held"} and status["quarantine"]:
                break
            time.sleep(0.3)
        tenants = {a["tenant"] for a in status["alerts"] if a["origin"] == "jma"}
        assert tenants == {"anamizu", "wajima", "noto"}, "a 大津波警報 for 石川県能登 reaches all three towns"
        held = [a for a in status["alerts"] if a["state"] == "held"]
        assert len(held) == 1, "the officer's Actual evacuation order waits for a second officer"
        assert status["quarantine"][0]["reason"] == "malformed_xml"

        alert_id = held[0]["identifier"]
        # Approval is by an officer account with the approver role, proven by its second factor.
        secrets = {name: _add_user(config, name, role) for name, role in (("tanaka", "approver"), ("sato", "approver"), ("kato", "operator"))}
        for officer, code, why in (
            ("nobody", "123456", "no active officer 'nobody'"),
            ("kato", pyotp.TOTP(secrets["kato"]).now(), "not an approver of anamizu"),
            ("sato", "000000", "second-factor code of sato is wrong"),
            ("tanaka", pyotp.TOTP(secrets["tanaka"]).now(), "cannot approve their own alert"),
        ):
            refused = cli(config, "approve", alert_id, "--tenant", "anamizu", "--officer", officer, "--code", code)
            assert refused.returncode == 1, officer
            assert why in refused.stderr, refused.stderr
        code = pyotp.TOTP(secrets["sato"]).now()
        approved = cli(config, "approve", alert_id, "--tenant", "anamizu", "--officer", "sato", "--code", code)
        assert approved.returncode == 0, approved.stderr
        while time.monotonic() < deadline:
            status = _status(config)
            if all(a["state"] == "done" for a in status["alerts"]):
                break
            time.sleep(0.3)
        rows = [r for r in status["channels"] if r["alert_id"] == held[0]["identifier"]]
        # No one has registered here, so only the channels that reach everyone at once carry it.
        assert {r["channel"] for r in rows} == {"website", "x", "mastodon", "bluesky", "webhook", "lalert_out"}
        assert all(r["accepted"] == r["dispatches"] for r in rows)
        text = cli(config, "status").stdout
        assert "quarantine" in text
        assert "malformed_xml" in text
    finally:
        run.terminate()
        run.wait(timeout=30)
        log.close()
    assert run.returncode == 0, "SIGTERM stops the pipeline cleanly"


def test_demo_runs_offline_and_ends_by_itself(tmp_path: Path) -> None:
    result = cli(None, "demo", "--dir", str(tmp_path / "demo"), timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "Every channel runs in outbox mode" in out
    assert "held: " in out
    assert "officer 佐藤 approves" in out
    assert "malformed_xml" in out
    assert (tmp_path / "demo" / "outbox" / "anamizu" / "line.jsonl").exists()
    # The 避難指示's 緊急速報メール, handed to the officers: title and text for each carrier.
    handed = out.split("緊急速報メール (hand-off", 1)[1]
    for carrier in ("NTTドコモ", "KDDI", "ソフトバンク", "楽天モバイル"):
        assert carrier in handed
    assert handed.count("題 (8/15): 穴水町：避難指示") == 4
    assert "避難指示：川島、大町" in handed
    # Every medium read back agrees, and a short drill runs in its sandbox with its report.
    assert re.search(r"Every medium read back \(consistency guard\): \d+ agrees", out)
    assert "stale" not in out.split("Every medium read back", 1)[1].split("\n", 1)[0]
    drill = out.split("訓練報告 / drill report: 短い津波訓練", 1)[1]
    assert "sends outside the sandbox: 0" in drill and "held; approved after" in drill
    assert "total: 3 steps, 3 messages" in drill
    assert (tmp_path / "demo" / "drills" / "reports").is_dir()
    _coverage_rises(out, tmp_path / "demo" / "ledger.sqlite3")


def _coverage_rises(out: str, ledger: Path) -> None:
    """The demo's safety-check drill: coverage per district rises from t+0 as residents answer and
    a leader marks households, and the figures are the ledger's own records."""
    section = out.split("Coverage per district over time", 1)[1]
    rows = {}
    for line in section.splitlines()[2:]:
        cells = line.split()
        if len(cells) < 2 or not re.fullmatch(r"\d+/\d+", cells[1]):
            break
        rows[cells[0]] = [tuple(map(int, c.split("/"))) for c in cells[1::2]]
    assert set(rows) >= {"川島", "大町"}, section[:800]
    for name in ("川島", "大町"):
        reached = [r for r, _ in rows[name]]
        assert reached == sorted(reached) and reached[-1] > reached[0] + 3, (name, rows[name])
    # 川島's leader marks households on the list; then 大町's leader confirms the circular, which
    # reaches the rest of 大町.
    assert rows["川島"][-2][0] > rows["川島"][-3][0] and rows["川島"][-1] == rows["川島"][-2]
    assert rows["大町"][-2] == rows["大町"][-3] and rows["大町"][-1][0] == rows["大町"][-1][1]
    with sqlite3.connect(ledger) as db:
        alert = re.search(r"(m-anamizu-[0-9a-f]+)\s+Actual evacuation\s+【安否確認】", section)
        assert alert is not None
        answers = dict(db.execute(
            "SELECT answer, count(*) FROM safety_answers WHERE alert_id = ? GROUP BY answer", (alert[1],)
        ).fetchall())
        told = db.execute(
            "SELECT count(*) FROM reach_marks WHERE alert_id = ? AND medium = 'leader'", (alert[1],)
        ).fetchone()[0]
        circular = db.execute(
            "SELECT count(*) FROM reach_marks WHERE alert_id = ? AND medium = 'circular'", (alert[1],)
        ).fetchone()[0]
        audited = db.execute("SELECT count(*) FROM audit_log WHERE action = 'coverage_household_told'").fetchone()[0]
    total = re.split(r"\s{2,}", next(x for x in section.splitlines() if x.strip().startswith("total")).strip())
    head = re.split(r"\s{2,}", next(x for x in section.splitlines() if "district  households" in x).strip())
    printed = dict(zip(head, total, strict=False))
    assert answers and {k: int(printed[k]) for k in answers} == answers
    assert told == audited == int(printed["leader"]) > 0
    assert circular == int(printed["circular"]) > 0
    last = rows["川島"][-1][0] + rows["大町"][-1][0]
    first = rows["川島"][0][0] + rows["大町"][0][0]
    assert last == first + sum(answers.values()) + told + circular


def test_drill_run_prints_its_report_and_drill_reports_compares_the_runs(config: Path, tmp_path: Path) -> None:
    scenario = str(ROOT / "scenarios" / "short_tsunami_drill.yaml")
    for _ in range(2):
        result = cli(config, "drill", "run", scenario, "--speed", "600", timeout=180)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert "訓練報告 / drill report: 短い津波訓練" in result.stdout
        assert "sends outside the sandbox: 0" in result.stdout and "held; approved after" in result.stdout
    listed = cli(config, "drill", "reports")
    assert listed.returncode == 0, listed.stderr
    rows = [line for line in listed.stdout.splitlines()[1:] if "短い津波訓練" in line]
    assert len(rows) == 2
    assert not (tmp_path / "outbox").exists() or not any((tmp_path / "outbox").rglob("*.jsonl"))
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\ntenant: anamizu\nsteps: []\n", encoding="utf-8")
    refused = cli(config, "drill", "run", str(broken))
    assert refused.returncode == 1 and "broken.yaml: steps" in refused.stderr
