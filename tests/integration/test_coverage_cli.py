"""`broadcaster coverage ALERT_ID`: the table, the CSV for the headquarters, and the list of
households not reached (personal data: written only on request, and audited)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from broadcaster.cli import main
from broadcaster.coverage import marks
from broadcaster.settings import load_settings
from broadcaster.store import tables as t
from broadcaster.store.audiences import Audiences, Person
from broadcaster.store.personal import open_ledger
from tests.integration.test_cli import CONFIG, ROOT
from tests.rules_helpers import manual


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "broadcaster.toml"
    path.write_text(CONFIG.format(tmp=tmp_path, root=ROOT), encoding="utf-8")
    return path


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False)


def _seed(config: Path) -> str:
    assert run(config, "db", "upgrade").exit_code == 0
    alert = manual(status="Actual", kind="evacuation", event="避難指示", headline="川島地区に避難指示")

    async def work() -> None:
        ledger = open_ledger(load_settings(config))
        try:
            await ledger.ensure_tenants([("anamizu", "穴水町")])
            await Audiences(ledger.db).import_people("anamizu", [
                Person("R-1", name="川島 一郎", districts=("kawashima",), household="k1", address="川島1-1",
                       endpoints=(("phone", "0768520001"),)),
                Person("R-3", name="岩田 三郎", districts=("kawashima",), household="k2", address="川島2-5",
                       endpoints=(("phone", "0768520003"),)),
                Person("R-5", name="大町 五郎", districts=("omachi",), endpoints=(("phone", "0768520005"),)),
            ])  # fmt: skip
            await ledger.record_alert(alert)
            await marks.mark(
                ledger.db, "anamizu", alert.identifier, "k1", "officer", actor="officer:anamizu/tanaka"
            )
        finally:
            await ledger.close()

    asyncio.run(work())
    return alert.identifier


def test_the_table_the_csv_and_the_audited_list(config: Path, tmp_path: Path) -> None:
    alert_id = _seed(config)
    shown = run(config, "coverage", alert_id)
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    kawashima = next(line for line in lines if line.startswith("川島"))
    assert kawashima.split()[1:5] == ["2", "1", "50%", "1"] and kawashima.endswith("FLAGGED")
    assert next(line for line in lines if line.startswith("total")).split()[1:4] == ["3", "1", "33%"]

    assert run(config, "coverage", alert_id, "--csv", str(tmp_path / "c.csv")).exit_code == 0
    counts = (tmp_path / "c.csv").read_text(encoding="utf-8-sig")
    assert "kawashima,川島,2,1,0.500,1,1,0,0,0,yes" in counts and "岩田" not in counts

    refused = CliRunner().invoke(main, ["--config", str(config), "coverage", alert_id, "--unreached"])
    assert refused.exit_code != 0 and "--csv" in refused.output
    assert run(config, "coverage", alert_id, "--csv", str(tmp_path / "u.csv"), "--unreached").exit_code == 0
    listing = (tmp_path / "u.csv").read_text(encoding="utf-8-sig").splitlines()
    assert listing[1:] == [
        f"{alert_id},kawashima,川島,k2,岩田 三郎,川島2-5",
        f"{alert_id},omachi,大町,~R-5,大町 五郎,",
    ]

    async def audited() -> list[str]:
        ledger = open_ledger(load_settings(config))
        try:
            return await ledger.db.read(
                lambda c: list(
                    c.execute(
                        sa.select(t.audit_log.c.action).where(t.audit_log.c.target == alert_id)
                    ).scalars()
                )
            )
        finally:
            await ledger.close()

    assert asyncio.run(audited()) == ["coverage_unreached_export"]


def test_an_unknown_alert_is_one_line(config: Path) -> None:
    assert run(config, "db", "upgrade").exit_code == 0
    result = CliRunner().invoke(main, ["--config", str(config), "coverage", "no-such-alert"])
    assert result.exit_code == 1 and "no alert 'no-such-alert'" in result.output
