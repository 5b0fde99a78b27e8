"""Append-only files of one record per line, each record whole or absent.

The outbox and the SNS adapters' post logs are evidence of what went out. A full disk (or a file
size limit) lets `write` take only part of a record and return the count, or fail halfway; the
outbox once ignored that, said "accepted" to the ledger, and glued the next record onto the torn
one. Here a record is written in a loop until every byte is down; if the disk refuses any part,
the file is cut back to where the record began and the error goes to the caller (who retries:
nothing was recorded). A crash between the two leaves a torn tail; `recover` cuts it back to the
last whole record, and every append checks the tail first, so a torn record never joins the next.

Writers on one machine take an exclusive lock on the file for the append, so a cut never removes
another writer's record (several workers of a channel may share an outbox file).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable
from pathlib import Path

from broadcaster.logging import get_logger

log = get_logger(__name__)

# How much of the end of a file `recover` reads to find the last whole record.
_TAIL = 1 << 20


def whole_json(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def append(path: Path, record: bytes, *, durable: bool = True) -> int:
    """Append one record (a line ending in a newline); returns its offset. Raises OSError with the
    file as it was before when any part of the record could not be written."""
    if not record.endswith(b"\n") or b"\n" in record[:-1]:
        raise ValueError("a record is one line ending in a newline")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _cut_torn_tail(fd, path, whole_json)
        offset = os.lseek(fd, 0, os.SEEK_END)
        try:
            view = memoryview(record)
            while view:
                n = os.write(fd, view)
                if n <= 0:
                    raise OSError(f"write took none of the {len(view)} bytes left")
                view = view[n:]
            if durable:
                # The record is the proof of what went out; it must survive the crash that may follow.
                os.fsync(fd)
        except OSError:
            _truncate(fd, path, offset, reason="write_refused")
            raise
        return offset
    finally:
        os.close(fd)


def recover(path: Path, is_record: Callable[[bytes], bool] = whole_json) -> int:
    """Cut a torn tail (left by a crash mid-append) back to the last whole record, saying so in
    the log. Returns the bytes cut (0 for a whole or missing file)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return 0
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return _cut_torn_tail(fd, path, is_record)
    finally:
        os.close(fd)


def _cut_torn_tail(fd: int, path: Path, is_record: Callable[[bytes], bool]) -> int:
    size = os.fstat(fd).st_size
    # The usual case costs one byte read: the file ends where its last record ended.
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return 0
    start = max(0, size - _TAIL)
    tail = os.pread(fd, size - start, start)
    first = end = tail.rfind(b"\n") + 1
    # The lines before the torn one may be whole on disk yet no record (zeros after a power cut).
    while end > 0:
        prev = tail.rfind(b"\n", 0, end - 1) + 1
        if is_record(tail[prev : end - 1]):
            break
        end = prev
    if end == 0 and start > 0:
        end = first  # no record in the window read: cut only the torn line
    _truncate(fd, path, start + end, reason="torn_tail")
    return size - (start + end)


def _truncate(fd: int, path: Path, length: int, *, reason: str) -> None:
    size = os.fstat(fd).st_size
    os.ftruncate(fd, length)
    os.fsync(fd)
    log.warning("append_file_cut", path=str(path), reason=reason, kept=length, cut=size - length)
