"""A receiver's messages of one event, chained: a launch, then 直ちに避難, then its cancel.

A mail says nothing of the messages before it. The bridge remembers, per receiver, kind of
information and status, the first and the last message of the current event: a mail of the same
kind within the kind's window continues that event (an update of it, or its cancel), so that a
later stage supersedes the earlier one on every medium and a cancel reaches exactly where the
event went. A drill never continues a real event (the status is part of the key).

The state is a small JSON file in the spool folder, written atomically; if it is lost, the next
mail starts a new event, which residents hear as a new message rather than not at all.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

# How long a kind of information stays one event. A missile's stages follow within minutes and
# its cancel may come later; tsunami warnings are lowered over hours.
WINDOWS: dict[str, timedelta] = {
    "missile": timedelta(hours=1),
    "air_attack": timedelta(hours=6),
    "guerrilla": timedelta(hours=6),
    "terror": timedelta(hours=6),
    "civil_protection": timedelta(hours=6),
    "eew": timedelta(minutes=10),
    "tsunami": timedelta(hours=24),
    "special_warning": timedelta(hours=24),
    "volcano": timedelta(hours=24),
}


@dataclass(frozen=True, slots=True)
class Link:
    event: str  # id of the event's first message
    references: str | None  # id of the message before this one; None for the first


class Chains:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._state: dict[str, dict[str, str]] = {}
        with contextlib.suppress(OSError, ValueError, TypeError):
            loaded = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(loaded, dict):
                self._state = {k: v for k, v in loaded.items() if isinstance(v, dict)}

    def link(self, receiver: str, category: str, status: str, message_id: str, at: datetime, *, cancel: bool) -> Link:
        """Where this message belongs; records it as the event's latest."""
        window = WINDOWS.get(category)
        if window is None:
            return Link(message_id, None)
        key = f"{receiver}|{category}|{status}"
        with self._lock:
            current = self._state.get(key)
            if current is not None:
                try:
                    last_at = datetime.fromisoformat(current["at"])
                except (KeyError, ValueError):
                    current = None
                else:
                    if abs(at - last_at) > window:
                        current = None
            if current is not None and current.get("last") == message_id:
                # The same mail again (the receiver retried): the same place in the chain.
                return Link(current["event"], current.get("before") or None)
            if current is None:
                if cancel:
                    return Link(message_id, None)
                self._state[key] = {"event": message_id, "last": message_id, "before": "", "at": at.isoformat()}
                self._save()
                return Link(message_id, None)
            link = Link(current["event"], current["last"])
            if cancel:
                # A cancelled event is over: the next message starts a new one.
                del self._state[key]
            else:
                self._state[key] = {
                    "event": current["event"], "last": message_id, "before": current["last"], "at": at.isoformat(),
                }  # fmt: skip
            self._save()
            return link

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self._state, f, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
