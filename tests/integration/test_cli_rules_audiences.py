"""`broadcaster rules ...`, `broadcaster audiences ...` and delegated sending, in real subprocesses."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.integration.test_cli import CONFIG, ROOT, SAMPLES, cli

LINE = "U" + "0123456789abcdef" * 2


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "broadcaster.toml"
    path.write_text(CONFIG.format(tmp=tmp_path, root=ROOT), encoding="utf-8")
    return path


ROSTER = (
    "external_id,kind,name,title,districts,groups,language,topics,line,app_push,email,phone,circular,status\n"
    f"R-1,resident,,,川島,,ja,気象|避難,{LINE},,r1@example.jp,,,\n"
    "R-2,resident,,,kawashima,,vi,,,,r2@example.jp,,,\n"
    "L-1,区長,山田太郎,,川島,,,,,,,0768-52-0001,,\n"
    "O-1,officer,田中,防災係,,duty,,,,,tanaka@town.example.jp,,,\n"
)


def test_audiences_import_export_leave_and_simulate_with_counts(tmp_path: Path) -> None:
    config = _config(tmp_path)
    assert cli(config, "db", "upgrade").returncode == 0
    roster = tmp_path / "roster.csv"
    roster.write_bytes(ROSTER.encode("cp932"))  # as Excel saves it in Japan
    first = cli(config, "audiences", "import", "--tenant", "anamizu", str(roster))
    assert first.returncode == 0, first.stderr
    assert "4 created, 0 updated, 0 unchanged" in first.stdout
    again = cli(config, "audiences", "import", "--tenant", "anamizu", str(roster))
    assert "0 created, 0 updated, 4 unchanged" in again.stdout

    broken = tmp_path / "broken.csv"
    broken.write_text(ROSTER + "R-9,resident,,,atlantis,,ja,,,,nobody,,,\n", encoding="utf-8")
    refused = cli(config, "audiences", "import", "--tenant", "anamizu", str(broken))
    assert refused.returncode == 1
    assert f"{broken}:6: districts: no district 'atlantis'" in refused.stderr
    assert f"{broken}:6: email: 'nobody' is not an e-mail address" in refused.stderr
    assert "nothing was imported" in refused.stderr

    exported = tmp_path / "export.csv"
    out = cli(config, "audiences", "export", "--tenant", "anamizu", str(exported))
    assert out.returncode == 0 and "personal information" in out.stderr
    text = exported.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("external_id,kind,name")
    assert "L-1,leader,山田太郎,区長,kawashima" in text
    assert "R-1" in cli(config, "audiences", "export", "--tenant", "anamizu", "-").stdout
    assert "0 created, 0 updated, 4 unchanged" in cli(config, "audiences", "import", "--tenant", "anamizu", str(exported)).stdout
    assert "R-1" not in cli(config, "audiences", "export", "--tenant", "wajima", "-").stdout

    # The decision table counts people: 警報 goes to those who chose 気象 or all topics.
    sim = cli(config, "rules", "simulate", "--json", str(SAMPLES / "jma" / "08_vpww54_ooame_h27.xml"))
    assert sim.returncode == 0, sim.stderr
    tables = {t["tenant"]: t for t in map(json.loads, sim.stdout.splitlines())}
    rows = {(r["channel"], r["audience"]): r for r in tables["anamizu"]["rows"]}
    assert rows[("line", "public/気象")]["people"] == 1
    assert rows[("website", "public")]["broadcast"] is True
    assert tables["noto"]["rows"][0]["channel"] == "website"

    assert cli(config, "audiences", "leave", "--tenant", "anamizu", "R-1").returncode == 0
    counts = cli(config, "audiences", "counts", "--tenant", "anamizu").stdout
    assert "line" not in counts, "R-1 was the only one on LINE"
    assert "officer   duty" in counts


def test_simulate_prints_the_decision_table_for_an_officers_alert(tmp_path: Path) -> None:
    config = _config(tmp_path)
    result = cli(
        config, "rules", "simulate", "--tenant", "anamizu", "--at", "2025-07-01T02:40",
        str(SAMPLES / "manual" / "evacuation_order.json"), str(SAMPLES / "jma" / "05_vtse41_torikeshi.xml"),
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "緊急安全確保・避難指示は対象地区の全員に全媒体" in out
    assert "rules/anamizu/30-evacuation.yaml:" in out
    assert "lalert_out" in out and "district:kawashima" in out and "deputies:kawashima" in out
    assert "(escalation)" in out and "07-01 02:55 JST" in out
    assert "held until a second officer approves" in out
    assert "people: unknown" in out, "no ledger yet: counts are unknown, the table is still shown"
    assert "no tenant's areas" in result.stderr or "a Cancel goes exactly where" in out


def test_rules_list_shows_precedence(tmp_path: Path) -> None:
    result = cli(_config(tmp_path), "rules", "list", "--tenant", "noto")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].startswith("  1. システム通知は職員へ")
    assert "[default]" in lines[-2]


def test_a_neighbour_sends_on_a_towns_behalf_only_when_authorised(tmp_path: Path) -> None:
    config = _config(tmp_path)
    assert cli(config, "db", "upgrade").returncode == 0
    alert = str(SAMPLES / "manual" / "evacuation_order.json")
    refused = cli(config, "send", "--tenant", "wajima", "--officer", "kato", "--from-tenant", "noto", alert)
    assert refused.returncode == 1
    assert "noto may not send for wajima" in refused.stderr
    sent = cli(config, "send", "--tenant", "anamizu", "--officer", "kato", "--from-tenant", "wajima", alert)
    assert sent.returncode == 0, sent.stderr
    assert "by officer:wajima/kato" in sent.stdout
    with sqlite3.connect(tmp_path / "ledger.sqlite3") as db:
        rows = db.execute("select actor, tenant, action, detail from audit_log").fetchall()
    (actor, tenant, _, detail) = next(r for r in rows if r[2] == "delegated_send")
    assert (actor, tenant) == ("officer:wajima/kato", "anamizu")
    assert json.loads(detail)["officer_tenant"] == "wajima"
