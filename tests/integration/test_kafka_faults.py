"""Faults on a Kafka deployment: stage workers killed at random, the broker losing everything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.kafka_trial import run_trial

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]


@pytest.mark.timeout(900)
async def test_the_ledger_redrives_what_a_wiped_broker_lost(tmp_path: Path, kafka: Any, fresh_postgres: str) -> None:
    if kafka.external:
        pytest.skip("restarting the broker needs the suite's own")
    outcome = await run_trial(tmp_path, kafka, fresh_postgres, alerts=16, restart_broker=True, seed=3)
    print(f"\nbroker restart: {outcome}")
    assert outcome.broker_restarts == 1
    assert outcome.lost == []
    assert outcome.unexplained == []


@pytest.mark.timeout(3000)
async def test_twenty_trials_of_killed_stage_workers(tmp_path: Path, kafka: Any, fresh_postgres: str, record_property: Any) -> None:
    totals = {"trials": 0, "kills": 0, "alerts": 0, "dispatches": 0, "duplicates": 0, "in_doubt": 0}
    import asyncpg

    base = fresh_postgres.rsplit("/", 1)[0]
    dsn = base.replace("postgresql+asyncpg://", "postgresql://")
    for seed in range(20):
        name = f"{fresh_postgres.rsplit('/', 1)[1]}_t{seed}"
        conn = await asyncpg.connect(dsn + "/postgres")
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        try:
            outcome = await run_trial(tmp_path / f"t{seed}", kafka, f"{base}/{name}", alerts=12, kills=2, seed=seed)
        finally:
            conn = await asyncpg.connect(dsn + "/postgres")
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.close()
        assert outcome.lost == [], f"trial {seed}: {outcome.lost[:5]}"
        assert outcome.unexplained == [], f"trial {seed}"
        totals["trials"] += 1
        totals["kills"] += outcome.kills
        totals["alerts"] += outcome.alerts
        totals["dispatches"] += outcome.dispatches
        totals["duplicates"] += outcome.duplicates
        totals["in_doubt"] += outcome.in_doubt
    for k, v in totals.items():
        record_property(k, v)
    print(f"\nkafka worker kill trials: {totals}")
