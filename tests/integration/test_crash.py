"""kill -9 of `broadcaster run` mid-stream: nothing lost, duplicates only where in doubt."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.crash import run_trial


@pytest.mark.timeout(240)
async def test_kill_9_mid_stream_loses_nothing(tmp_path: Path) -> None:
    result = await run_trial(tmp_path, alerts=12, kills=2, seed=7)
    assert result.kills == 2
    assert result.lost == []
    assert result.unexplained_duplicates == [], "a repeat without an in-doubt attempt is a bug"
    assert result.dispatches >= 12 * 3


@pytest.mark.slow
@pytest.mark.timeout(3000)
async def test_twenty_crash_trials(tmp_path: Path, record_property: pytest.RecordProperty) -> None:
    totals = {"trials": 0, "kills": 0, "alerts": 0, "dispatches": 0, "duplicates": 0, "in_doubt": 0}
    for seed in range(20):
        result = await run_trial(tmp_path / f"trial{seed}", alerts=25, kills=3, seed=seed)
        assert result.lost == [], f"trial {seed}: {result.lost[:5]}"
        assert result.unexplained_duplicates == [], f"trial {seed}"
        totals["trials"] += 1
        totals["kills"] += result.kills
        totals["alerts"] += result.alerts
        totals["dispatches"] += result.dispatches
        totals["duplicates"] += result.duplicates
        totals["in_doubt"] += result.in_doubt
    for k, v in totals.items():
        record_property(k, v)
    print(f"\ncrash trials (embedded bus): {totals}")
