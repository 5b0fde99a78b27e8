"""The data that flows through the broadcaster. Pure: no I/O anywhere below this package."""

from broadcaster.model.alert import (
    DISTRICT_CODE,
    JIS_X0402,
    SEVERITY_RANK,
    URGENCY_RANK,
    Alert,
    Area,
    Category,
    Certainty,
    Info,
    MsgType,
    NamedValue,
    Resource,
    ResponseType,
    Scope,
    Severity,
    Status,
    Urgency,
)
from broadcaster.model.dispatch import Dispatch, DispatchOrder, Explanation, Priority, idempotency_key
from broadcaster.model.kinds import KIND, LEVEL, Kind
from broadcaster.model.raw import RawEvent
from broadcaster.model.receipt import FINAL_STATUSES, Hops, Receipt, ReceiptStatus
from broadcaster.model.states import FINAL_STATES, AlertState, DispatchState
from broadcaster.model.timeutil import JST, cap_datetime, now

__all__ = [
    "DISTRICT_CODE",
    "FINAL_STATES",
    "FINAL_STATUSES",
    "JIS_X0402",
    "JST",
    "KIND",
    "LEVEL",
    "SEVERITY_RANK",
    "URGENCY_RANK",
    "Alert",
    "AlertState",
    "Area",
    "Category",
    "Certainty",
    "Dispatch",
    "DispatchOrder",
    "DispatchState",
    "Explanation",
    "Hops",
    "Info",
    "Kind",
    "MsgType",
    "NamedValue",
    "Priority",
    "RawEvent",
    "Receipt",
    "ReceiptStatus",
    "Resource",
    "ResponseType",
    "Scope",
    "Severity",
    "Status",
    "Urgency",
    "cap_datetime",
    "idempotency_key",
    "now",
]
