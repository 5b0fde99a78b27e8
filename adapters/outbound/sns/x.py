"""Posts on X through tweepy's async client (API v2, OAuth 1.0a user context).

A dispatch is a post, or a thread when its text is in several parts or languages; a Cancel
replies under the original's post (or deletes it, with ``delete_on_cancel``), found through the
adapter's post log (adapters/outbound/sns/thread.py). X takes no idempotency key: a post whose
answer was lost may be posted again on retry, except that X itself refuses identical text it has
just seen, which counts here as "already posted" on a retry (docs/channels.md).

X is pay-per-use: each post spends prepaid credits, a post with a URL about thirteen times what
one without does (docs.x.com, "X API pay-per-usage pricing and credits": Content: Create $0.015,
with URL $0.200). Spent credits end every post with 402 Payment Required: that is a quota state an
officer has to act on (`QuotaExceededError`, and the channel's state file says so for
`broadcaster status`), not a refusal of one post.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Self

import aiohttp
import tweepy
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from tweepy.asynchronous import AsyncClient

from adapters.outbound.keepalive import open_connection
from adapters.outbound.sns.posted import Post, PostLog
from adapters.outbound.sns.texts import URL, X_MAX_WEIGHT, PostText, x_weight
from adapters.outbound.sns.thread import Duplicate, Posted, send_thread
from adapters.outbound.sns.transport import ApiSession
from broadcaster.channels import AdapterEnv, Addressing, Delivery, QuotaState, SendResult
from broadcaster.errors import ConfigError, PermanentError, QuotaExceededError, TransientError
from broadcaster.settings import ChannelSettings

# Where tweepy sends its requests; fixed in the library.
X_API = "https://api.twitter.com"
# What X charges per post in US dollars (its published pay-per-use rates), for the preview's cost.
CREDITS = "X credits"
POST_COST = 0.015
POST_WITH_URL_COST = 0.200


def post_cost(text: str) -> float:
    return POST_WITH_URL_COST if URL.search(text) else POST_COST


class XSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    consumer_key: SecretStr
    consumer_secret: SecretStr
    access_token: SecretStr
    access_token_secret: SecretStr
    # Where connections to X's API host go instead of its DNS address (a relay; the fake in tests),
    # and a CA to trust besides the system's for it.
    connect_to: str | None = None
    ca_file: Path | None = None
    timeout: float = Field(default=10.0, gt=0, le=300)
    delete_on_cancel: bool = False


def _reset_in(response: Any, fallback: int | None) -> float | None:
    """Seconds until the limit that was hit resets: the 24-hour user limit when that one is spent."""
    headers = getattr(response, "headers", None) or {}
    reset: str | int | None = fallback
    if headers.get("x-user-limit-24hour-remaining") == "0":
        reset = headers.get("x-user-limit-24hour-reset", reset)
    if reset is None:
        return None
    try:
        return max(1.0, float(reset) - time.time())
    except ValueError:
        return None


class XNetwork:
    label = "X"

    def __init__(self, settings: XSettings, *, state_file: Path | None = None) -> None:
        self._settings = settings
        self._session: ApiSession | None = None
        self._client: AsyncClient | None = None
        self.state_file = state_file

    def _api(self) -> AsyncClient:
        if self._client is None:
            s = self._settings
            self._session = ApiSession(X_API, connect_to=s.connect_to, ca_file=s.ca_file, timeout=s.timeout)
            self._client = AsyncClient(
                consumer_key=s.consumer_key.get_secret_value(),
                consumer_secret=s.consumer_secret.get_secret_value(),
                access_token=s.access_token.get_secret_value(),
                access_token_secret=s.access_token_secret.get_secret_value(),
                return_type=dict,
            )
            # tweepy sends through the session it is given (its documented attribute).
            self._client.session = self._session.session
        return self._client

    def fits(self, text: str) -> bool:
        return x_weight(text) <= X_MAX_WEIGHT

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
        try:
            answer = await self._api().create_tweet(
                text=text.text, in_reply_to_tweet_id=parent.ref if parent else None, user_auth=True
            )
        except tweepy.Forbidden as e:
            if "duplicate content" in str(e).lower():
                raise Duplicate(str(e)) from e
            if "oauth1 app permissions" in str(e).lower() or "oauth1-permissions" in str(e).lower():
                raise PermanentError(
                    f"X refused the post: the app has read-only permission ({e}); set it to Read and "
                    "Write in the developer console and generate the access token again"
                ) from e
            raise PermanentError(f"X refused the post: {e}") from e
        except tweepy.HTTPException as e:
            error = _error(e)
            if isinstance(error, QuotaExceededError):
                self._note_credits(str(error))
            raise error from e
        except TimeoutError as e:
            raise TransientError(f"X did not answer within {self._settings.timeout:g}s") from e
        except aiohttp.ClientError as e:
            raise TransientError(f"X unreachable: {type(e).__name__}: {e}") from e
        self._note_credits(None)
        return Posted(str(answer["data"]["id"]))

    def _note_credits(self, refused: str | None) -> None:
        """Keep the credit state (spent, or fine since the last post) for `broadcaster status`."""
        if self.state_file is None:
            return
        state = {"ok": refused is None, "detail": refused or "", "at": datetime.now(UTC).isoformat()}
        try:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            self.state_file.write_text(json.dumps(state), encoding="utf-8")
        except OSError:
            pass  # the state is for display; a post must not fail for it

    async def delete(self, post: Post) -> None:
        try:
            await self._api().delete_tweet(post.ref, user_auth=True)
        except tweepy.NotFound:
            return
        except tweepy.HTTPException as e:
            raise _error(e) from e
        except (TimeoutError, aiohttp.ClientError) as e:
            raise TransientError(f"X unreachable: {type(e).__name__}: {e}") from e

    async def warm(self) -> None:
        """Open the connection (TCP, TLS) to X's API before the first post."""
        self._api()
        assert self._session is not None
        await open_connection(self._session.session, X_API, within=min(self._settings.timeout, 5.0))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = None
        self._client = None


def _error(e: tweepy.HTTPException) -> Exception:
    text = str(e).replace("\n", " ")
    status = getattr(getattr(e, "response", None), "status", None)
    if status == 402 or "creditsdepleted" in text.lower().replace(" ", ""):
        return QuotaExceededError(
            f"X API credits are spent ({text}); no post goes out until credits are bought in the X "
            "developer console"
        )
    if isinstance(e, tweepy.TooManyRequests):
        if "usage cap" in text.lower():
            return QuotaExceededError(
                f"X API usage cap reached ({text}); no post goes out until the app's plan or the month changes"
            )
        return TransientError(f"X rate limit: {text}", retry_after=_reset_in(e.response, e.reset_time))
    if isinstance(e, tweepy.TwitterServerError):
        return TransientError(f"X server error: {text}")
    if isinstance(e, tweepy.Unauthorized):
        return PermanentError(
            f"X refused the account's credentials ({text}); check the app's keys and tokens"
        )
    return PermanentError(f"X refused the request: {text}")


class XAdapter:
    name: ClassVar[str] = "x"
    addressing: ClassVar[Addressing] = "broadcast"
    # X counts a Japanese character as two of its 280: 140 keeps a Japanese part within one post.
    max_text_length: ClassVar[int | None] = 140
    max_recipients_per_request: ClassVar[int | None] = None
    required_credentials: ClassVar[tuple[str, ...]] = (
        "consumer_key",
        "consumer_secret",
        "access_token",
        "access_token_secret",
    )

    def __init__(self, settings: XSettings, posts: PostLog, *, state_file: Path | None = None) -> None:
        self._settings = settings
        self._network = XNetwork(settings, state_file=state_file)
        self._posts = posts

    @classmethod
    def from_settings(cls, channel: str, settings: ChannelSettings, env: AdapterEnv) -> Self:
        """options: delete_on_cancel, connect_to, ca_file."""
        opts = dict(settings.options)
        fields: dict[str, Any] = {name: settings.credentials.get(name) for name in cls.required_credentials}
        fields["timeout"] = min(300.0, settings.timeout_s * 0.9)
        for name in ("delete_on_cancel", "connect_to", "ca_file"):
            if name in opts:
                fields[name] = opts.pop(name)
        if opts:
            raise ConfigError(f"channel {channel}: unknown options {', '.join(sorted(opts))}")
        try:
            return cls(
                XSettings(**fields),
                PostLog.under(env.var_dir, channel, env.tenant),
                state_file=credit_state_file(env.var_dir, channel, env.tenant),
            )
        except ValidationError as e:
            raise ConfigError(f"channel {channel} (tenant {env.tenant}): {e}") from e

    async def send(self, delivery: Delivery) -> SendResult:
        return await send_thread(
            delivery, self._network, self._posts, delete_on_cancel=self._settings.delete_on_cancel
        )

    async def warm(self) -> None:
        await self._network.warm()

    async def quota_state(self) -> list[QuotaState]:
        """X has no endpoint for the credit balance: what the last post found is what is known."""
        path = self._network.state_file
        saved: dict[str, Any] = {}
        if path is not None:
            try:
                saved = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                saved = {}
        if not saved:
            return [QuotaState(name=CREDITS, unit="US$", detail="no post yet: the balance is in X's developer console")]
        spent = not saved.get("ok", True)
        detail = str(saved.get("detail") or "") if spent else f"the last post went out at {saved.get('at', '?')}"
        return [QuotaState(name=CREDITS, unit="US$", spent=spent, detail=detail)]

    def quota_needed(self, people: int, posts: Sequence[str]) -> dict[str, float]:
        return {CREDITS: round(sum(post_cost(p) for p in posts), 3)}

    async def close(self) -> None:
        await self._network.close()


def credit_state_file(var_dir: Path, channel: str, tenant: str) -> Path:
    """Where an X channel notes whether its credits were spent at the last post."""
    return var_dir / "sns" / channel / f"{tenant}.credits.json"
