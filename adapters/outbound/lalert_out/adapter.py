"""Publish a town's own evacuation orders and shelter openings to L-Alert over HTTP.

The channel worker hands over a Delivery; this adapter builds the commons document, POSTs it (in
the SOAP `publish` envelope by default) and returns the document id and revision the endpoint
acknowledged. It never touches the bus or the database.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr, ValidationError, model_validator

from adapters.ingest.lalert import vocabulary as v
from adapters.ingest.lalert.namespaces import descendants, text
from adapters.ingest.lalert.parser import parse_bytes
from adapters.outbound.lalert_out import soap
from adapters.outbound.lalert_out.document import build_element, serialize
from adapters.outbound.lalert_out.publisher import PublisherInfo
from broadcaster.channels import AdapterEnv, Addressing, Carried, Delivery, SendResult
from broadcaster.errors import ConfigError, ParseError, PermanentError, TransientError
from broadcaster.model import Alert
from broadcaster.settings import ChannelSettings
from broadcaster.xmlsafe import parse_xml

# The endpoint's answer is read for its acknowledgement only; nothing legitimate is bigger.
_MAX_RESPONSE_BYTES = 64 * 1024
_RETRIABLE_4XX = frozenset({408, 425, 429})


class LAlertOutSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    endpoint: HttpUrl
    timeout: float = Field(default=10.0, gt=0, le=300)
    # Either a bearer token or basic auth (username + password), or neither for a relay that
    # authenticates the connection itself (a VPN, client certificates).
    token: SecretStr | None = None
    username: str | None = Field(default=None, pattern=r"^[^:]+$")  # RFC 7617: no colon in a user-id
    password: SecretStr | None = None
    publisher: PublisherInfo
    # "soap": the commons' SOAP publish envelope; "edxl": the bare EDXL-DE document (for relays).
    envelope: Literal["soap", "edxl"] = "soap"

    @model_validator(mode="after")
    def _one_credential(self) -> Self:
        if (self.username is None) != (self.password is None):
            raise ValueError("basic auth needs both username and password")
        if self.token is not None and self.username is not None:
            raise ValueError("give either a bearer token or basic auth, not both")
        return self


def revision_for(alert: Alert, sequence: int = 1) -> int:
    """The commons revision of this message of an event.

    An explicit lalert:revision parameter wins (a console that keeps its own counter). Otherwise it
    is the message's place in its event as the ledger counts it (the dispatch's revision), or one
    more than the references it carries, whichever is larger: the original is 1, the first update 2.
    """
    explicit = alert.primary.param(v.P_REVISION) if alert.info else None
    if explicit is not None and explicit.isdigit() and int(explicit) >= 1:
        return int(explicit)
    return max(sequence, len(alert.references) + 1)


def retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def acknowledged(body: bytes, content_type: str) -> tuple[str | None, str | None]:
    """(document id, revision) named in the endpoint's answer, if it names them."""
    if not body.strip():
        return None, None
    if "json" in content_type:
        try:
            data = json.loads(body)
        except ValueError:
            return None, None
        if not isinstance(data, dict):
            return None, None
        doc = data.get("documentID") or data.get("documentId")
        rev = data.get("documentRevision") or data.get("revision")
        return (str(doc) if doc is not None else None, str(rev) if rev is not None else None)
    try:
        root = parse_xml(body, max_bytes=_MAX_RESPONSE_BYTES)
    except ParseError:
        return None, None
    return (
        text(next(descendants(root, "documentID"), None)),
        text(next(descendants(root, "documentRevision"), None)),
    )


async def _read_capped(resp: aiohttp.ClientResponse) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(8192):
        chunks.append(chunk)
        size += len(chunk)
        if size >= _MAX_RESPONSE_BYTES:
            break
    return b"".join(chunks)[:_MAX_RESPONSE_BYTES]


class LAlertOutAdapter:
    name: ClassVar[str] = "lalert_out"
    # The commons republishes to TV, radio and portals; it has no recipients of ours.
    addressing: ClassVar[Addressing] = "broadcast"
    # The commons sets no published limit on headline text; the renderer's defaults apply.
    max_text_length: ClassVar[int | None] = None
    max_recipients_per_request: ClassVar[int | None] = None
    # Without its secret the channel runs in outbox mode. It is the bearer token, or with
    # options.auth = "basic" the password of options.username.
    required_credentials: ClassVar[tuple[str, ...]] = ("token",)

    def __init__(
        self,
        settings: LAlertOutSettings,
        *,
        session: aiohttp.ClientSession | None = None,
        archive: Path | None = None,
    ) -> None:
        self._settings = settings
        # Each document the endpoint accepted, as sent: what the consistency guard reads back
        # (docs/consistency.md). None keeps no copy.
        self.archive = archive
        self._session = session
        self._owns_session = session is None

    @classmethod
    def from_settings(cls, channel: str, settings: ChannelSettings, env: AdapterEnv) -> Self:
        """Build from a tenant's channel section; a wrong section fails here, at start-up.

        options: endpoint (URL), publisher {organization_code, office_name, domain, and optionally
        organization_name (default: the tenant's name), area_name, phone, sender_id}, envelope
        ("soap" | "edxl"), auth ("bearer" | "basic"), username (with basic).
        """
        opts = dict(settings.options)
        token = settings.credentials.get("token")
        auth = opts.pop("auth", "bearer")
        if auth not in ("bearer", "basic"):
            raise ConfigError(f"channel {channel}: options.auth must be 'bearer' or 'basic', not {auth!r}")
        publisher: Any = opts.pop("publisher", None)
        if isinstance(publisher, dict):
            publisher = {"organization_name": env.tenant_name, **publisher}
        fields: dict[str, Any] = {
            "endpoint": opts.pop("endpoint", None),
            "publisher": publisher,
            # Just under the worker's limit, so that a slow endpoint is reported by this adapter
            # as a timeout rather than abandoned by the worker without a reason.
            "timeout": min(300.0, settings.timeout_s * 0.9),
            **{k: opts.pop(k) for k in ("envelope",) if k in opts},
        }
        if auth == "basic":
            fields.update(username=opts.pop("username", None), password=token)
        else:
            fields["token"] = token
        if opts:
            raise ConfigError(f"channel {channel}: unknown options {', '.join(sorted(opts))}")
        try:
            return cls(LAlertOutSettings(**fields), archive=env.var_dir / "lalert_out" / env.tenant)
        except ValidationError as e:
            raise ConfigError(f"channel {channel} (tenant {env.tenant}): {e}") from e

    def _headers(self, idempotency_key: str) -> dict[str, str]:
        s = self._settings
        headers = {"Idempotency-Key": idempotency_key, "User-Agent": "broadcaster-lalert-out"}
        if s.envelope == "soap":
            headers["Content-Type"] = "text/xml; charset=utf-8"
            headers["SOAPAction"] = soap.SOAP_ACTION
        else:
            headers["Content-Type"] = "application/xml; charset=utf-8"
        if s.token is not None:
            headers["Authorization"] = f"Bearer {s.token.get_secret_value()}"
        elif s.username is not None and s.password is not None:
            pair = f"{s.username}:{s.password.get_secret_value()}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        return headers

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._settings.timeout))
            self._owns_session = True
        return self._session

    async def send(self, delivery: Delivery) -> SendResult:
        alert = delivery.alert
        if alert.origin == v.ORIGIN:
            # Republishing a document L-Alert gave us would put another body's order under our name.
            raise PermanentError(f"alert {alert.identifier} came from L-Alert; it is not sent back")
        try:
            built = build_element(
                alert,
                revision=revision_for(alert, delivery.dispatch.revision),
                publisher=self._settings.publisher,
                headline_text=delivery.text("ja").body or None,
            )
        except ValueError as e:
            raise PermanentError(str(e)) from e
        payload = (
            soap.envelope(built.element) if self._settings.envelope == "soap" else serialize(built.element)
        )
        try:
            async with self._client().post(
                str(self._settings.endpoint),
                data=payload,
                headers=self._headers(delivery.idempotency_key),
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self._settings.timeout),
            ) as resp:
                status = resp.status
                wait = retry_after(resp.headers.get("Retry-After"))
                body = await _read_capped(resp)
                content_type = resp.headers.get("Content-Type", "")
        except TimeoutError as e:  # asyncio's timeout is the builtin one since 3.11
            raise TransientError(f"L-Alert endpoint did not answer within {self._settings.timeout}s") from e
        except aiohttp.ClientError as e:
            raise TransientError(f"L-Alert endpoint unreachable: {type(e).__name__}: {e}") from e

        summary = body[:200].decode("utf-8", "replace")
        if status == 429 or status >= 500 or status in _RETRIABLE_4XX:
            raise TransientError(f"L-Alert endpoint answered {status}: {summary}", retry_after=wait)
        if status >= 300:
            raise PermanentError(f"L-Alert endpoint answered {status}: {summary}")
        doc, rev = acknowledged(body, content_type)
        kept = ""
        if self.archive is not None:
            try:
                await asyncio.to_thread(
                    _keep, self.archive / _file_of(alert.identifier), serialize(built.element)
                )
            except OSError as e:  # sent and accepted; the guard will say the copy is missing
                kept = f"; copy not kept: {type(e).__name__}: {e}"
        return SendResult(
            provider_ref=f"{doc or built.document_id}/{rev or built.revision}",
            mode="live",
            accepted=1,
            detail=f"{built.distribution_type} revision {built.revision}{kept}",
        )

    async def carried(self, event_ids: Sequence[str]) -> list[Carried]:
        """The newest document of the event that L-Alert accepted, as sent, read as L-Alert's
        readers read it (the ingest parser): its status and message type."""
        if self.archive is None or not await asyncio.to_thread(self.archive.is_dir):
            # No copy here (another host sends to L-Alert): the guard uses the accepted record.
            return []
        return [await asyncio.to_thread(_read_back, self.archive, tuple(event_ids))]

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None


def _file_of(identifier: str) -> str:
    return hashlib.sha256(identifier.encode("utf-8")).hexdigest()[:32] + ".xml"


def _keep(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _read_back(archive: Path, event_ids: Sequence[str]) -> Carried:
    for identifier in reversed(event_ids):
        path = archive / _file_of(identifier)
        try:
            data = path.read_bytes()
        except OSError:
            continue
        try:
            docs = parse_bytes(data)
        except ParseError:
            return Carried(
                surface="lalert_out", alert_id=identifier, facts={"status": "unreadable"}, where=str(path)
            )
        facts = {"status": docs[0].status.value, "msg_type": docs[0].msg_type.value} if docs else {}
        return Carried(surface="lalert_out", alert_id=identifier, facts=facts, where=str(path))
    return Carried(surface="lalert_out", where=str(archive))
