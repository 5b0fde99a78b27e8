"""The two-person rule, decided by what a message does, not by what its sender calls it.

One policy for every way in (console, REST API, CLI, scheduler): they all put the officer's
message on the pipeline, and the route stage asks here before anything is published
(docs/approval.md). A person's Actual message that would reach residents needs a second officer
when

* its severity is Severe or Extreme, or it names a life-safety kind (missile, EEW, tsunami,
  evacuation at level 3 to 5, 緊急安全確保 …) in its kind, event, headline or text;
* it is an Update of such a message (or of one the tenant's rules held);
* it withdraws a source's alert (JMA, J-Alert, L-Alert): only the town's relay is withdrawn;
* it is a Cancel in any words but a pre-approved 'sent in error' text for the town's own
  message. That one cancel goes at once, on one officer's word (a false alarm must be corrected
  in minutes, not the 38 of Hawaii 2018), and the approvers are told at once.

The tenant's rules may hold more (``require_approval``), never less: their holds are added to
these, and nothing in a rule file can lift one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import yaml

from broadcaster.audience import AudienceName
from broadcaster.model import KIND, LEVEL, Alert, Info, MsgType, Severity, Status

# Origins of messages written by people (officers, and the town's systems with an API token).
PERSON_ORIGINS = frozenset({"manual"})
# Audiences that are the town's own staff: a message only they receive alarms no resident.
STAFF_AUDIENCES = frozenset({"officers"})

LIFE_SAFETY_KINDS = frozenset({"missile", "eew", "tsunami", "special_warning"})
_SEVERE = frozenset({Severity.SEVERE, Severity.EXTREME})

# Words that name a life-safety message, after NFKC (full-width digits and letters folded) and
# lower-casing. A notice that mentions a tsunami drill is held too: a second look costs a minute.
_WORDS = (
    "ミサイル",
    "弾道",
    "国民保護",
    "missile",
    "ballistic",
    "緊急地震速報",
    "earthquake early warning",
    "津波",
    "tsunami",
    "特別警報",
    "緊急安全確保",
    "避難指示",
    "高齢者等避難",
    "避難勧告",
    "evacuation order",
    "evacuate",
    "emergency safety",
)
_LEVEL_WORDS = re.compile(r"(警戒レベル|レベル|level)\s*[345]")
_EEW_WORD = re.compile(r"\beew\b")


# An info parameter the drill room's sandbox sets on every message (docs/drills.md).
DRILL_ROOM = "broadcaster:drill-room"


@dataclass(frozen=True, slots=True)
class CancelText:
    """A pre-approved cancellation text (templates/_compose/_cancel.yaml)."""

    id: str
    ja: str
    en: str
    # One officer may send it alone for the town's own message ("sent in error").
    sent_in_error: bool = False
    # For withdrawing the town's relay of a source's alert; {source} names the source.
    relay: bool = False


DEFAULT_CANCEL_TEXTS = (
    CancelText(
        "mistake",
        "先ほどの情報は誤りでした。取り消します。ご迷惑をおかけしました。",
        "The previous message was sent in error and is cancelled. We apologise.",
        sent_in_error=True,
    ),
    CancelText(
        "relay_withdrawn",
        "町からお送りした{source}の情報の配信を取りやめます。{source}の発表そのものが取り消されたものではありません。"
        "最新の情報は{source}の発表でご確認ください。",
        "The town withdraws its relay of the {source} message. The {source} announcement itself is not "
        "withdrawn; check the latest from {source}.",
        relay=True,
    ),
)

SOURCE_NAMES = {
    "jma": ("気象庁", "JMA"),
    "jalert": ("Jアラート", "J-Alert"),
    "lalert": ("Lアラート", "L-Alert"),
}


@dataclass(frozen=True, slots=True)
class Verdict:
    second_officer: bool
    reasons: tuple[str, ...] = ()
    # A sent-in-error cancel of the town's own message that one officer sent: it goes at once and
    # every approver is told.
    cancel_alone: bool = False


def load_cancel_texts(path: Path) -> tuple[CancelText, ...]:
    """The texts of a `_cancel.yaml`, or the defaults when there is none."""
    if not path.is_file():
        return DEFAULT_CANCEL_TEXTS
    return _load(str(path), path.stat().st_mtime)


@lru_cache(maxsize=16)
def _load(path: str, stamp: float) -> tuple[CancelText, ...]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return tuple(
        CancelText(
            str(r["id"]),
            str(r["ja"]),
            str(r["en"]),
            sent_in_error=bool(r.get("sent_in_error", False)),
            relay=bool(r.get("relay", False)),
        )
        for r in data.get("reasons", [])
    )


def tenant_cancel_texts(templates_dir: Path, tenant: str) -> tuple[CancelText, ...]:
    """The tenant's cancel texts: its own compose folder's, else the deployment's."""
    own = templates_dir / "tenants" / tenant / "_compose"
    folder = own if own.is_dir() else templates_dir / "_compose"
    return load_cancel_texts(folder / "_cancel.yaml")


def source_names(origin: str) -> tuple[str, str]:
    """A source's name in Japanese and English, as a relay-withdrawal text says it."""
    return SOURCE_NAMES.get(origin, (origin, origin))


def offered_cancel_texts(texts: Iterable[CancelText], original: Alert) -> list[CancelText]:
    """The texts an officer may choose to cancel `original`, with the source named: relay texts
    for a source's alert, the others for the town's own message."""
    relayed = original.origin not in PERSON_ORIGINS
    ja, en = source_names(original.origin)
    return [
        replace(t, ja=t.ja.replace("{source}", ja), en=t.en.replace("{source}", en))
        for t in texts
        if t.relay == relayed
    ]


def cancel_headline(info: Info) -> str:
    """取消： and the original's headline, once (a cancel of a cancel does not stack them)."""
    base = (info.headline or info.event).strip()
    while base.startswith(("取消：", "取消:")):
        base = base[3:].strip()
    return f"取消：{base}"


def cancel_texts_for(original: Alert, text: CancelText) -> dict[str, tuple[str, str]]:
    """Headline and description per language of the cancel of `original` with `text`.

    The console builds its cancel from this, and the policy compares a cancel with it: a
    sent-in-error cancel that says anything else is not the pre-approved one.
    """
    info = original.primary
    ja_source, en_source = source_names(original.origin)
    return {
        "ja": (cancel_headline(info), text.ja.replace("{source}", ja_source)),
        "en": (f"Cancelled: {info.event}", text.en.replace("{source}", en_source)),
    }


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def _texts(info: Info) -> Iterable[str]:
    yield info.event
    for value in (info.headline, info.description, info.instruction):
        if value:
            yield value


def life_safety(alert: Alert) -> str | None:
    """Why the message is a life-safety one (by its kind, level or words), or None."""
    for info in alert.info:
        for kind in info.event_codes(KIND):
            if kind in LIFE_SAFETY_KINDS:
                return f"kind {kind}"
            if kind == "evacuation":
                level = info.param(LEVEL)
                # Without a level an evacuation message is taken at its gravest.
                if level is None or not level.isdigit() or int(level) >= 3:
                    return f"evacuation at level {level or '3-5'}"
        for text in _texts(info):
            folded = _folded(text)
            word = next((w for w in _WORDS if w in folded), None)
            if word is not None:
                return f"names {word!r}"
            found = _LEVEL_WORDS.search(folded) or _EEW_WORD.search(folded)
            if found is not None:
                return f"names {found.group(0)!r}"
    return None


def grave(alert: Alert) -> str | None:
    """Why the message would need a second officer on its own: severity or life-safety."""
    severe = next((i.severity for i in alert.info if i.severity in _SEVERE), None)
    if severe is not None:
        return f"severity {severe.value}"
    return life_safety(alert)


def reaches_residents(audiences: Iterable[str]) -> bool:
    """Whether any of the dispatches' audiences is more than the town's own staff."""
    for audience in audiences:
        try:
            base = AudienceName.parse(audience).base
        except ValueError:
            return True  # an audience we cannot read is taken as the public
        if base not in STAFF_AUDIENCES:
            return True
    return False


def withdraws_relay_only(cancel: Alert, earlier: Sequence[Alert], texts: Collection[CancelText]) -> bool:
    """Whether a cancel of a source's alert says exactly a relay-withdrawal text (the town takes
    back its relay; it never says alone that JMA, J-Alert or L-Alert was wrong). A cancel of the
    town's own messages only is not concerned: True."""
    relayed = [e for e in earlier if e.origin not in PERSON_ORIGINS]
    if cancel.msg_type is not MsgType.CANCEL or not relayed:
        return True
    for text in texts:
        if text.relay:
            expected = cancel_texts_for(relayed[0], text)
            if all(_says(info, expected) for info in cancel.info):
                return True
    return False


def _is_error_cancel(cancel: Alert, original: Alert, texts: Collection[CancelText]) -> bool:
    for text in texts:
        if not text.sent_in_error:
            continue
        expected = cancel_texts_for(original, text)
        if all(_says(info, expected) for info in cancel.info):
            return True
    return False


def _says(info: Info, expected: dict[str, tuple[str, str]]) -> bool:
    lang = info.language.split("-")[0].lower()
    wanted = expected.get(lang)
    if wanted is None:
        return False
    return (info.headline, info.description or "") == wanted and not info.instruction


def applies(alert: Alert) -> bool:
    """Whether the rule looks at `alert` at all: a person's Actual message. The drill room
    practises it too: its officers' messages are Exercise, and wait for a second officer exactly
    as the real ones would (broadcaster/drill/sandbox.py)."""
    if alert.origin not in PERSON_ORIGINS:
        return False
    practised = alert.status is Status.EXERCISE and bool(alert.info) and alert.primary.param(DRILL_ROOM) is not None
    return alert.status is Status.ACTUAL or practised


def decide(
    alert: Alert,
    *,
    earlier: Sequence[Alert],
    earlier_held: bool,
    audiences: Iterable[str],
    rules_hold: bool,
    cancel_texts: Collection[CancelText],
) -> Verdict:
    """Whether `alert` waits for a second officer.

    `earlier`: the alerts it follows (references and older ones of its event), oldest first;
    `earlier_held`: one of them was held for approval; `audiences`: where its dispatches go;
    `rules_hold`: the tenant's rules asked for approval.
    """
    if not applies(alert):
        # Sources are already official and are never held; drills and tests are labelled as such
        # on every medium by the renderer.
        return Verdict(False)
    if not reaches_residents(audiences):
        return Verdict(rules_hold, ("the tenant's rules",) if rules_hold else ())
    reasons: list[str] = ["the tenant's rules"] if rules_hold else []
    why = grave(alert)
    if alert.msg_type is MsgType.CANCEL:
        return _cancel(alert, earlier, cancel_texts, reasons)
    if why is not None:
        reasons.append(why)
    if alert.msg_type is MsgType.UPDATE:
        for e in earlier:
            if e.origin not in PERSON_ORIGINS:
                reasons.append(f"it changes {e.identifier}, a {e.origin} message the town relayed")
                break
            earlier_why = grave(e)
            if earlier_why is not None:
                reasons.append(f"it changes {e.identifier} ({earlier_why})")
                break
        else:
            if earlier_held:
                reasons.append("it changes a message that waited for a second officer")
    return Verdict(bool(reasons), tuple(reasons))


def _cancel(
    alert: Alert, earlier: Sequence[Alert], texts: Collection[CancelText], reasons: list[str]
) -> Verdict:
    relayed = [e for e in earlier if e.origin not in PERSON_ORIGINS]
    if relayed:
        reasons.append(
            f"it withdraws the town's relay of {relayed[0].origin} message {relayed[0].identifier}"
        )
        return Verdict(True, tuple(reasons))
    referenced = set(alert.referenced_identifiers())
    original = next((e for e in earlier if e.identifier in referenced), earlier[0] if earlier else None)
    if original is not None and not reasons and _is_error_cancel(alert, original, texts):
        return Verdict(
            False, ("a pre-approved 'sent in error' cancel of the town's own message",), cancel_alone=True
        )
    reasons.append("a cancel in words other than a pre-approved 'sent in error' text")
    return Verdict(True, tuple(reasons))
