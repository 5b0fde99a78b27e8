"""Atomic publishing of a whole site: a new release folder, then one symlink swap.

Why a release folder and a symlink rather than renaming each file into place: a publish changes
several files at once (the list, the banner, a detail page, the feeds), and renaming them one by
one leaves moments where the list names a page that is not there yet, or the banner still shows
what the list has cancelled. Here a reader sees the old release or the new one, never a mix:

1. every file of the new release is written into ``releases/.<n>.tmp`` and fsync'ed (a file
   unchanged since the previous release is hard-linked from it: an unchanged page costs one
   link, not a render and a write);
2. that folder is fsync'ed and renamed to ``releases/<n>``;
3. a new symlink ``.current.tmp`` → ``releases/<n>`` replaces ``current`` with one rename(2),
   which POSIX makes atomic, and the site folder is fsync'ed;
4. releases beyond the newest few that are also older than a grace period are removed, so a
   reader in the middle of an old release finishes it.

A file lock (flock) around read-state → write → swap keeps two worker processes on the same
machine from publishing over each other. It does not work across machines on NFS: run the
website channel's workers on one host (docs/website.md).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from adapters.outbound.website.render import Release
from adapters.outbound.website.state import SiteState
from broadcaster.errors import PermanentError
from broadcaster.site_layout import CURRENT, LOCK, RELEASES, STATE


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


class SitePublisher:
    def __init__(self, root: Path, *, keep_releases: int = 3, grace_s: float = 60.0) -> None:
        self.root = root
        self.keep_releases = max(1, keep_releases)
        self.grace_s = grace_s
        # The state of the release this process published or read last, with the identity of its
        # file: parsing it back costs more than building most pages (docs/benchmarks.md). A
        # release folder is never rewritten, so the same file means the same state; another
        # process's publish makes a new file, which is read.
        self._known: tuple[tuple[str, int, int, int], SiteState] | None = None

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive use of the site folder across processes of this machine."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def current(self) -> Path | None:
        link = self.root / CURRENT
        try:
            return link.resolve(strict=True)
        except (OSError, RuntimeError):
            return None

    @staticmethod
    def _identity(path: Path) -> tuple[str, int, int, int]:
        st = path.stat()
        return (str(path), st.st_ino, st.st_mtime_ns, st.st_size)

    def read_state(self) -> SiteState | None:
        release = self.current()
        if release is None:
            return None
        try:
            identity = self._identity(release / STATE)
            if self._known is not None and self._known[0] == identity:
                return self._known[1]
            state = SiteState.model_validate_json((release / STATE).read_bytes())
            self._known = (identity, state)
            return state
        except FileNotFoundError:
            return None
        except ValueError as e:
            # Never start from empty: that would take every warning off the site.
            raise PermanentError(
                f"the site state {release / STATE} is unreadable ({e}); see docs/website.md"
            ) from e

    def publish(self, release: Release, number: int) -> Path:
        releases = self.root / RELEASES
        releases.mkdir(parents=True, exist_ok=True)
        previous = self.current()
        name = f"{number:010d}"
        tmp = releases / f".{name}.tmp"
        final = releases / name
        for leftover in (tmp, final):  # from a publish that died half-way; never the current one
            if leftover.exists() and leftover != previous:
                shutil.rmtree(leftover)
        tmp.mkdir()
        dirs = {tmp}
        for rel, data in release.fresh.items():
            target = self._target(tmp, rel, dirs)
            _write(target, data)
        for rel, draw in release.reusable.items():
            target = self._target(tmp, rel, dirs)
            source = previous / rel if previous is not None else None
            if source is not None and source.is_file() and not source.is_symlink():
                try:
                    os.link(source, target)
                    continue
                except OSError as e:
                    if e.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                        raise
            _write(target, draw())
        for d in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
            _fsync_dir(d)
        os.rename(tmp, final)
        _fsync_dir(releases)
        if release.state is not None:
            self._known = (self._identity(final / STATE), release.state)
        link_tmp = self.root / ".current.tmp"
        with contextlib.suppress(FileNotFoundError):
            link_tmp.unlink()
        os.symlink(f"{RELEASES}/{name}", link_tmp)
        os.replace(link_tmp, self.root / CURRENT)
        _fsync_dir(self.root)
        self._prune(releases, keep=final)
        return final

    @staticmethod
    def _target(base: Path, rel: str, dirs: set[Path]) -> Path:
        target = base / rel
        parent = target.parent
        if parent not in dirs:
            parent.mkdir(parents=True, exist_ok=True)
            p = parent
            while p != base and p not in dirs:
                dirs.add(p)
                p = p.parent
        return target

    def _prune(self, releases: Path, keep: Path) -> None:
        done = sorted(
            (p for p in releases.iterdir() if p.is_dir() and not p.name.startswith(".")), reverse=True
        )
        now = time.time()
        for old in done[self.keep_releases :]:
            if old == keep:
                continue
            try:
                if now - old.stat().st_mtime < self.grace_s:
                    continue
            except FileNotFoundError:
                continue
            shutil.rmtree(old, ignore_errors=True)
