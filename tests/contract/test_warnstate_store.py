"""The town's warning state in the ledger (broadcaster/store/warnstates.py, docs/r06.md) on both
databases: settled in a write, who told what, and forgotten after a 取消."""

from __future__ import annotations

from datetime import UTC, datetime

from broadcaster.model.warnstate import Claim, Level
from broadcaster.store import warnstates
from broadcaster.store.ledger import Ledger

AREA = "1746100"
AT = datetime(2024, 7, 1, 0, 5, tzinfo=UTC)
LATER = datetime(2024, 7, 1, 0, 6, tzinfo=UTC)


async def test_state_is_settled_told_and_forgotten(ledger: Ledger) -> None:
    older = Claim(AREA, ("大雨", "土砂災害"), Level(3, 4, 3), "大雨警報")
    newer = Claim(AREA, ("大雨",), Level(3, 3, 3), "レベル３大雨警報")
    first = await ledger.db.write(lambda c: warnstates.settle(c, "anamizu", [older], "jma-old", AT))
    assert first.news == (older,)
    second = await ledger.db.write(lambda c: warnstates.settle(c, "anamizu", [newer], "jma-new", LATER))
    assert second.news == () and second.reason.startswith("already told: ")
    # The level-based telegram refined 大雨; 土砂災害 is still what the older one told.
    assert await ledger.warning_tellers("anamizu", [(AREA, "大雨"), (AREA, "土砂災害")]) == [
        "jma-old",
        "jma-new",
    ]
    # Another town's state is its own.
    other = await ledger.db.write(lambda c: warnstates.settle(c, "wajima", [newer], "jma-new", AT))
    assert other.news == (newer,)
    assert await ledger.forget_warnings("anamizu", ["jma-new"]) == 1
    assert await ledger.warning_tellers("anamizu", [(AREA, "大雨"), (AREA, "土砂災害")]) == ["jma-old"]
