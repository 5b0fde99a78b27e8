"""登録制メール: the registered residents' e-mail, sent over SMTP with aiosmtplib.

A dispatch is a batch of addresses fixed by the route stage (max_recipients_per_request). In
``bcc`` mode (the default) one message goes to the batch as blind copies, in SMTP transactions of
at most ``bcc_batch_size`` recipients (what the relay accepts per message); in ``individual`` mode
each address gets its own message, with its own unsubscribe link and one-click header.

What the server refuses is reported per recipient: a permanent refusal (5xx) is a bounce, counted
in the result's detail with the addresses' hashes (never the addresses) for bounce processing to
act on (docs/channels.md); a temporary one (4xx) makes the send transient, and the retry goes only
to those not yet accepted (remembered in this process; after a crash the batch is sent again, with
the same Message-ID). Only when every recipient is refused for good is the send a PermanentError.
"""

from __future__ import annotations

import re
import ssl
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import aiosmtplib
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from adapters.outbound.email.compose import (
    UNDISCLOSED,
    Charset,
    Envelope,
    TransferEncoding,
    compose,
    message_id,
)
from broadcaster.channels import AdapterEnv, Addressing, Delivery, SendResult
from broadcaster.errors import ConfigError, PermanentError, TransientError
from broadcaster.logging import get_logger, hash_id
from broadcaster.model import JST, now
from broadcaster.settings import ChannelSettings
from broadcaster.store.audiences import address_hash

log = get_logger(__name__)

# Enough to refuse what is surely not an address (and anything that could inject a header line).
ADDRESS = re.compile(r"[^@\s<>,;:\"]+@[^@\s<>,;:\"]+\.[^@\s<>,;:\"]+")
# Dispatches still being retried in this process, with whom the server already took.
_REMEMBERED = 10_000


class EmailSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    # starttls: upgrade on the submission port; tls: implicit TLS (465); none: a local relay.
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr
    # A relay that takes mail from this host without a login: set false (the password is unused).
    login: bool = True
    from_address: str = Field(pattern=ADDRESS.pattern)
    from_name: str
    # Envelope sender for bounces; "{token}" becomes the recipient's hash in individual mode (VERP).
    bounce_address: str | None = None
    reply_to: str | None = None
    charset: Charset = "utf-8"
    transfer_encoding: TransferEncoding = "base64"
    mode: Literal["bcc", "individual"] = "bcc"
    bcc_batch_size: int = Field(default=50, ge=1, le=1000)
    unsubscribe_url: str
    unsubscribe_mailto: str | None = None
    ca_file: Path | None = None
    timeout: float = Field(default=30.0, gt=0, le=300)

    @model_validator(mode="after")
    def _login_has_user(self) -> Self:
        if self.login and not self.username:
            raise ValueError("login needs options.username (or set options.login = false for a relay)")
        return self

    @property
    def domain(self) -> str:
        return self.from_address.rsplit("@", 1)[1]


@dataclass
class _Progress:
    """What the server said so far about one dispatch's recipients."""

    accepted: set[str] = field(default_factory=set)
    bounced: dict[str, str] = field(default_factory=dict)  # address → the server's answer


class EmailAdapter:
    name: ClassVar[str] = "email"
    addressing: ClassVar[Addressing] = "recipients"
    max_text_length: ClassVar[int | None] = None
    max_recipients_per_request: ClassVar[int | None] = 50
    # The SMTP password; a relay without login still names one (see EmailSettings.login).
    required_credentials: ClassVar[tuple[str, ...]] = ("password",)

    def __init__(self, settings: EmailSettings, *, tenant: str) -> None:
        self._settings = settings
        self._tenant = tenant
        self._progress: OrderedDict[str, _Progress] = OrderedDict()
        self._tls_context: ssl.SSLContext | None = None

    @classmethod
    def from_settings(cls, channel: str, settings: ChannelSettings, env: AdapterEnv) -> Self:
        """options: host, port, security, username, login, from_address, from_name, bounce_address,
        reply_to, charset, transfer_encoding, mode, bcc_batch_size, unsubscribe_url,
        unsubscribe_mailto, ca_file."""
        opts = dict(settings.options)
        fields: dict[str, Any] = {
            "password": settings.credentials.get("password"),
            "from_name": env.tenant_name,
            "unsubscribe_url": f"{env.public_url.rstrip('/')}/unsubscribe/{env.tenant}/email",
            "timeout": min(300.0, settings.timeout_s * 0.9),
        }
        for name in EmailSettings.model_fields:
            if name in opts and name not in ("password", "timeout"):
                fields[name] = opts.pop(name)
        if opts:
            raise ConfigError(f"channel {channel}: unknown options {', '.join(sorted(opts))}")
        try:
            return cls(EmailSettings(**fields), tenant=env.tenant)
        except ValidationError as e:
            raise ConfigError(f"channel {channel} (tenant {env.tenant}): {e}") from e

    def _tls(self) -> ssl.SSLContext | None:
        # One context per adapter, made on first use: loading the system's CA certificates costs
        # tens of milliseconds of CPU, which every send used to pay (docs/benchmarks.md).
        s = self._settings
        if s.security == "none":
            return None
        if self._tls_context is None:
            context = ssl.create_default_context()
            if s.ca_file is not None:
                context.load_verify_locations(cafile=str(s.ca_file))
            self._tls_context = context
        return self._tls_context

    def _client(self) -> aiosmtplib.SMTP:
        s = self._settings
        return aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            use_tls=s.security == "tls",
            start_tls=s.security == "starttls",
            tls_context=self._tls(),
            timeout=s.timeout,
        )

    def _envelope(self, delivery: Delivery, to: str | None) -> Envelope:
        s = self._settings
        unsubscribe = [s.unsubscribe_url]
        suffix = ""
        if to is not None:
            token = address_hash("email", to)
            suffix = token[:16]
            unsubscribe = [f"{s.unsubscribe_url}/{token}"]
        if s.unsubscribe_mailto:
            unsubscribe.insert(0, f"mailto:{s.unsubscribe_mailto}?subject=unsubscribe")
        return Envelope(
            from_address=s.from_address,
            from_name=s.from_name,
            to=to or UNDISCLOSED,
            message_id=message_id(delivery.idempotency_key, s.domain, suffix),
            # Japanese mail clients show the Date header's own offset; the town's time is JST.
            date=now().astimezone(JST),
            list_id=f"<{self._tenant}.broadcaster.{s.domain}>",
            unsubscribe=tuple(unsubscribe),
            one_click=to is not None and s.unsubscribe_url.startswith("https://"),
            reply_to=s.reply_to,
        )

    def _sender(self, to: str | None) -> str:
        bounce = self._settings.bounce_address or self._settings.from_address
        return bounce.replace("{token}", address_hash("email", to)[:16] if to else "list")

    async def send(self, delivery: Delivery) -> SendResult:
        s = self._settings
        key = delivery.idempotency_key
        progress = self._progress.setdefault(key, _Progress())
        self._progress.move_to_end(key)
        while len(self._progress) > _REMEMBERED:
            self._progress.popitem(last=False)

        wanted = list(dict.fromkeys(r.strip() for r in delivery.recipients))
        invalid = [r for r in wanted if not ADDRESS.fullmatch(r)]
        todo = [
            r for r in wanted if r not in invalid and r not in progress.accepted and r not in progress.bounced
        ]
        if not wanted:
            raise PermanentError("an e-mail dispatch without recipients")
        deferred: dict[str, str] = {}
        if todo:
            try:
                async with self._client() as smtp:
                    if s.login:
                        await smtp.login(s.username or "", s.password.get_secret_value())
                    if s.mode == "individual":
                        for address in todo:
                            message = compose(
                                delivery.texts,
                                self._envelope(delivery, address),
                                charset=s.charset,
                                transfer_encoding=s.transfer_encoding,
                            )
                            await self._transaction(
                                smtp, self._sender(address), [address], message, progress, deferred
                            )
                    else:
                        message = compose(
                            delivery.texts,
                            self._envelope(delivery, None),
                            charset=s.charset,
                            transfer_encoding=s.transfer_encoding,
                        )
                        for i in range(0, len(todo), s.bcc_batch_size):
                            chunk = todo[i : i + s.bcc_batch_size]
                            await self._transaction(
                                smtp, self._sender(None), chunk, message, progress, deferred
                            )
            except aiosmtplib.SMTPAuthenticationError as e:
                raise PermanentError(
                    f"SMTP login refused ({e.code} {e.message}); check the credentials"
                ) from e
            except aiosmtplib.SMTPResponseException as e:
                if 500 <= e.code < 600:
                    raise PermanentError(f"SMTP server refused the message: {e.code} {e.message}") from e
                raise TransientError(f"SMTP server answered {e.code} {e.message}") from e
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as e:
                # Connection refused or lost, TLS failed, no answer in time: try again later.
                raise TransientError(f"SMTP server unreachable: {type(e).__name__}: {e}") from e

        if deferred:
            raise TransientError(
                f"SMTP server deferred {len(deferred)} of {len(wanted)} recipient(s) "
                f"({_first(deferred)}); the retry goes to those only"
            )
        self._progress.pop(key, None)
        if progress.bounced:
            log.warning(
                "email_bounced",
                recipients=[hash_id(a) for a in progress.bounced],
                answer=_first(progress.bounced),
            )
        if not progress.accepted:
            raise PermanentError(
                f"every recipient refused: {len(progress.bounced)} bounced ({_first(progress.bounced)}), "
                f"{len(invalid)} not an address"
            )
        notes = [f"{len(progress.accepted)} accepted" + (" (BCC)" if s.mode == "bcc" else "")]
        if progress.bounced:
            hashes = ",".join(hash_id(a) for a in progress.bounced)
            notes.append(f"{len(progress.bounced)} bounced: {hashes} ({_first(progress.bounced)})")
        if invalid:
            notes.append(f"{len(invalid)} not an address: {','.join(hash_id(a) for a in invalid)}")
        return SendResult(
            provider_ref=message_id(key, s.domain) if s.mode == "bcc" else None,
            accepted=len(progress.accepted),
            detail="; ".join(notes),
        )

    async def _transaction(
        self,
        smtp: aiosmtplib.SMTP,
        sender: str,
        recipients: list[str],
        message: bytes,
        progress: _Progress,
        deferred: dict[str, str],
    ) -> None:
        try:
            refused, _ = await smtp.sendmail(sender, recipients, message)
        except aiosmtplib.SMTPRecipientsRefused as e:
            # Nobody in this transaction was taken; sort who is gone for good and who may retry.
            for r in e.recipients:
                _sort(r.recipient, r.code, r.message, progress, deferred)
            return
        for address in recipients:
            answer = refused.get(address)
            if answer is None:
                progress.accepted.add(address)
                deferred.pop(address, None)
            else:
                _sort(address, answer.code, answer.message, progress, deferred)

    async def close(self) -> None:
        self._progress.clear()


def _sort(address: str, code: int, message: str, progress: _Progress, deferred: dict[str, str]) -> None:
    answer = f"{code} {message}".strip()
    if 500 <= code < 600:
        progress.bounced[address] = answer
    else:
        deferred[address] = answer


def _first(answers: dict[str, str]) -> str:
    return next(iter(answers.values()), "")
