"""The live link to a carrier's system, plugged in by entry point (`broadcaster.area_mail_links`).

The carriers give their system-link specifications to contracted municipalities and vendors only,
so no carrier's own protocol ships with the project. A town that has one installs a package with
its link class under the entry-point group `broadcaster.area_mail_links` and names it in the
channel's settings (`options.link`). Until then the channel runs in hand-off mode (adapter.py).

The project ships one link, `json`: a documented JSON request to an HTTPS gateway of the town's
(a vendor's relay in front of the carriers' systems, or the town's own), one request per carrier.
It is also the shape the tests' fake carrier gateway speaks (tests/fakes/carrier.py):

    POST <base_url>/messages                 Authorization: Bearer <token>, Idempotency-Key: <key>
    {"carrier": "docomo", "mode": "actual", "municipality": {"code": "174611", "name": "穴水町"},
     "title": "…", "body": "…", "msg_type": "alert", "alert": "<identifier>", "key": "<key>"}

    200/201/202 {"id": "<the gateway's reference>"}   accepted
    409 {"id": …}                                       the same key was accepted before: accepted
    429, 5xx, no answer                                 try again (Retry-After honoured)
    any other 4xx                                       refused for good

`mode` is `actual`, or `exercise`/`test` sent only to a separate `verification_url` (a carrier's
verification environment): a drill never reaches the live system (docs/decisions.md, decision 12).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal, Protocol, Self, runtime_checkable

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr, ValidationError

from adapters.outbound.area_mail.carriers import Carrier
from broadcaster.errors import ConfigError, PermanentError, TransientError

LINKS_GROUP = "broadcaster.area_mail_links"
_RETRIABLE_4XX = frozenset({408, 425, 429})


class Municipality(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str  # JIS X 0402, six digits
    name: str


class AreaMailRequest(BaseModel):
    """One message for one carrier, already fitted (text.py)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    carrier: str
    mode: Literal["actual", "exercise", "test"]
    municipality: Municipality
    title: str
    body: str
    msg_type: Literal["alert", "update", "cancel"]
    alert: str
    key: str  # the dispatch's idempotency key: the same request again is the same message


@runtime_checkable
class AreaMailLink(Protocol):
    name: ClassVar[str]
    # True when the link has somewhere for drills and tests other than the live system.
    takes_drills: bool

    @classmethod
    def from_options(
        cls, carrier: Carrier, options: Mapping[str, Any], credentials: Mapping[str, SecretStr]
    ) -> Self: ...

    async def send(self, request: AreaMailRequest) -> str:
        """The carrier's (or gateway's) reference; TransientError / PermanentError otherwise."""
        ...

    async def close(self) -> None: ...


class JsonLinkSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: HttpUrl
    verification_url: HttpUrl | None = None
    timeout: float = Field(default=10.0, gt=0, le=120)


def _retry_after(value: str | None) -> float | None:
    return float(value) if value and value.strip().isdigit() else None


class JsonLink:
    name: ClassVar[str] = "json"

    def __init__(self, settings: JsonLinkSettings, token: str, *, session: aiohttp.ClientSession | None = None) -> None:
        self.settings = settings
        self._token = token
        self._session = session
        self._owns = session is None
        self.takes_drills = settings.verification_url is not None

    @classmethod
    def from_options(
        cls, carrier: Carrier, options: Mapping[str, Any], credentials: Mapping[str, SecretStr]
    ) -> Self:
        token = credentials.get("token")
        if token is None:
            raise ConfigError(f"area mail ({carrier.key}): the json link needs credentials.token")
        known = {k: options[k] for k in ("base_url", "verification_url", "timeout") if k in options}
        try:
            return cls(JsonLinkSettings.model_validate(known), token.get_secret_value())
        except ValidationError as e:
            raise ConfigError(f"area mail ({carrier.key}): {e}") from e

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.settings.timeout))
            self._owns = True
        return self._session

    async def send(self, request: AreaMailRequest) -> str:
        base = self.settings.base_url if request.mode == "actual" else self.settings.verification_url
        if base is None:
            raise PermanentError("this link has no verification environment for drills and tests")
        url = str(base).rstrip("/") + "/messages"
        headers = {"Authorization": f"Bearer {self._token}", "Idempotency-Key": request.key}
        try:
            async with self._client().post(url, json=request.model_dump(mode="json"), headers=headers) as resp:
                status = resp.status
                try:
                    data = await resp.json(content_type=None)
                except ValueError:
                    data = None
                retry_after = _retry_after(resp.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise TransientError(f"area mail gateway unreachable: {type(e).__name__}: {e}") from e
        ref = str(data.get("id")) if isinstance(data, dict) and data.get("id") is not None else None
        if status in (200, 201, 202) or (status == 409 and ref is not None):
            return ref or f"{request.carrier}:{request.key[:16]}"
        detail = (str(data.get("error")) if isinstance(data, dict) and data.get("error") else f"HTTP {status}")[:300]
        if status in _RETRIABLE_4XX or status >= 500:
            raise TransientError(f"area mail gateway: {detail}", retry_after=retry_after)
        raise PermanentError(f"area mail gateway refused: {detail}")

    async def close(self) -> None:
        if self._session is not None and self._owns:
            await self._session.close()
        self._session = None
