"""Posts on a Mastodon server (or any server that speaks Mastodon's API) through Mastodon.py.

Mastodon.py is synchronous (requests); each call runs on a worker thread, one at a time per
account, since a thread of posts is sequential anyway. Every post carries an ``Idempotency-Key``
(the dispatch's key and the part's place), which Mastodon honours for an hour: a retry after a
lost answer gets the status that was already made instead of a second one. Mastodon remembers a
key for an hour only: a post retried later than that (a long outage) first looks through the
account's newest statuses for one with the same text in the same place of the thread, and takes
it instead of posting again.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal, Self

import requests
from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr, ValidationError

from adapters.outbound.keepalive import open_urllib3_connection
from adapters.outbound.sns.posted import Post, PostLog
from adapters.outbound.sns.texts import URL, PostText
from adapters.outbound.sns.thread import Posted, send_thread
from broadcaster.channels import AdapterEnv, Addressing, Delivery, SendResult
from broadcaster.errors import ConfigError, PermanentError, TransientError
from broadcaster.settings import ChannelSettings

# Mastodon keeps an Idempotency-Key for an hour; a retry nearer than this to that hour checks the
# timeline first. How far back it looks: the newest statuses of the account.
KEY_TRUST = timedelta(minutes=50)
TIMELINE_LOOKBACK = 40
# Mastodon counts every URL as 23 characters, whatever its length.
_URL_LENGTH = 23
# The regional locales Mastodon takes as a status's language besides plain ISO 639 codes; any other
# tag (ja-x-easy, zh-Hans) is silently replaced by the account's default language, so a Chinese
# post would be filed as Japanese and hidden from those who filter by language.
_REGIONAL = {"zh-hans": "zh-CN", "zh-cn": "zh-CN", "zh-sg": "zh-CN", "zh-hant": "zh-TW", "zh-tw": "zh-TW",
             "zh-hk": "zh-HK", "pt-br": "pt-BR", "pt-pt": "pt-PT", "es-ar": "es-AR", "es-mx": "es-MX",
             "en-gb": "en-GB", "fr-ca": "fr-CA"}


def mastodon_language(tag: str) -> str:
    """The Mastodon locale of a BCP 47 tag: easy Japanese (ja-x-easy) is Japanese, Simplified
    Chinese (zh-Hans) is zh-CN, Traditional zh-TW; otherwise the primary language subtag."""
    lowered = tag.lower()
    for prefix, locale in _REGIONAL.items():
        if lowered == prefix or lowered.startswith(prefix + "-"):
            return locale
    return lowered.split("-", 1)[0]


class MastodonSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    access_token: SecretStr
    base_url: HttpUrl  # the account's server, e.g. https://bousai.social
    visibility: Literal["public", "unlisted", "private"] = "public"
    # 500 on a stock server; some servers allow more.
    max_characters: int = Field(default=500, ge=100, le=100_000)
    timeout: float = Field(default=10.0, gt=0, le=300)
    delete_on_cancel: bool = False


class MastodonNetwork:
    label = "Mastodon"

    def __init__(self, settings: MastodonSettings) -> None:
        self._settings = settings
        self._http: requests.Session | None = None
        self._api: Mastodon | None = None
        self._lock = asyncio.Lock()

    def _client(self) -> Mastodon:
        if self._api is None:
            self._http = requests.Session()
            self._api = Mastodon(
                access_token=self._settings.access_token.get_secret_value(),
                api_base_url=str(self._settings.base_url).rstrip("/"),
                # Raise on a rate limit instead of sleeping a worker thread through it: the pipeline
                # retries later and the partition moves on.
                ratelimit_method="throw",
                request_timeout=self._settings.timeout,
                session=self._http,
                version_check_mode="none",
                user_agent="broadcaster",
            )
        return self._api

    def fits(self, text: str) -> bool:
        length = len(URL.sub("x" * _URL_LENGTH, text))
        return length <= self._settings.max_characters

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
        api = self._client()
        async with self._lock:
            if retry and datetime.now(UTC) - at > KEY_TRUST:
                found = await asyncio.to_thread(self._already_posted, text.text, parent.ref if parent else None)
                if found is not None:
                    return Posted(found)
            try:
                status = await asyncio.to_thread(
                    api.status_post,
                    text.text,
                    in_reply_to_id=parent.ref if parent else None,
                    visibility=self._settings.visibility,
                    language=mastodon_language(text.language),
                    idempotency_key=key,
                )
            except MastodonError as e:
                raise self._error(e) from e
        return Posted(str(status["id"]))

    def _already_posted(self, text: str, reply_to: str | None) -> str | None:
        """The id of this account's recent status with `text` in reply to `reply_to`, if any (run
        on a worker thread). A status's own text is read from its source: the timeline has HTML."""
        api = self._client()
        try:
            me = api.account_verify_credentials()
            recent = api.account_statuses(me["id"], limit=TIMELINE_LOOKBACK)
            for status in recent:
                if str(status.get("in_reply_to_id") or "") != str(reply_to or ""):
                    continue
                if api.status_source(status["id"]).get("text") == text:
                    return str(status["id"])
        except MastodonError as e:
            raise self._error(e) from e
        return None

    async def delete(self, post: Post) -> None:
        api = self._client()
        async with self._lock:
            try:
                await asyncio.to_thread(api.status_delete, post.ref)
            except MastodonNotFoundError:
                return
            except MastodonError as e:
                raise self._error(e) from e

    async def warm(self) -> None:
        """Open the connection to the account's server before the first post (on a worker
        thread: Mastodon.py's session is a blocking requests one)."""
        self._client()
        timeout = min(self._settings.timeout, 5.0)
        await asyncio.to_thread(open_urllib3_connection, self._http, str(self._settings.base_url), timeout=timeout)

    def _error(self, e: MastodonError) -> Exception:
        text = " ".join(str(a) for a in e.args)
        if isinstance(e, MastodonRatelimitError):
            reset = self._api.ratelimit_reset if self._api is not None else None
            wait = max(1.0, float(reset) - time.time()) if reset else None
            return TransientError(f"Mastodon rate limit: {text}", retry_after=wait)
        if isinstance(e, MastodonNetworkError | MastodonServerError):
            return TransientError(f"Mastodon unreachable or failing: {text}")
        if isinstance(e, MastodonUnauthorizedError):
            return PermanentError(f"Mastodon refused the access token ({text}); renew it")
        if isinstance(e, MastodonAPIError):
            return PermanentError(f"Mastodon refused the post: {text}")
        return PermanentError(f"Mastodon: {type(e).__name__}: {text}")

    async def close(self) -> None:
        if self._http is not None:
            self._http.close()
        self._http = None
        self._api = None


class MastodonAdapter:
    name: ClassVar[str] = "mastodon"
    addressing: ClassVar[Addressing] = "broadcast"
    max_text_length: ClassVar[int | None] = 500
    max_recipients_per_request: ClassVar[int | None] = None
    required_credentials: ClassVar[tuple[str, ...]] = ("access_token",)

    def __init__(self, settings: MastodonSettings, posts: PostLog) -> None:
        self._settings = settings
        self._network = MastodonNetwork(settings)
        self._posts = posts

    @classmethod
    def from_settings(cls, channel: str, settings: ChannelSettings, env: AdapterEnv) -> Self:
        """options: base_url (the account's server; required), visibility, max_characters,
        delete_on_cancel."""
        opts = dict(settings.options)
        fields: dict[str, Any] = {
            "access_token": settings.credentials.get("access_token"),
            "timeout": min(300.0, settings.timeout_s * 0.9),
        }
        for name in ("base_url", "visibility", "max_characters", "delete_on_cancel"):
            if name in opts:
                fields[name] = opts.pop(name)
        if opts:
            raise ConfigError(f"channel {channel}: unknown options {', '.join(sorted(opts))}")
        try:
            return cls(MastodonSettings(**fields), PostLog.under(env.var_dir, channel, env.tenant))
        except ValidationError as e:
            raise ConfigError(f"channel {channel} (tenant {env.tenant}): {e}") from e

    async def send(self, delivery: Delivery) -> SendResult:
        return await send_thread(
            delivery, self._network, self._posts, delete_on_cancel=self._settings.delete_on_cancel
        )

    async def warm(self) -> None:
        await self._network.warm()

    async def close(self) -> None:
        await self._network.close()
