"""The states an alert and a dispatch pass through in the ledger (the `state` columns).

They are str enums, so a state compares equal to the text stored in the database and can be
written to it as it is.

An alert: ``received`` (recorded by normalize) → ``routed`` (its dispatches recorded) → ``done``
(every dispatch final); or ``held`` for a second officer, then ``routed``, ``withdrawn`` or
``rejected``; or ``merged`` into another source's report of the same change (never routed).

A dispatch: ``scheduled`` (put off) or ``held`` (its alert waits for approval) → ``pending`` →
``sending`` (an attempt started) → ``failed`` (to be retried) … → one of the final states, which
are those of the receipt that ended it (`FINAL_STATUSES`).
"""

from __future__ import annotations

from enum import StrEnum

from broadcaster.model.receipt import FINAL_STATUSES, ReceiptStatus


class AlertState(StrEnum):
    RECEIVED = "received"
    MERGED = "merged"
    HELD = "held"
    ROUTED = "routed"
    DONE = "done"
    WITHDRAWN = "withdrawn"
    REJECTED = "rejected"


class DispatchState(StrEnum):
    SCHEDULED = "scheduled"
    HELD = "held"
    PENDING = "pending"
    SENDING = "sending"
    FAILED = "failed"
    ACCEPTED = "accepted"
    DEAD = "dead"
    SUPERSEDED = "superseded"
    RECORDED = "recorded"


def dispatch_state_of(status: ReceiptStatus) -> DispatchState:
    """The state a receipt leaves its dispatch in: the receipt's status, by name."""
    return DispatchState(status.value)


# A dispatch is final exactly when the receipt that ended it was: one set, not two kept in step.
FINAL_STATES: frozenset[DispatchState] = frozenset(dispatch_state_of(s) for s in FINAL_STATUSES)
