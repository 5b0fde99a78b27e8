"""Alert and dispatch states: one set of final states, derived from the receipts'."""

from __future__ import annotations

from broadcaster.model import FINAL_STATES, FINAL_STATUSES, AlertState, DispatchState, ReceiptStatus
from broadcaster.model.states import dispatch_state_of


def test_a_dispatch_is_final_exactly_when_the_receipt_that_ended_it_was() -> None:
    for status in ReceiptStatus:
        assert (dispatch_state_of(status) in FINAL_STATES) == (status in FINAL_STATUSES)
    assert {str(s) for s in FINAL_STATES} == {"accepted", "dead", "superseded", "recorded"}


def test_states_are_the_text_the_ledger_stores() -> None:
    assert DispatchState.HELD == "held" and AlertState.DONE == "done"
    assert "pending" not in FINAL_STATES
    assert {s.value for s in AlertState} >= {"received", "merged", "held", "routed", "done"}
