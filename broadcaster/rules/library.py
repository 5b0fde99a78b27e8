"""Hot reload: the rule sets a running router uses, replaced whole when their files change.

Staff edit rule files during a disaster, so an edit must take effect without a restart, and a
mistake must never take the router down or leave it half-informed:

* A tenant's files are re-read only once they have stopped changing (the same names, sizes and
  modification times on two looks `settle_s` apart), so a file caught half-written by an editor
  is not read.
* The new set is built and checked completely (the same checks as `broadcaster check`) before it
  replaces the old one in a single assignment; routing holds a reference to one RuleSet per
  alert, so no alert is ever decided by a mixture of two versions.
* An invalid edit is refused: the last good set stays active, the error (with file:line) is kept
  for status and logged, and it is reported once per edit, not on every look.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from broadcaster.errors import ConfigError
from broadcaster.logging import get_logger
from broadcaster.model import now
from broadcaster.rules.engine import RuleSet, build_rule_set, read_rule_files, rules_folder

log = get_logger(__name__)

Fingerprint = tuple[str, tuple[tuple[str, int, int], ...]]


def fingerprint(rules_dir: Path, tenant: str) -> Fingerprint:
    """Which folder applies and each file's (name, size, mtime): cheap enough to look every second."""
    folder = rules_folder(rules_dir, tenant)
    entries: list[tuple[str, int, int]] = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if entry.name.endswith(".yaml") and entry.is_file():
                st = entry.stat()
                entries.append((entry.name, st.st_size, st.st_mtime_ns))
    return str(folder), tuple(sorted(entries))


@dataclass(frozen=True, slots=True)
class ReloadEvent:
    tenant: str
    ok: bool
    digest: str  # of the set now active
    files: list[str]
    rules: int
    active_since: datetime
    error: str | None = None  # why the last edit was refused
    error_at: datetime | None = None


@dataclass
class _State:
    active: RuleSet
    applied: Fingerprint  # the files as they were when last read (whether accepted or refused)
    active_since: datetime
    candidate: Fingerprint | None = None
    candidate_since: float = 0.0
    error: str | None = None
    error_at: datetime | None = None

    def event(self, tenant: str, ok: bool) -> ReloadEvent:
        return ReloadEvent(
            tenant, ok, self.active.digest, self.active.files, len(self.active.rules), self.active_since,
            self.error, self.error_at,
        )


@dataclass
class RuleLibrary:
    """The active rule set per tenant; `check()` picks up edits (the watcher calls it)."""

    rules_dir: Path
    districts: Mapping[str, Collection[str]]  # tenant -> its district ids (validated in rules)
    known_channels: Collection[str]
    settle_s: float = 0.5
    _states: dict[str, _State] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        # At start-up an invalid rule set is fatal (fail at the desk, not at 3 a.m.).
        for tenant, districts in self.districts.items():
            fp = fingerprint(self.rules_dir, tenant)
            rule_set = self._build(tenant, districts)
            self._states[tenant] = _State(rule_set, fp, now())

    def _build(self, tenant: str, districts: Collection[str]) -> RuleSet:
        files = read_rule_files(self.rules_dir, tenant)
        return build_rule_set(tenant, files, self.known_channels, districts)

    def get(self, tenant: str) -> RuleSet:
        return self._states[tenant].active

    __getitem__ = get

    @property
    def tenants(self) -> list[str]:
        return list(self._states)

    def events(self) -> list[ReloadEvent]:
        """The current state of every tenant, as events (for the first status write)."""
        return [s.event(t, s.error is None) for t, s in self._states.items()]

    def check(self, at: float | None = None) -> list[ReloadEvent]:
        """Look at the files once; apply or refuse settled edits. Returns what happened."""
        clock = time.monotonic() if at is None else at
        events: list[ReloadEvent] = []
        for tenant, state in self._states.items():
            fp = fingerprint(self.rules_dir, tenant)
            if fp == state.applied:
                state.candidate = None
                continue
            if fp != state.candidate:
                state.candidate, state.candidate_since = fp, clock
                continue
            if clock - state.candidate_since < self.settle_s:
                continue
            event = self._reload(tenant, state, fp)
            if event is not None:
                events.append(event)
        return events

    def _reload(self, tenant: str, state: _State, fp: Fingerprint) -> ReloadEvent | None:
        try:
            rule_set = self._build(tenant, self.districts[tenant])
        except ConfigError as e:
            if fingerprint(self.rules_dir, tenant) != fp:
                state.candidate = None  # changed while we read: look again once it settles
                return None
            state.applied, state.candidate = fp, None
            state.error, state.error_at = str(e), now()
            log.error("rules_refused", tenant=tenant, error=str(e), active=state.active.digest[:8])
            return state.event(tenant, False)
        if fingerprint(self.rules_dir, tenant) != fp:
            state.candidate = None
            return None
        state.applied, state.candidate = fp, None
        if rule_set.digest == state.active.digest:
            return None  # touched, not changed
        state.active, state.active_since = rule_set, now()
        state.error = state.error_at = None
        log.info("rules_reloaded", tenant=tenant, digest=rule_set.digest[:8], rules=len(rule_set.rules))
        return state.event(tenant, True)

    async def watch(
        self,
        stop: asyncio.Event,
        on_event: Callable[[ReloadEvent], Awaitable[None]] | None = None,
        interval_s: float = 0.5,
    ) -> None:
        while not stop.is_set():
            try:
                # A scan stats every rule file and a reload parses YAML: off the event loop
                # (docs/architecture.md, *Off the event loop*). `get` keeps answering meanwhile:
                # a tenant's active set is replaced whole, in one assignment.
                for event in await asyncio.to_thread(self.check):
                    if on_event is not None:
                        await on_event(event)
            except Exception as e:  # the watcher must outlive a flaky disk or database
                log.error("rules_watch_failed", error=str(e)[:300])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
