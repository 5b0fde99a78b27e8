"""The bridge's spool: messages on disk, in order, until the broadcaster acknowledged them.

A message is written to tmp/, flushed and fsynced, then renamed into queue/ under its sequence
number, and the folder is fsynced: once `put` returned it survives a crash or a power cut of the
receiver's PC. The forwarder reads the lowest number first and removes a file only after a 2xx, so
the order of the receiver's messages is kept and nothing is lost while the broadcaster, the
network or the bridge itself is down. A message the broadcaster refuses for its content moves to
rejected/ with the reason beside it, so that it cannot block the warnings behind it.

Synchronous by design (a few small files); the async callers run it on a thread.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

_NAME = re.compile(r"^(\d{20})-([0-9a-f]{32})\.msg$")


@dataclass(frozen=True, slots=True)
class Spooled:
    path: Path
    seq: int
    id: str
    spooled: datetime
    origin: str  # watch:<file name>, hook, contact:<name>
    content_type: str
    body: bytes


class SpoolError(Exception):
    pass


def _fsync_dir(path: Path) -> None:
    # The rename or unlink is durable only once the folder's entry is on disk.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.queue = root / "queue"
        self.tmp = root / "tmp"
        self.rejected = root / "rejected"
        for folder in (self.queue, self.tmp, self.rejected):
            folder.mkdir(parents=True, exist_ok=True)
        # A crash while writing leaves a partial file in tmp/ only; it was never acknowledged.
        for leftover in self.tmp.iterdir():
            with contextlib.suppress(OSError):
                leftover.unlink()
        self._lock = threading.Lock()
        self._next = max((seq for seq, _ in self._entries()), default=0) + 1

    def _entries(self) -> list[tuple[int, Path]]:
        out = []
        for path in self.queue.iterdir():
            match = _NAME.match(path.name)
            if match:
                out.append((int(match.group(1)), path))
        return sorted(out)

    def put(self, body: bytes, *, content_type: str, origin: str) -> Spooled:
        """Store a message durably; returns once it would survive a power cut."""
        with self._lock:
            seq = self._next
            self._next += 1
            item_id = uuid.uuid4().hex
            spooled = datetime.now(UTC)
            record = {
                "v": 1,
                "id": item_id,
                "seq": seq,
                "spooled": spooled.isoformat(),
                "origin": origin,
                "content_type": content_type,
                "body": base64.b64encode(body).decode("ascii"),
            }
            name = f"{seq:020d}-{item_id}.msg"
            tmp = self.tmp / name
            with open(tmp, "wb") as f:
                f.write(json.dumps(record, ensure_ascii=False).encode("utf-8"))
                f.flush()
                os.fsync(f.fileno())
            final = self.queue / name
            os.replace(tmp, final)
            _fsync_dir(self.queue)
            return Spooled(final, seq, item_id, spooled, origin, content_type, body)

    def head(self) -> Spooled | None:
        """The oldest message waiting; one that cannot be read is set aside as rejected."""
        for _, path in self._entries():
            try:
                return self._read(path)
            except SpoolError as e:
                self._set_aside(path, f"unreadable spool file: {e}")
        return None

    @staticmethod
    def _read(path: Path) -> Spooled:
        try:
            record = json.loads(path.read_bytes())
            return Spooled(
                path,
                int(record["seq"]),
                str(record["id"]),
                datetime.fromisoformat(record["spooled"]),
                str(record["origin"]),
                str(record["content_type"]),
                base64.b64decode(record["body"], validate=True),
            )
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise SpoolError(f"{path.name}: {type(e).__name__}: {e}") from e

    def remove(self, item: Spooled) -> None:
        """The broadcaster has it: forget it."""
        with contextlib.suppress(FileNotFoundError):
            item.path.unlink()
        _fsync_dir(self.queue)

    def reject(self, item: Spooled, reason: str) -> Path:
        return self._set_aside(item.path, reason)

    def _set_aside(self, path: Path, reason: str) -> Path:
        target = self.rejected / path.name
        os.replace(path, target)
        (self.rejected / (path.name + ".reason")).write_text(reason + "\n", encoding="utf-8")
        _fsync_dir(self.queue)
        return target

    def depth(self) -> int:
        return len(self._entries())

    def oldest(self) -> datetime | None:
        item = self.head()
        return item.spooled if item is not None else None
