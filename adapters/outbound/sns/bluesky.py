"""Posts on Bluesky (the AT Protocol) through the atproto SDK's async client.

Each post is written with ``com.atproto.repo.putRecord`` under a record key derived from the
dispatch (a TID from the dispatch's creation time and a hash of its key), with a creation time
that is also the dispatch's: a retry after a lost answer writes the very same record again, so
the post exists once (docs/channels.md). The session is made once per adapter, since Bluesky
limits logins far more than posts, and made again when the server says it has expired.
"""

from __future__ import annotations

import asyncio
import hashlib
import unicodedata
from datetime import UTC, datetime
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
from broadcaster.channels import AdapterEnv, Addressing, Delivery, SendResult
from broadcaster.errors import ConfigError, PermanentError, TransientError
from broadcaster.settings import ChannelSettings

POST = "app.bsky.feed.post"
MAX_GRAPHEMES = 300
_TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"


def tid(at: datetime, salt: str) -> str:
    """An AT Protocol TID: microseconds since 1970 and a 10-bit clock id, base32-sortable."""
    micros = int(at.timestamp() * 1_000_000)
    clock = int.from_bytes(hashlib.sha256(salt.encode()).digest()[:2], "big") & 0x3FF
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


class BlueskyNetwork:
    label = "Bluesky"

    def __init__(self, settings: BlueskySettings) -> None:
        self._settings = settings
        self._client: Any = None  # atproto_client.AsyncClient
        self._did: str | None = None
        self._login = asyncio.Lock()

    def fits(self, text: str) -> bool:
        # Graphemes, approximately: combining marks join the character before them.
        graphemes = sum(1 for c in text if not unicodedata.combining(c))
        return graphemes <= MAX_GRAPHEMES and len(text.encode("utf-8")) <= 3000

    async def _session(self, *, renew: bool = False) -> tuple[Any, str]:
        async with self._login:
            if self._client is None:
                self._client = atproto_client.AsyncClient(
                    base_url=str(self._settings.base_url).rstrip("/"),
                    request=AsyncRequest(timeout=httpx.Timeout(self._settings.timeout)),
                )
                self._client.on_session_change(self._remember)
            if self._did is None or renew:
                await self._client.login(
                    self._settings.handle,
                    self._settings.app_password.get_secret_value(),
                    fetch_bsky_profile=False,
                )
            assert self._did is not None
            return self._client, self._did

    async def _remember(self, event: Any, session: Any) -> None:
        self._did = session.did

    async def _call(self, what: str, fn: Any) -> Any:
        """Run `fn(client, did)`; log in again once if the server says the session expired."""
        try:
            client, did = await self._session()
            try:
                return await fn(client, did)
            except BadRequestError as e:
                if "ExpiredToken" not in str(e):
                    raise
            client, did = await self._session(renew=True)
            return await fn(client, did)
        except AtProtocolError as e:
            raise _error(what, e) from e

    async def post(
        self, text: PostText, *, parent: Post | None, root: Post | None, key: str, at: datetime
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
            return await client.com.atproto.repo.put_record(
                models.ComAtprotoRepoPutRecord.Data(
                    repo=did, collection=POST, rkey=tid(at, key), record=record
                )
            )

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

    async def close(self) -> None:
        if self._client is not None:
            await self._client.request.close()
        self._client = None
        self._did = None


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

    def __init__(self, settings: BlueskySettings, posts: PostLog) -> None:
        self._settings = settings
        self._network = BlueskyNetwork(settings)
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
            return cls(BlueskySettings(**fields), PostLog.under(env.var_dir, channel, env.tenant))
        except ValidationError as e:
            raise ConfigError(f"channel {channel} (tenant {env.tenant}): {e}") from e

    async def send(self, delivery: Delivery) -> SendResult:
        return await send_thread(
            delivery, self._network, self._posts, delete_on_cancel=self._settings.delete_on_cancel
        )

    async def close(self) -> None:
        await self._network.close()
