"""OAuth 2.0 access tokens for a Google service account (RFC 7523 JWT bearer grant).

The service-account JSON key (from the Firebase console) holds the account's e-mail, its RSA
private key and the token URL. We sign a JWT (RS256) asserting the account and the FCM scope,
POST it to the token URL, and use the access token it returns until shortly before it expires.
Written against the protocol rather than google-auth, so that tests can point ``token_uri`` at a
fake on loopback and the adapter stays on aiohttp.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import BaseModel, ConfigDict, Field

from broadcaster.errors import ConfigError, PermanentError, TransientError

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Google accepts assertions valid for at most an hour.
ASSERTION_LIFETIME_S = 3600
# Renew a token this long before it expires, so none expires in flight.
EARLY_S = 120


class ServiceAccount(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    type: str = "service_account"
    project_id: str = Field(pattern=r"^[a-z0-9-]+$")
    client_email: str = Field(min_length=3)
    private_key: str = Field(min_length=64)
    private_key_id: str | None = None
    token_uri: str = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL, not a secret

    @classmethod
    def from_json(cls, text: str) -> ServiceAccount:
        try:
            data = json.loads(text)
        except ValueError as e:
            raise ConfigError(f"service_account is not JSON: {e}") from e
        try:
            return cls.model_validate(data)
        except ValueError as e:
            raise ConfigError(f"service_account is not a service-account key: {e}") from e

    def signing_key(self) -> rsa.RSAPrivateKey:
        try:
            key = serialization.load_pem_private_key(self.private_key.encode("utf-8"), password=None)
        except ValueError as e:
            raise ConfigError(f"service_account private_key is not a PEM key: {e}") from e
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ConfigError("service_account private_key must be RSA")
        return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def assertion(account: ServiceAccount, key: rsa.RSAPrivateKey, audience: str, now: float) -> str:
    header: dict[str, Any] = {"alg": "RS256", "typ": "JWT"}
    if account.private_key_id:
        header["kid"] = account.private_key_id
    claims = {
        "iss": account.client_email,
        "scope": SCOPE,
        "aud": audience,
        "iat": int(now),
        "exp": int(now) + ASSERTION_LIFETIME_S,
    }
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


class TokenSource:
    def __init__(
        self,
        account: ServiceAccount,
        client: Callable[[], aiohttp.ClientSession],
        *,
        token_url: str | None = None,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.account = account
        self.key = account.signing_key()
        self.token_url = token_url or account.token_uri
        self.client = client
        self.timeout = timeout
        self.clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    def invalidate(self, token: str | None = None) -> None:
        """Forget the token (only if it is still `token`: many sends refused by one expired token
        renew it once, not once each)."""
        if token is None or token == self._token:
            self._token = None

    async def token(self) -> str:
        async with self._lock:  # one refresh for many concurrent sends
            if self._token is not None and self.clock() < self._expires - EARLY_S:
                return self._token
            self._token, self._expires = await self._fetch()
            return self._token

    async def _fetch(self) -> tuple[str, float]:
        now = self.clock()
        form = {"grant_type": GRANT, "assertion": assertion(self.account, self.key, self.token_url, now)}
        try:
            async with self.client().post(
                self.token_url, data=form, timeout=aiohttp.ClientTimeout(total=self.timeout)
            ) as resp:
                status = resp.status
                body = await resp.read()
        except TimeoutError as e:
            raise TransientError("the OAuth token endpoint did not answer") from e
        except aiohttp.ClientError as e:
            raise TransientError(f"the OAuth token endpoint is unreachable: {e}") from e
        if status >= 500 or status == 429:
            raise TransientError(f"the OAuth token endpoint answered {status}")
        if status != 200:
            # invalid_grant: a revoked key, a wrong clock; no retry fixes it.
            raise PermanentError(
                f"the OAuth token endpoint refused the service account ({status}): {body[:200]!r}"
            )
        try:
            data = json.loads(body)
            token = str(data["access_token"])
            lifetime = float(data.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError) as e:
            raise TransientError(f"the OAuth token endpoint answered nonsense: {e}") from e
        return token, now + lifetime
