"""Posts on Bluesky (the AT Protocol) through the atproto SDK's async client.

Each post is written with ``com.atproto.repo.putRecord`` under a record key derived from the
dispatch (a TID from the post's time, which is the dispatch's creation time plus the post's place
in the thread in microseconds, and a 10-bit hash of the dispatch's key), with that time as its
creation time: a retry after a lost answer finds the very same record and writes nothing, so the
post exists once (docs/channels.md). putRecord replaces whatever is under its key without a word,
so the key is read first: a record with other content under it (another dispatch created in the
same microsecond whose hash collided) moves this post to the next free key instead of erasing
the other. Posts of one thread never share a key, since their times differ.

Sessions: createSession is limited far more than posts (30 in five minutes, 300 a day per
account; docs.bsky.app, "Rate Limits"), so the session is made once and kept: refreshed with its
refresh token when the server says the access token expired (the SDK also refreshes it a
quarter-hour before its expiry), and saved in the var dir so that a restarted worker carries on
with it instead of logging in again. Only a refused refresh makes a new session. The write budget
Bluesky reports in its ratelimit-* headers is saved beside it for `broadcaster status`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Self

# Imported with this module, which the pipeline loads at start-up: the SDK's generated models take
# most of a second to import, and the first post must not wait for that.
import atproto_client
import httpx
from atproto_client import models
from atproto_client.exceptions import (
    AtProtocolError,
    BadRequestError,
    NetworkError,
    RateLimitExceededError,
    RequestErrorBase,
    UnauthorizedError,
)
from atproto_client.request import AsyncRequest
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr, ValidationError

from adapters.outbound.sns.posted import Post, PostLog
from adapters.outbound.sns.texts import URL, PostText
from adapters.outbound.sns.thread import Posted, send_thread
from broadcaster.channels import AdapterEnv, Addressing, Delivery, QuotaState, SendResult
from broadcaster.errors import ConfigError, PermanentError, TransientError
from broadcaster.settings import ChannelSettings

POST = "app.bsky.feed.post"
# How long an idle connection to the server is kept (httpx's default is 5 s).
KEEPALIVE_S = 60.0
WRITES = "Bluesky writes"
# A record created costs 3 of the account's write points (docs.bsky.app, "Rate Limits").
POST_POINTS = 3
MAX_GRAPHEMES = 300
_TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"


# Keys tried after the derived one when another post holds it (each a millisecond later).
_KEY_TRIES = 8


def clock_id(salt: str) -> int:
    return int.from_bytes(hashlib.sha256(salt.encode()).digest()[:2], "big") & 0x3FF


def tid(at: datetime, salt: str) -> str:
    """An AT Protocol TID: microseconds since 1970 and a 10-bit clock id, base32-sortable."""
    delta = at.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    clock = clock_id(salt)
    value = ((micros & ((1 << 53) - 1)) << 10) | clock
    return "".join(_TID_CHARS[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def link_facets(text: str) -> list[Any]:
    """Links in the text made clickable: Bluesky shows bare URLs as plain text otherwise."""
    out = []
    for m in URL.finditer(text):
        start = len(text[: m.start()].encode("utf-8"))
        end = start + len(m.group(0).encode("utf-8"))
        out.append(
            models.AppBskyRichtextFacet.Main(
                index=models.AppBskyRichtextFacet.ByteSlice(byte_start=start, byte_end=end),
                features=[models.AppBskyRichtextFacet.Link(uri=m.group(0))],
            )
        )
    return out


class BlueskySettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    handle: str = Field(min_length=3)  # e.g. anamizu-bousai.bsky.social
    app_password: SecretStr
    base_url: HttpUrl = HttpUrl("https://bsky.social")
    timeout: float = Field(default=10.0, gt=0, le=300)
    delete_on_cancel: bool = False


@dataclass(frozen=True, slots=True)
class RateState:
    """The account's write budget as Bluesky last reported it (ratelimit-* headers)."""

    limit: int
    remaining: int
    reset: int  # unix time
    policy: str
    seen: str  # ISO time of the answer

    @classmethod
    def read(cls, path: Path) -> RateState | None:
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


class BlueskyNetwork:
    label = "Bluesky"

    def __init__(self, settings: BlueskySettings, *, state_dir: Path | None = None) -> None:
        self._settings = settings
        self._client: Any = None  # atproto_client.AsyncClient
        self._did: str | None = None
        self._login = asyncio.Lock()
        # The session (its refresh token is a credential: the file is the owner's only) and the
        # last reported write budget.
        self.session_file = state_dir / "session" if state_dir is not None else None
        self.rate_file = state_dir / "rate.json" if state_dir is not None else None
        self.rate: RateState | None = None

    def fits(self, text: str) -> bool:
        # Graphemes, approximately: combining marks join the character before them.
        graphemes = sum(1 for c in text if not unicodedata.combining(c))
        return graphemes <= MAX_GRAPHEMES and len(text.encode("utf-8")) <= 3000

    async def _session(self, *, renew: bool = False) -> tuple[Any, str]:
        async with self._login:
            if self._client is None:
                self._client = atproto_client.AsyncClient(
                    base_url=str(self._settings.base_url).rstrip("/"),
                    request=AsyncRequest(
                        timeout=httpx.Timeout(self._settings.timeout),
                        event_hooks={"response": [self._observe]},
                        # httpx closes an idle connection after 5 s; the warm-up's stays open for a
                        # minute (docs/channels.md, *Warm-up*). A connection the server closed is
                        # never reused: httpx checks before each request.
                        limits=httpx.Limits(
                            max_connections=100, max_keepalive_connections=20, keepalive_expiry=KEEPALIVE_S
                        ),
                    ),
                )
                self._client.on_session_change(self._remember)
            if self._did is None and not renew and await self._resume():
                assert self._did is not None
                return self._client, self._did
            if renew and self._did is not None:
                try:
                    # The SDK's own refresh (the one it runs before an access token expires):
                    # refreshSession, which costs nothing against the login limit.
                    await self._client._refresh_and_set_session()
                    return self._client, self._did
                except AtProtocolError:
                    pass  # the refresh token expired or was revoked: a new session, below
            if self._did is None or renew:
                await self._client.login(
                    self._settings.handle,
                    self._settings.app_password.get_secret_value(),
                    fetch_bsky_profile=False,
                )
            assert self._did is not None
            return self._client, self._did

    async def _resume(self) -> bool:
        """Carry on with the session a previous process saved (no createSession)."""
        if self.session_file is None:
            return False
        try:
            saved = json.loads(await asyncio.to_thread(self.session_file.read_text, encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if not isinstance(saved, dict) or saved.get("handle") != self._settings.handle:
            return False
        try:
            await self._client.login(session_string=str(saved.get("session", "")), fetch_bsky_profile=False)
        except (AtProtocolError, ValueError):
            return False
        return self._did is not None

    async def _remember(self, event: Any, session: Any) -> None:
        self._did = session.did
        if self.session_file is not None and self._client is not None:
            saved = json.dumps({"handle": self._settings.handle, "session": self._client.export_session_string()})
            await asyncio.to_thread(_write_private, self.session_file, saved)

    async def _observe(self, response: httpx.Response) -> None:
        h = response.headers
        if "ratelimit-remaining" not in h or "ratelimit-limit" not in h:
            return
        try:
            state = RateState(
                limit=int(h["ratelimit-limit"]),
                remaining=int(h["ratelimit-remaining"]),
                reset=int(h.get("ratelimit-reset", "0")),
                policy=h.get("ratelimit-policy", ""),
                seen=datetime.now(UTC).isoformat(),
            )
        except ValueError:
            return
        # createSession's own limit is reported on its answers too; the write budget is what
        # the status shows, so only the answers of writes are kept.
        if "com.atproto.repo." not in str(response.request.url):
            return
        self.rate = state
        if self.rate_file is not None:
            await asyncio.to_thread(_write_private, self.rate_file, json.dumps(asdict(state)))

    async def _call(self, what: str, fn: Any) -> Any:
        """Run `fn(client, did)`; refresh the session once if the server says it expired."""
        try:
            client, did = await self._session()
            try:
                return await fn(client, did)
            except BadRequestError as e:
                if "ExpiredToken" not in str(e) and "InvalidToken" not in str(e):
                    raise
            client, did = await self._session(renew=True)
            return await fn(client, did)
        except AtProtocolError as e:
            raise _error(what, e) from e

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
        reply = None
        if parent is not None and parent.cid is not None:
            top = root if root is not None and root.cid is not None else parent
            reply = models.AppBskyFeedPost.ReplyRef(
                root=models.ComAtprotoRepoStrongRef.Main(uri=top.ref, cid=str(top.cid)),
                parent=models.ComAtprotoRepoStrongRef.Main(uri=parent.ref, cid=str(parent.cid)),
            )
        record = models.AppBskyFeedPost.Record(
            created_at=at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            text=text.text,
            langs=[text.language],
            reply=reply,
            facets=link_facets(text.text) or None,
        )

        async def put(client: Any, did: str) -> Any:
            for attempt in range(_KEY_TRIES):
                rkey = tid(at + timedelta(milliseconds=attempt), key)
                there = await _existing(client, did, rkey)
                if there is not None:
                    if _same_post(there.value, record):
                        return there  # an earlier attempt wrote it; its answer was lost
                    continue  # another post holds this key: putRecord would erase it
                return await client.com.atproto.repo.put_record(
                    models.ComAtprotoRepoPutRecord.Data(repo=did, collection=POST, rkey=rkey, record=record)
                )
            raise PermanentError(f"{_KEY_TRIES} record keys in a row are taken by other posts")

        written = await self._call("post", put)
        return Posted(str(written.uri), str(written.cid))

    async def delete(self, post: Post) -> None:
        rkey = post.ref.rsplit("/", 1)[-1]

        async def remove(client: Any, did: str) -> Any:
            # deleteRecord succeeds for a record that is already gone.
            return await client.com.atproto.repo.delete_record(
                models.ComAtprotoRepoDeleteRecord.Data(repo=did, collection=POST, rkey=rkey)
            )

        await self._call("delete", remove)

    async def warm(self) -> None:
        """Log in (or carry on with the saved session) before the first post: that is the first
        post's slowest part, a request of its own, and it leaves the connection open."""
        try:
            _, did = await self._session()
        except AtProtocolError as e:
            raise _error("login", e) from e
        _load_post_models(did)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.request.close()
        self._client = None
        self._did = None


def _load_post_models(did: str) -> None:
    """Build (and drop) what a post builds, so that the SDK's models are loaded now: atproto
    imports each model module on first use and pydantic builds its schema then, about 170 ms of
    the first post's time on the event loop (docs/benchmarks.md, *Cold path*)."""
    ref = models.ComAtprotoRepoStrongRef.Main(uri=f"at://{did}/{POST}/warm", cid="warm")
    record = models.AppBskyFeedPost.Record(
        created_at=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        text="https://example.jp",
        langs=["ja"],
        reply=models.AppBskyFeedPost.ReplyRef(root=ref, parent=ref),
        facets=link_facets("https://example.jp") or None,
    )
    models.ComAtprotoRepoPutRecord.Data(repo=did, collection=POST, rkey="warm", record=record)
    models.ComAtprotoRepoGetRecord.Params(repo=did, collection=POST, rkey="warm")
    models.ComAtprotoRepoDeleteRecord.Data(repo=did, collection=POST, rkey="warm")
    for name in ("ComAtprotoRepoGetRecord", "ComAtprotoRepoPutRecord"):
        getattr(getattr(models, name), "Response", None)


async def _existing(client: Any, did: str, rkey: str) -> Any:
    try:
        return await client.com.atproto.repo.get_record(
            models.ComAtprotoRepoGetRecord.Params(repo=did, collection=POST, rkey=rkey)
        )
    except BadRequestError as e:
        if "RecordNotFound" in str(e) or "Could not locate record" in str(e):
            return None
        raise


def _same_post(value: Any, record: Any) -> bool:
    """Whether the record under a key is this post (same text, same creation time)."""
    def get(obj: Any, name: str, alias: str) -> Any:
        if isinstance(obj, dict):
            return obj.get(alias, obj.get(name))
        return getattr(obj, name, None)

    return bool(
        get(value, "text", "text") == record.text and get(value, "created_at", "createdAt") == record.created_at
    )


def _error(what: str, e: Exception) -> Exception:
    text = str(e) or type(e).__name__
    if isinstance(e, RateLimitExceededError):
        wait = e.retry_after
        if wait is None and e.reset_at is not None:
            wait = max(1.0, (e.reset_at - datetime.now(UTC)).total_seconds())
        return TransientError(f"Bluesky rate limit on {what}: {text}", retry_after=wait)
    if isinstance(e, NetworkError):
        return TransientError(f"Bluesky unreachable on {what}: {text}")
    if isinstance(e, UnauthorizedError):
        return PermanentError(f"Bluesky refused the login or the session ({text}); check the app password")
    if isinstance(e, RequestErrorBase) and e.response is not None and e.response.status_code >= 500:
        return TransientError(f"Bluesky server error on {what}: {text}")
    return PermanentError(f"Bluesky refused the {what}: {text}")


class BlueskyAdapter:
    name: ClassVar[str] = "bluesky"
    addressing: ClassVar[Addressing] = "broadcast"
    max_text_length: ClassVar[int | None] = MAX_GRAPHEMES
    max_recipients_per_request: ClassVar[int | None] = None
    required_credentials: ClassVar[tuple[str, ...]] = ("app_password",)

    def __init__(self, settings: BlueskySettings, posts: PostLog, *, state_dir: Path | None = None) -> None:
        self._settings = settings
        self._network = BlueskyNetwork(settings, state_dir=state_dir)
        self._posts = posts

    @classmethod
    def from_settings(cls, channel: str, settings: ChannelSettings, env: AdapterEnv) -> Self:
        """options: handle (required), base_url (the account's PDS), delete_on_cancel."""
        opts = dict(settings.options)
        fields: dict[str, Any] = {
            "app_password": settings.credentials.get("app_password"),
            "timeout": min(300.0, settings.timeout_s * 0.9),
        }
        for name in ("handle", "base_url", "delete_on_cancel"):
            if name in opts:
                fields[name] = opts.pop(name)
        if opts:
            raise ConfigError(f"channel {channel}: unknown options {', '.join(sorted(opts))}")
        try:
            return cls(
                BlueskySettings(**fields),
                PostLog.under(env.var_dir, channel, env.tenant),
                state_dir=state_dir(env.var_dir, channel, env.tenant),
            )
        except ValidationError as e:
            raise ConfigError(f"channel {channel} (tenant {env.tenant}): {e}") from e

    async def send(self, delivery: Delivery) -> SendResult:
        return await send_thread(
            delivery, self._network, self._posts, delete_on_cancel=self._settings.delete_on_cancel
        )

    async def warm(self) -> None:
        await self._network.warm()

    @property
    def rate(self) -> RateState | None:
        return self._network.rate

    async def quota_state(self) -> list[QuotaState]:
        path = self._network.rate_file
        rate = self._network.rate or (RateState.read(path) if path is not None else None)
        if rate is None:
            return [QuotaState(name=WRITES, unit="points", detail="no write yet since the state was kept")]
        reset = datetime.fromtimestamp(rate.reset, UTC).isoformat() if rate.reset else None
        # The budget refills when its window ends; a figure from before that is stale.
        if rate.reset and rate.reset < datetime.now(UTC).timestamp():
            return [QuotaState(name=WRITES, unit="points", limit=rate.limit, remaining=rate.limit, resets=None,
                               detail=f"window of {rate.policy} over since the last write")]
        return [
            QuotaState(
                name=WRITES,
                unit="points",
                remaining=rate.remaining,
                limit=rate.limit,
                spent=rate.remaining < POST_POINTS,
                resets=reset,
                detail=f"policy {rate.policy}, as of {rate.seen}",
            )
        ]

    def quota_needed(self, people: int, posts: Sequence[str]) -> dict[str, float]:
        return {WRITES: float(POST_POINTS * len(posts))}

    async def close(self) -> None:
        await self._network.close()


def state_dir(var_dir: Path, channel: str, tenant: str) -> Path:
    """Where a Bluesky channel keeps its session and its last reported write budget."""
    return var_dir / "sns" / channel / f"{tenant}.state"
