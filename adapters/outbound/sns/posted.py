"""What this account posted, per dispatch and per alert: the adapter's own memory of its posts.

The social networks give no way to say "the post of alert X" except the post's id, and an adapter
cannot read the ledger. So each SNS adapter keeps this small append-only log under the
deployment's var dir (``var/sns/<channel>/<tenant>.jsonl``), written as each post is accepted:

* a Cancel finds the posts of the alerts it references, to reply to them or delete them;
* a retried thread (part 3 failed after parts 1 and 2 went out) continues where it stopped, and a
  redelivered dispatch whose posts all went out is not posted again.

It is local to the machine. A cancel handled by a worker on another machine (a Kafka deployment
moves partitions) or after the var dir was lost does not find the original; it is then posted on
its own, saying what it cancels (docs/channels.md). Each line is written whole or not at all
(`broadcaster.appendfile`, which also locks the file for the append, so two processes on one
machine may share it), and a tail torn by a crash is cut when the log is first read.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from broadcaster import appendfile
from broadcaster.model import now


@dataclass(frozen=True, slots=True)
class Post:
    key: str  # the dispatch's idempotency key
    alert: str  # the alert's identifier
    n: int  # place in the dispatch's thread, from 0
    ref: str  # the network's id of the post (tweet id, status id, at:// URI)
    cid: str | None = None  # Bluesky's content hash, needed to reply


class PostLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._posts: list[Post] | None = None
        self._deleted: set[str] = set()
        self._lock = asyncio.Lock()

    @classmethod
    def under(cls, var_dir: Path, channel: str, tenant: str) -> PostLog:
        return cls(var_dir / "sns" / channel / f"{tenant}.jsonl")

    async def _load(self) -> list[Post]:
        if self._posts is None:
            await asyncio.to_thread(appendfile.recover, self.path)
            posts, deleted = await asyncio.to_thread(_read, self.path)
            self._posts, self._deleted = posts, deleted
        return self._posts

    async def of_key(self, key: str) -> list[Post]:
        """The posts one dispatch made, in thread order (a retry continues after the last)."""
        posts = {p.n: p for p in await self._load() if p.key == key}
        return [posts[n] for n in sorted(posts)]

    async def of_alert(self, alert: str) -> list[Post]:
        """Every post still standing that carried `alert`, in the order posted."""
        return [p for p in await self._load() if p.alert == alert and p.ref not in self._deleted]

    async def record(self, post: Post) -> None:
        line = {"at": now().isoformat(), **asdict(post)}
        async with self._lock:
            await self._load()
            await asyncio.to_thread(_append, self.path, line)
            assert self._posts is not None
            self._posts.append(post)

    async def deleted(self, ref: str) -> None:
        async with self._lock:
            await self._load()
            await asyncio.to_thread(_append, self.path, {"at": now().isoformat(), "deleted": ref})
            self._deleted.add(ref)


def _read(path: Path) -> tuple[list[Post], set[str]]:
    posts: list[Post] = []
    deleted: set[str] = set()
    if not path.exists():
        return posts, deleted
    for raw in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(raw)
        except ValueError:
            continue  # a line torn by a crash mid-write; the rest is still good
        if "deleted" in rec:
            deleted.add(str(rec["deleted"]))
        elif {"key", "alert", "n", "ref"} <= rec.keys():
            posts.append(Post(rec["key"], rec["alert"], int(rec["n"]), str(rec["ref"]), rec.get("cid")))
    return posts, deleted


def _append(path: Path, record: dict[str, object]) -> None:
    # The post is public already; losing its record would make a retry post it again (fsync).
    appendfile.append(path, (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
