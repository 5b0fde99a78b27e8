"""What the site shows: every published message of the tenant, and how each one stands now. Pure.

The adapter keeps a SiteState beside the pages of each release. A publish merges one delivery
into it and re-derives every message's *view*: the newest message of an event is what residents
see; an Update makes the earlier ones "superseded"; a Cancel makes them "cancelled" (their pages
stay, marked 取消) and takes the event off every list; a message whose info says AllClear
("lifted", 解除) or whose expiry has passed leaves the lists but keeps its page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from broadcaster.channels import RenderedText
from broadcaster.model import DISTRICT_CODE, SEVERITY_RANK, URGENCY_RANK, Alert, MsgType, ResponseType, Status

FORMAT = 1


class View(StrEnum):
    CURRENT = "current"  # on the lists and the banner
    SUPERSEDED = "superseded"  # a newer message of the same event replaced it
    CANCELLED = "cancelled"  # the event was cancelled after this message
    CANCEL = "cancel"  # the cancel itself: a notice, never on the lists
    LIFTED = "lifted"  # the event's newest message says it is over (AllClear)
    EXPIRED = "expired"  # the newest message of its event, past its expiry


# Views that put a message on the lists, the banner and the JSON API's current alerts.
CURRENT_VIEWS = frozenset({View.CURRENT})


class PageText(BaseModel):
    """The channel's rendered text in one language, kept so a later publish can redraw the page."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    language: str
    title: str = ""
    body: str = ""


class Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    alert: Alert
    texts: tuple[PageText, ...] = ()
    # Districts the message was published for (from the dispatches' audiences and the alert's
    # district geocodes); town_wide when any dispatch reached the whole town.
    districts: tuple[str, ...] = ()
    town_wide: bool = False

    @property
    def identifier(self) -> str:
        return self.alert.identifier


class SiteState(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    format: int = FORMAT
    release: int = 0
    # When the content last changed (the feeds' <updated>).
    updated: AwareDatetime | None = None
    # Which page design drew the detail pages; another one redraws them all.
    design: str = ""
    entries: dict[str, Entry] = Field(default_factory=dict)
    # Each message's view as last published ("<view> <newest message of its event>"): a detail
    # page is redrawn only when this changes.
    views: dict[str, str] = Field(default_factory=dict)


def _order(alert: Alert) -> tuple[datetime, datetime, str]:
    # "Newer" as the ledger has it: by the source's sent, then by when we received it.
    return (alert.sent, alert.received or alert.sent, alert.identifier)


def audience_district(audience: str) -> str | None:
    """The district of a ``district:<id>`` audience (optionally ``/<topic>``), else None."""
    head = audience.split("/", 1)[0]
    base, _, scope = head.partition(":")
    return scope if base == "district" and scope else None


def merge(state: SiteState, alert: Alert, texts: Iterable[RenderedText], audience: str) -> SiteState:
    """The state with this delivery's message in it. Merging the same delivery twice is a no-op."""
    geo = {c for info in alert.info[:1] for area in info.area for c in area.codes(DISTRICT_CODE)}
    district = audience_district(audience)
    old = state.entries.get(alert.identifier)
    districts = set(old.districts if old else ()) | geo | ({district} if district else set())
    town_wide = (old.town_wide if old else False) or district is None
    by_lang = {t.language: t for t in (old.texts if old else ())}
    for t in texts:
        by_lang[t.language] = PageText(language=t.language, title=t.title, body=t.body)
    entry = Entry(
        alert=alert,
        texts=tuple(sorted(by_lang.values(), key=lambda t: (not t.language.startswith("ja"), t.language))),
        districts=tuple(sorted(districts)),
        town_wide=town_wide,
    )
    if old == entry:
        return state
    return state.model_copy(update={"entries": {**state.entries, alert.identifier: entry}})


def _is_lifted(alert: Alert) -> bool:
    return bool(alert.info) and ResponseType.ALL_CLEAR in alert.primary.response_type


def _expired(alert: Alert, at: datetime) -> bool:
    expiries = [i.expires for i in alert.info if i.expires is not None]
    return bool(expiries) and max(expiries) <= at


def newest_by_event(entries: Mapping[str, Entry]) -> dict[str, str]:
    """event key → identifier of its newest message."""
    out: dict[str, Alert] = {}
    for e in entries.values():
        seen = out.get(e.alert.event_key)
        if seen is None or _order(e.alert) > _order(seen):
            out[e.alert.event_key] = e.alert
    return {k: a.identifier for k, a in out.items()}


def earlier_of_event(entries: Mapping[str, Entry], alert: Alert) -> list[Alert]:
    """The messages of the alert's event the site holds that are older than it, oldest first."""
    mine = _order(alert)
    return sorted(
        (
            e.alert
            for e in entries.values()
            if e.alert.event_key == alert.event_key and _order(e.alert) < mine
        ),
        key=_order,
    )


def views(entries: Mapping[str, Entry], at: datetime) -> dict[str, View]:
    by_event: dict[str, list[Alert]] = {}
    for e in entries.values():
        by_event.setdefault(e.alert.event_key, []).append(e.alert)
    out: dict[str, View] = {}
    for alerts in by_event.values():
        alerts.sort(key=_order)
        newest = alerts[-1]
        cancelled = newest.msg_type is MsgType.CANCEL
        for a in alerts:
            if a.msg_type is MsgType.CANCEL:
                out[a.identifier] = View.CANCEL
            elif cancelled:
                out[a.identifier] = View.CANCELLED
            elif a is not newest:
                out[a.identifier] = View.SUPERSEDED
            elif _is_lifted(a):
                out[a.identifier] = View.LIFTED
            elif _expired(a, at):
                out[a.identifier] = View.EXPIRED
            else:
                out[a.identifier] = View.CURRENT
    return out


def next_expiry(entries: Mapping[str, Entry], current: Mapping[str, View]) -> datetime | None:
    """When the first message now on the lists expires (the adapter republishes then)."""
    times = [
        max(i.expires for i in e.alert.info if i.expires is not None)
        for ident, e in entries.items()
        if current.get(ident) is View.CURRENT and any(i.expires for i in e.alert.info)
    ]
    return min(times, default=None)


def prominence(entry: Entry) -> tuple[int, int, int, datetime]:
    """Sort key for lists: real messages before drills and tests, then the gravest, then the newest.

    A drill's 避難指示 is as grave as a real one by its fields; listed above the real one (site,
    banner, app) it hid it, on the evening a drill and a real event overlapped.
    """
    actual = 1 if entry.alert.status is Status.ACTUAL else 0
    if not entry.alert.info:
        return (actual, 0, 0, entry.alert.sent)
    info = entry.alert.primary
    return (actual, SEVERITY_RANK[info.severity], URGENCY_RANK[info.urgency], entry.alert.sent)


def prune(state: SiteState, keep: int, view: Mapping[str, View]) -> SiteState:
    """At most `keep` messages, the oldest dropped first; messages on the lists always stay, and so
    does every message of their events (their pages say what replaced what)."""
    if len(state.entries) <= keep:
        return state
    live_events = {e.alert.event_key for i, e in state.entries.items() if view.get(i) is View.CURRENT}
    ranked = sorted(state.entries.values(), key=lambda e: _order(e.alert), reverse=True)
    kept = [e for e in ranked if e.alert.event_key in live_events]
    for e in ranked:
        if len(kept) >= keep:
            break
        if e.alert.event_key not in live_events:
            kept.append(e)
    return state.model_copy(update={"entries": {e.identifier: e for e in kept}})
