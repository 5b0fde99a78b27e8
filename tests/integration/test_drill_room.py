"""The drill room: a scenario runs into a sandbox, and nothing of it reaches a live adapter,
L-Alert, a resident or the live site, even with a rule that sends drills everywhere and channels
set live with credentials (docs/decisions.md, decision 12)."""

from __future__ import annotations

from pathlib import Path

from adapters.outbound.outbox import read_outbox
from broadcaster.drill.report import load_reports, text
from broadcaster.drill.run import DrillRun
from broadcaster.drill.scenario import load
from tests.fakes.lalert import FakeLAlert
from tests.fakes.line import FakeLine
from tests.helpers import ROOT, TENANTS, make_settings

# A misconfigured rule: every drill to every medium and to the public.
LEAKY_RULES = """
rules:
  - name: the town's drills everywhere, L-Alert too (wrong on purpose)
    match: {status: Exercise, origin: [manual]}
    channels: [website, line, x, lalert_out, email, app_push]
    audience: public
    continue: true
  - name: every drill to every medium (wrong on purpose)
    match: {status: Exercise}
    channels: [website, line, x, email, app_push]
    audience: public
  - name: default
    default: true
    channels: [website, line]
"""

SCENARIO = f"""
name: 短い訓練
tenant: anamizu
steps:
  - note: 大津波警報
    file: {ROOT / "samples/jma/02_vtse41_otsunami_keiho.xml"}
    expect: [website, line]
  - after: 1
    note: 避難指示（本番と書いてあっても訓練になる）
    officer: tanaka
    approve_after: 2
    expect: [website, lalert_out]
    manual:
      status: Actual
      kind: evacuation
      level: 4
      event: 避難指示
      headline: 【警戒レベル４】川島地区に避難指示を発令しました
      description: 川島地区に避難指示を発令しました。
      instruction: 直ちに避難してください。
      urgency: Immediate
      severity: Severe
      certainty: Observed
      districts: [kawashima]
  - after: 1
    note: Lアラートの避難所開設
    file: {ROOT / "samples/lalert/anamizu_shelter_open.xml"}
"""


async def test_a_drill_reaches_only_the_sandbox_outbox_whatever_the_rules_and_settings_say(
    tmp_path: Path,
) -> None:
    (tmp_path / "rules" / "_default").mkdir(parents=True)
    (tmp_path / "rules" / "_default" / "10.yaml").write_text(LEAKY_RULES, encoding="utf-8")
    scenario_file = tmp_path / "short.yaml"
    scenario_file.write_text(SCENARIO, encoding="utf-8")
    async with FakeLine(token="line-token") as line, FakeLAlert(token="lalert-token") as lalert:
        live = {
            "website": {"mode": "live"},
            "line": {
                "mode": "live",
                "credentials": {"token": "line-token"},
                "options": {"base_url": line.url},
            },
            "lalert_out": {
                "mode": "live",
                "credentials": {"token": "lalert-token"},
                "options": {
                    "endpoint": lalert.url,
                    "publisher": {
                        "organization_code": "174611",
                        "office_name": "総務課",
                        "domain": "town.anamizu.lg.jp",
                    },
                },
            },
        }
        settings = make_settings(
            tmp_path,
            rules_dir=tmp_path / "rules",
            # The town's own section sets LINE live as well: the sandbox ignores it too.
            tenants={
                **TENANTS,
                "anamizu": {
                    **TENANTS["anamizu"],
                    "areas": {"jma": ["1746100"]},
                    "channels": {"line": live["line"]},
                },
            },
            channels=live,
        )
        room = DrillRun(settings, load(scenario_file), speed=4.0)
        report = await room.run()

        assert line.recipients() == [] and lalert.requests == [], "nothing reached LINE or L-Alert"
    assert not (tmp_path / "site").exists(), "the live site was not touched"
    assert not (tmp_path / "outbox").exists(), "the live outbox was not touched"
    assert not (tmp_path / "ledger.sqlite3").exists(), "the live ledger was not touched"

    sandbox = room.root
    records = [r for path in (sandbox / "outbox").rglob("*.jsonl") for r in read_outbox(path)]
    assert records, "the drill went out to the sandbox's outbox"
    assert {r["status"] for r in records} == {"Exercise"}
    assert "lalert_out" not in {r["channel"] for r in records}, "never L-Alert, not even its outbox"
    assert all(r["recipients"] <= 1 for r in records), "no resident in the sandbox"

    steps = report.steps
    assert [s.index for s in steps] == [1, 2, 3] and report.leaks == 0
    assert all(a.status == "Exercise" for s in steps for a in s.alerts)
    order = steps[1]
    (evacuation,) = order.alerts
    assert evacuation.held and evacuation.approved_s is not None and evacuation.approved_s >= 0.4
    assert {x.channel for x in evacuation.sent if x.accepted} >= {"website", "line"}
    assert "lalert_out: expected, nothing went out" in order.missed
    assert order.actor == "officer:anamizu/tanaka" and steps[0].actor == "jma"

    kept = load_reports(tmp_path / "drills" / "reports")
    assert [r.started for r in kept] == [report.started]
    printed = text(report)
    assert "MISSED: lalert_out" in printed and "held; approved after" in printed
