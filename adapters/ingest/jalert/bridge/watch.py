"""Watching the J-Alert receiver's output folder: each complete file there is one message.

The folder is scanned every `scan_interval_s` (no inotify: the receiver's PC may share the folder
over SMB, where change notification is unreliable). A file is taken once it has not changed for
`settle_s`, oldest first; hidden files and *.tmp / *.part are the receiver still writing and are
left alone. A taken file is spooled durably first and only then deleted (or moved to
.forwarded/), so a crash in between spools it again rather than losing it; the broadcaster keeps
one alert per message id.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from adapters.ingest.jalert.bridge.spool import Spool
from broadcaster.logging import get_logger

log = get_logger(__name__)

_SKIP_SUFFIXES = (".tmp", ".part", ".partial", ".lock", "~")
FORWARDED = ".forwarded"
TOO_LARGE = ".too-large"


def content_type_of(body: bytes) -> str:
    head = body.lstrip()[:1]
    if head == b"<":
        return "application/xml"
    if head == b"{":
        return "application/json"
    return "text/plain"


@dataclass(frozen=True, slots=True)
class _Seen:
    size: int
    mtime_ns: int


class FolderWatcher:
    def __init__(
        self,
        folder: Path,
        spool: Spool,
        *,
        settle_s: float,
        interval_s: float,
        after: Literal["delete", "move"],
        max_bytes: int,
        on_spooled: Callable[[], None] = lambda: None,
    ) -> None:
        self.folder = folder
        self.spool = spool
        self.settle_s = settle_s
        self.interval_s = interval_s
        self.after = after
        self.max_bytes = max_bytes
        self.on_spooled = on_spooled
        # Files spooled whose removal failed: not spooled again while they stay the same.
        self._stuck: dict[str, _Seen] = {}
        self._unreadable = False
        self._stop = asyncio.Event()

    def _ready(self) -> list[tuple[Path, os.stat_result]]:
        now = time.time()
        out: list[tuple[Path, os.stat_result]] = []
        try:
            entries = list(os.scandir(self.folder))
        except OSError as e:
            # Said once per outage (an unmounted share), not twice a second.
            if not self._unreadable:
                log.error("jalert_watch_unreadable", folder=str(self.folder), error=str(e)[:300])
            self._unreadable = True
            return []
        if self._unreadable:
            log.info("jalert_watch_readable_again", folder=str(self.folder))
            self._unreadable = False
        for entry in entries:
            name = entry.name
            if name.startswith(".") or name.endswith(_SKIP_SUFFIXES) or not entry.is_file(follow_symlinks=False):
                continue
            st = entry.stat(follow_symlinks=False)
            seen = _Seen(st.st_size, st.st_mtime_ns)
            if self._stuck.get(name) == seen or now - st.st_mtime < self.settle_s:
                continue
            out.append((Path(entry.path), st))
        return sorted(out, key=lambda p: (p[1].st_mtime_ns, p[0].name))

    def _take(self, path: Path, st: os.stat_result) -> bool:
        """Spool one file and clear it away; True when a message was spooled."""
        if st.st_size > self.max_bytes:
            log.error("jalert_file_too_large", file=path.name, size=st.st_size, limit=self.max_bytes)
            self._clear(path, st, TOO_LARGE)
            return False
        body = path.read_bytes()
        item = self.spool.put(body, content_type=content_type_of(body), origin=f"watch:{path.name}")
        log.info("jalert_spooled", message=item.id, seq=item.seq, file=path.name, size=len(body))
        self._clear(path, st, FORWARDED if self.after == "move" else None)
        return True

    def _clear(self, path: Path, st: os.stat_result, keep_in: str | None) -> None:
        try:
            if keep_in is None:
                path.unlink()
            else:
                (self.folder / keep_in).mkdir(exist_ok=True)
                os.replace(path, self.folder / keep_in / path.name)
            self._stuck.pop(path.name, None)
        except OSError as e:
            log.error("jalert_watch_cannot_clear", file=path.name, error=str(e)[:300])
            self._stuck[path.name] = _Seen(st.st_size, st.st_mtime_ns)

    def scan_once(self) -> int:
        taken = 0
        for path, st in self._ready():
            try:
                taken += self._take(path, st)
            except OSError as e:  # vanished, unreadable, or the spool's disk: next scan tries again
                log.error("jalert_watch_take_failed", file=path.name, error=str(e)[:300])
                break  # keep the order: nothing after it goes before it
        return taken

    async def run(self) -> None:
        while not self._stop.is_set():
            taken = await asyncio.to_thread(self.scan_once)
            if taken:
                self.on_spooled()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.interval_s)

    async def stop(self) -> None:
        self._stop.set()
