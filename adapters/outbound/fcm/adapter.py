"""The town's native app through Firebase Cloud Messaging, HTTP v1 API.

Recipients are FCM registration tokens (the native app registers them as the resident's ``fcm``
endpoint). One ``messages:send`` per token, with an OAuth 2.0 token from the service account
(oauth.py). What each answer means follows FCM's ErrorCode reference
(firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode):

* UNREGISTERED (404), an invalid registration token (400, FcmError INVALID_ARGUMENT without a
  BadRequest field) and SENDER_ID_MISMATCH (403: the token belongs to another Firebase project,
  so this sender can never reach it) are gone: reported in SendResult.gone and pruned.
* A 401 without an FcmError is our OAuth token (expired, revoked): renewed once. A 401 with
  THIRD_PARTY_AUTH_ERROR is the project's APNs key (or web push credentials) refused for that
  one message: no new OAuth token helps, so that device is refused and named, and the others go
  on. Renewing on it cost one token request per iOS device and the token endpoint's 429s then
  held back Android devices too.
* QUOTA_EXCEEDED (429) and UNAVAILABLE (503) and other 5xx are retried for those tokens only,
  after the Retry-After FCM sends; a quota is given at least a minute, which the reference asks
  for as the first back-off.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Self

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.outbound.app_push import payload
from adapters.outbound.fanout import Answer, Memory, Outcome, fan_out, retry_after
from adapters.outbound.fcm.oauth import ServiceAccount, TokenSource
from adapters.outbound.keepalive import open_connection
from broadcaster.audience import topic_language
from broadcaster.channels import AdapterEnv, Addressing, Delivery, SendResult
from broadcaster.errors import ConfigError, PermanentError, TransientError
from broadcaster.logging import get_logger, hash_id
from broadcaster.model import Alert, now
from broadcaster.settings import ChannelSettings

log = get_logger(__name__)
_MAX_ANSWER = 16 * 1024
# The reference: "retry with exponential backoff, minimum initial delay of 1 minute" for a quota.
QUOTA_BACKOFF_S = 60.0


class FcmSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    account: ServiceAccount
    project_id: str = Field(pattern=r"^[a-z0-9-]+$")
    base_url: str = Field(default="https://fcm.googleapis.com", pattern=r"^https?://")
    token_url: str | None = None
    concurrency: int = Field(default=50, ge=1, le=500)
    timeout: float = Field(default=10.0, gt=0, le=120)
    public_url: str = "http://127.0.0.1:8080"


def message(
    alert: Alert, token: str, title: str, body: str, url: str, tenant: str, at: Any, *, target: str = "token"
) -> dict[str, Any]:
    """The v1 Message: a notification the OS shows, data the app reads, and per-platform delivery
    options from the alert (the same urgency and lifetime rules as Web Push, payload.py).
    `target` is the Message's target field: "token" (one device) or "topic" (every device
    subscribed to it)."""
    ttl = payload.ttl(alert, at)
    high = payload.is_urgent(alert)
    collapse = payload.topic(tenant, alert.event_key)
    return {
        "message": {
            target: token,
            "notification": {"title": title, "body": body},
            # FCM data values must be strings.
            "data": {
                "alert_id": alert.identifier,
                "event": collapse,
                "status": alert.status.value,
                "msg_type": alert.msg_type.value,
                "url": url,
            },
            "android": {
                "priority": "HIGH" if high else "NORMAL",
                "ttl": f"{ttl}s",
                "collapse_key": collapse,
                "notification": {"tag": collapse},
            },
            "apns": {
                "headers": {
                    "apns-priority": "10" if high else "5",
                    "apns-expiration": str(int(at.timestamp()) + ttl),
                    "apns-collapse-id": collapse,
                }
            },
        }
    }


def _details(body: bytes) -> tuple[set[str], bool]:
    """The FcmError codes of an error answer, and whether a field of the request is blamed."""
    try:
        details = json.loads(body).get("error", {}).get("details", [])
    except (ValueError, AttributeError):
        return set(), False
    if not isinstance(details, list):
        return set(), False
    codes = {str(d.get("errorCode")) for d in details if isinstance(d, dict) and d.get("errorCode")}
    bad_request = any(
        str(d.get("@type", "")).endswith("google.rpc.BadRequest") for d in details if isinstance(d, dict)
    )
    return codes, bad_request


def _gone(status: int, codes: set[str], bad_request: bool) -> bool:
    if status == 404 or "UNREGISTERED" in codes or "SENDER_ID_MISMATCH" in codes:
        return True
    # INVALID_ARGUMENT names the token only when no field of the message is blamed.
    return status == 400 and "INVALID_ARGUMENT" in codes and not bad_request


class FcmAdapter:
    name: ClassVar[str] = "fcm"
    # The Message field a recipient goes in: a registration token here, a topic in FcmTopicAdapter.
    target: ClassVar[str] = "token"
    default_concurrency: ClassVar[int] = 50
    addressing: ClassVar[Addressing] = "recipients"
    # FCM's payload limit is 4096 bytes, Japanese three bytes a character.
    max_text_length: ClassVar[int | None] = 1000
    max_recipients_per_request: ClassVar[int | None] = 500
    required_credentials: ClassVar[tuple[str, ...]] = ("service_account",)

    def __init__(self, settings: FcmSettings, *, session: aiohttp.ClientSession | None = None) -> None:
        self.settings = settings
        self._session = session
        self._owns_session = session is None
        self.tokens = TokenSource(
            settings.account, self._client, token_url=settings.token_url, timeout=settings.timeout
        )
        self.memory = Memory()

    @classmethod
    def from_settings(cls, channel: str, settings: ChannelSettings, env: AdapterEnv) -> Self:
        """credentials: service_account (the key file's JSON). options: project_id (default the
        key's), base_url and token_url (tests point them at fakes), concurrency, timeout."""
        opts: dict[str, Any] = dict(settings.options)
        secret = settings.credentials.get("service_account")
        if secret is None:
            raise ConfigError(f"channel {channel}: credentials.service_account is required")
        account = ServiceAccount.from_json(secret.get_secret_value())
        fields: dict[str, Any] = {
            "account": account,
            "project_id": opts.pop("project_id", account.project_id),
            "timeout": min(120.0, settings.timeout_s * 0.9),
            "public_url": env.public_url,
            "concurrency": cls.default_concurrency,
        }
        for k in ("base_url", "token_url", "concurrency", "timeout"):
            if k in opts:
                fields[k] = opts.pop(k)
        if opts:
            raise ConfigError(f"channel {channel}: unknown options {', '.join(sorted(opts))}")
        try:
            return cls(FcmSettings(**fields))
        except ValidationError as e:
            raise ConfigError(f"channel {channel} (tenant {env.tenant}): {e}") from e

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.settings.concurrency)
            )
            self._owns_session = True
        return self._session

    async def warm(self) -> None:
        """Fetch the OAuth token (a request of its own, and an RSA signature) and open the
        connection to FCM before the first message (broadcaster.channels.Warming)."""
        await self.tokens.token()
        await open_connection(self._client(), self.settings.base_url, within=min(self.settings.timeout, 5.0))

    async def send(self, delivery: Delivery) -> SendResult:
        alert = delivery.alert
        d = delivery.dispatch
        label = payload.DRILL_LABELS.get(alert.status, "")
        words = {
            lang: self._words(delivery, lang, label)
            for lang in dict.fromkeys(self._language(r, d.languages) for r in delivery.recipients)
        }
        url = f"{self.settings.public_url.rstrip('/')}/alerts/{d.tenant}/{alert.identifier}"
        endpoint = (
            f"{self.settings.base_url.rstrip('/')}/v1/projects/{self.settings.project_id}/messages:send"
        )
        at = now()
        await self.tokens.token()  # a refused service account fails the dispatch once, not per token

        async def one(recipient: str) -> Answer:
            title, body = words[self._language(recipient, d.languages)]
            msg = message(alert, recipient, title, body, url, d.tenant, at, target=self.target)
            return await self._send(endpoint, msg)

        rnd = await fan_out(
            delivery.idempotency_key,
            delivery.recipients,
            one,
            memory=self.memory,
            concurrency=self.settings.concurrency,
            label=self._label,
        )
        result = rnd.result(noun=f"{self.target}s", partial_ok=True, ref=f"fcm:{alert.identifier}")
        log.info(
            "fcm_sent", target=self.target, delivered=result.accepted, gone=len(result.gone), skipped=rnd.skipped
        )
        return result

    @staticmethod
    def _label(recipient: str) -> str:
        return hash_id(recipient)

    def _language(self, recipient: str, languages: tuple[str, ...]) -> str:
        """The language a recipient is sent in: a batch of tokens shares its dispatch's first."""
        return languages[0] if languages else "ja"

    @staticmethod
    def _words(delivery: Delivery, language: str, label: str) -> tuple[str, str]:
        """The notification's title and body in one language, a drill marked in both."""
        alert = delivery.alert
        text = delivery.text(language)
        title = text.title or (alert.primary.headline if alert.info else None) or alert.identifier
        if label and not title.startswith(f"【{label}】"):
            title = f"【{label}】{title}"
        # The renderer fitted the first part to the push limits and marked any cut.
        shown = text.parts[0] if text.parts else text.body
        body = shown if not label or shown.startswith(f"【{label}】") else f"【{label}】{shown}"
        return title, body

    async def _send(self, endpoint: str, msg: dict[str, Any], *, renewed: bool = False) -> Answer:
        try:
            token = await self.tokens.token()
        except TransientError as e:
            return Answer(Outcome.RETRY, str(e))
        except PermanentError as e:
            return Answer(Outcome.REFUSED, str(e))
        try:
            async with self._client().post(
                endpoint,
                json=msg,
                headers={"Authorization": f"Bearer {token}"},
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout),
            ) as resp:
                status = resp.status
                wait = retry_after(resp.headers.get("Retry-After"))
                body = await resp.content.read(_MAX_ANSWER)
        except TimeoutError:
            return Answer(Outcome.RETRY, f"no answer within {self.settings.timeout:g} s")
        except aiohttp.ClientError as e:
            return Answer(Outcome.RETRY, f"{type(e).__name__}: {e}")
        if status == 200:
            return Answer(Outcome.DELIVERED)
        codes, bad_request = _details(body)
        named = f"HTTP {status}" + (f" {','.join(sorted(codes))}" if codes else "")
        if "THIRD_PARTY_AUTH_ERROR" in codes:
            return Answer(
                Outcome.REFUSED,
                f"{named}: APNs or web push credentials of the Firebase project refused; "
                "check the APNs key in the Firebase console",
            )
        if status == 401 and not renewed:
            self.tokens.invalidate(token)
            return await self._send(endpoint, msg, renewed=True)
        if self.target == "token" and _gone(status, codes, bad_request):
            return Answer(Outcome.GONE, named)
        if status == 429 or "QUOTA_EXCEEDED" in codes:
            return Answer(Outcome.RETRY, named, retry_after=max(wait or 0.0, QUOTA_BACKOFF_S))
        if status >= 500:
            return Answer(Outcome.RETRY, named, retry_after=wait)
        return Answer(Outcome.REFUSED, f"{named}: {body[:120]!r}")

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None


class FcmTopicAdapter(FcmAdapter):
    """FCM by topic: one ``messages:send`` per device topic, which FCM fans out to every device
    subscribed (docs/push.md, "FCM topics"). Recipients are the topics routing names for the
    dispatch's audience in each language (broadcaster/audience.py: ``anamizu.kawashima.vi``), so a
    town of 100,000 app users costs a few requests per alert instead of 100,000; the native app
    subscribes itself to its resident's topics. Use it with ``adapter = "fcm_topics"`` on the
    town's fcm channel.

    FCM's reference for topic messages: a project has at most 1,000 fan-outs in progress and
    fan-out capacity is shared between them (one at a time is fastest), so few requests run at
    once (`concurrency`, default 4). Nothing is ever "gone": a topic without subscribers is
    accepted, and a 400 or 404 on a topic is a refusal of this message, never a device to prune.
    Quota (429 QUOTA_EXCEEDED, at least a minute) and 503/500 are retried for that topic only; the
    topics already accepted are not sent again (fanout.py's memory).
    """

    name: ClassVar[str] = "fcm_topics"
    target: ClassVar[str] = "topic"
    addressing: ClassVar[Addressing] = "topics"
    max_recipients_per_request: ClassVar[int | None] = None
    default_concurrency: ClassVar[int] = 4

    def _language(self, recipient: str, languages: tuple[str, ...]) -> str:
        return topic_language(recipient)

    @staticmethod
    def _label(recipient: str) -> str:
        return recipient  # a topic names no person
