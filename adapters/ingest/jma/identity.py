"""Identifiers, event keys and references, computed from the telegram alone.

The same telegram fetched from two feeds must get the same identifier (so that the ledger drops
the repeat), and a 訂正/取消 must name the identifier of the telegram it corrects or cancels (so
that the cancel reaches exactly the audiences of the original). Both follow from JMA's own rules
for what stays fixed between a telegram and its 訂正/取消:

* 気象 (meteorology body, and telegrams without one): a 訂正/取消 repeats the original's
  ReportDateTime, Serial and EventID. The original is therefore named exactly.
* 地震・津波・火山 (seismology, volcanology): a 訂正/取消 carries its own ReportDateTime but the
  original's EventID, Serial and head title. Where a seismic title has a Serial (緊急地震速報,
  震源・震度に関する情報, 津波情報, ...), (title, head title, EventID, Serial) names the original
  exactly. Titles without a Serial (震度速報, 震源に関する情報, 津波警報・注意報・予報,
  噴火警報・予報, ...) can come several times per EventID (the corpus has five 震度速報 for one
  earthquake), and volcanic Serials start again with each series of one volcano, so their
  identity needs the ReportDateTime and transmission time, which the 取消 does not repeat: JMA's
  取消 then means "the latest telegram of this title and EventID". The reference carries the anchor of the event instead, and the
  parameter ``referenceScope`` says ``latestOfEvent`` so that the pipeline resolves it through the
  event key (the latest alert under it) rather than by identifier.
"""

from __future__ import annotations

import hashlib

from adapters.ingest.jma.envelope import Envelope
from adapters.ingest.jma.xmltools import NS_SEISMOLOGY, NS_VOLCANOLOGY
from broadcaster.model import MsgType, Status, cap_datetime

SENDER = "jma.go.jp"

EXACT = "exact"
LATEST_OF_EVENT = "latestOfEvent"


def _digest(*parts: str) -> str:
    # Unit separators keep ("a", "bc") and ("ab", "c") apart.
    material = "\x1f".join(parts).encode("utf-8")
    return hashlib.sha256(material).hexdigest()[:24]


def _status_tag(env: Envelope) -> str:
    # A drill must never share an identifier or event key with a real telegram.
    return "" if env.status is Status.ACTUAL else env.status.value


def _anchor(env: Envelope) -> tuple[tuple[str, ...], str]:
    """The fields a telegram shares with its 訂正/取消, and how exactly they name it."""
    if env.body_ns not in (NS_SEISMOLOGY, NS_VOLCANOLOGY):
        return (
            "met",
            env.title,
            env.editorial_office,
            env.head_title,
            env.event_id,
            env.serial,
            env.report_datetime.isoformat(),
        ), EXACT
    # Seismic EventIDs are origin times, unique per earthquake, and Serials count up within one;
    # volcanic EventIDs are volcano codes whose Serials start again with each series.
    if env.serial and env.body_ns == NS_SEISMOLOGY:
        return ("seis", env.title, env.head_title, env.event_id, env.serial), EXACT
    # Without a usable Serial only the transmission tells two telegrams of one event apart.
    return (
        "seis",
        env.title,
        env.head_title,
        env.event_id,
        env.report_datetime.isoformat(),
        env.control_datetime.isoformat(),
    ), LATEST_OF_EVENT


def _issued_id(env: Envelope, anchor: tuple[str, ...]) -> str:
    return f"jma-{_digest(_status_tag(env), '発表', *anchor)}"


def identifier(env: Envelope) -> str:
    anchor, _ = _anchor(env)
    if env.msg_type is MsgType.ALERT:
        return _issued_id(env, anchor)
    # A 訂正 or 取消 is its own message: the transmission time tells a second correction of the
    # same telegram from the first, while the same correction seen on two feeds stays one.
    return f"jma-{_digest(_status_tag(env), env.info_type, *anchor, env.control_datetime.isoformat())}"


def reference_scope(env: Envelope) -> str:
    return _anchor(env)[1]


def references(env: Envelope) -> tuple[str, ...]:
    """CAP "sender,identifier,sent" of the telegram a 訂正/取消 refers to; () for a 発表."""
    if env.msg_type is MsgType.ALERT:
        return ()
    anchor, scope = _anchor(env)
    if scope == LATEST_OF_EVENT:
        # No field of the cancel names the cancelled telegram; the event anchor stands in.
        anchor = ("seis", env.title, env.event_id, LATEST_OF_EVENT)
    # For 地震・火山 the original's ReportDateTime is not in the cancel; its own is the closest
    # bound (the original was sent no later). Consumers match references by identifier.
    return (f"{SENDER},{_issued_id(env, anchor)},{cap_datetime(env.report_datetime)}",)


def event_key(env: Envelope) -> str:
    """Shared by a telegram, its updates and its cancels; one per title and event.

    The title is part of the key so that, for example, a 津波情報 never supersedes the pending
    send of the 津波警報 for the same earthquake. Without an EventID (気象警報・注意報 and the
    like) the editorial office and head title stand for the event: one key per office, title and
    forecast region, so that a newer warning telegram supersedes the older one.
    """
    tag = _status_tag(env)
    prefix = f"jma|{tag}|" if tag else "jma|"
    if env.event_id:
        return f"{prefix}{env.title}|{env.event_id}"
    return f"{prefix}{env.title}|{env.editorial_office}|{env.head_title}"
