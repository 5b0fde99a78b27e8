"""One dispatch as a thread of posts on a social network, and what a Cancel does to the original.

Shared by the X, Mastodon and Bluesky adapters; each supplies a `Network` that posts one text and
deletes one post. A dispatch's parts go out as a reply chain. Each accepted post is written to the
adapter's post log at once, so a retry continues the thread after the last post that went out
instead of repeating it, and a redelivered dispatch whose posts are all out posts nothing.

A Cancel replies to the head post of the most recent original it references that this account
posted, so that people who saw the warning see the cancellation under it; with
``delete_on_cancel`` it is posted on its own instead and the originals are deleted afterwards (a
deleted post is never the only trace: the cancellation itself stays). When no original is found
(another machine posted it, the log was lost), the cancellation is posted on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from adapters.outbound.sns.posted import Post, PostLog
from adapters.outbound.sns.texts import PostText, fit_thread, thread_of
from broadcaster.channels import Delivery, SendResult
from broadcaster.errors import PermanentError
from broadcaster.logging import get_logger
from broadcaster.model import JST, MsgType

log = get_logger(__name__)


class Duplicate(Exception):
    """The network refused a post as a copy of one it already has (X: identical recent text)."""


@dataclass(frozen=True, slots=True)
class Posted:
    ref: str
    cid: str | None = None


class Network(Protocol):
    label: str

    def fits(self, text: str) -> bool: ...

    async def post(
        self,
        text: PostText,
        *,
        parent: Post | None,
        root: Post | None,
        key: str,
        at: datetime,
        retry: bool = False,
    ) -> Posted:
        """Post `text` (in reply to `parent`, in the thread of `root`). `key` and `at` are the
        same on every attempt of this post: networks that honour a key or a record key use them.
        `retry`: an earlier attempt of this dispatch may have posted it."""

    async def delete(self, post: Post) -> None:
        """Delete a post; one that is already gone counts as deleted."""


async def originals(log_: PostLog, delivery: Delivery) -> list[Post]:
    """The posts of the alerts a Cancel or Update references, most recent alert last."""
    out: list[Post] = []
    for identifier in delivery.alert.referenced_identifiers():
        out.extend(await log_.of_alert(identifier))
    return out


def _distinct(post: PostText, delivery: Delivery, network: Network) -> PostText:
    """`post` with a mark of its own alert (the time it was sent, JST, and a short id), cut to fit."""
    sent = delivery.alert.sent.astimezone(JST)
    mark = f" [{sent:%H:%M} #{delivery.alert.identifier[-4:]}]"
    text = post.text
    while text and not network.fits(text + mark):
        text = text[:-2].rstrip() + "…"
    return PostText(post.language, text + mark)


async def send_thread(
    delivery: Delivery, network: Network, posts: PostLog, *, delete_on_cancel: bool = False
) -> SendResult:
    key = delivery.idempotency_key
    alert = delivery.alert
    texts = fit_thread(thread_of(delivery), network.fits)
    if not texts:
        raise PermanentError("nothing to post: every text is empty")
    done = await posts.of_key(key)
    cancel = alert.msg_type is MsgType.CANCEL
    before = await originals(posts, delivery) if cancel else []
    notes: list[str] = []

    # A cancel replies under the head of the latest original thread: where people saw the warning.
    anchor: Post | None = None
    if cancel and before and not delete_on_cancel:
        latest = before[-1].alert
        anchor = min((p for p in before if p.alert == latest), key=lambda p: p.n)
        notes.append(f"in reply to {anchor.ref}")
    elif cancel and not before:
        notes.append("original post not found here; posted on its own")
    root: Post | None = anchor or (done[0] if done else None)
    parent: Post | None = done[-1] if done else anchor
    if done:
        notes.append(f"continued after {len(done)} post(s) of an earlier attempt")

    first_ref = done[0].ref if done else None
    for n in range(len(done), len(texts)):
        try:
            # Each post of the thread its own time (a microsecond apart): networks that derive a
            # record key from the time (Bluesky's TIDs) must not give two posts one key.
            made = await network.post(
                texts[n],
                parent=parent,
                root=root,
                key=f"{key}-{n}",
                at=delivery.dispatch.created + timedelta(microseconds=n),
                retry=delivery.attempt > 1,
            )
        except Duplicate as e:
            if delivery.attempt > 1 or done:
                # An earlier attempt posted this and its answer was lost: the network has it.
                notes.append(f"post {n + 1} already on {network.label} from an earlier attempt")
                parent = None
                continue
            # A first attempt: the same text was posted for another alert (two events' cancels
            # read alike). The post is made distinct by its time and the alert's short id, so it
            # still goes out.
            distinct = _distinct(texts[n], delivery, network)
            try:
                made = await network.post(
                    distinct,
                    parent=parent,
                    root=root,
                    key=f"{key}-{n}-d",
                    at=delivery.dispatch.created + timedelta(microseconds=n),
                )
            except Duplicate as again:
                raise PermanentError(
                    f"{network.label} refused post {n + 1} as a duplicate, even marked: {again}"
                ) from e
            notes.append(f"post {n + 1} marked with its time: the same text was already posted")
        post = Post(key=key, alert=alert.identifier, n=n, ref=made.ref, cid=made.cid)
        await posts.record(post)
        first_ref = first_ref or post.ref
        if root is None:
            root = post
        parent = post

    if cancel and delete_on_cancel and before:
        for original in before:
            await network.delete(original)
            await posts.deleted(original.ref)
        notes.append(f"deleted {len(before)} original post(s)")
    if len(done) >= len(texts):
        notes.append("every post already out from an earlier attempt; nothing posted again")
    return SendResult(
        provider_ref=first_ref,
        accepted=1,
        detail="; ".join([f"{len(texts)} post(s)", *notes]),
    )
