"""登録制メール: the registered residents' e-mail, sent over SMTP with aiosmtplib.

A dispatch is a batch of addresses fixed by the route stage (max_recipients_per_request). In
``bcc`` mode (the default) one message goes to the batch as blind copies, in SMTP transactions of
at most ``bcc_batch_size`` recipients (what the relay accepts per message); in ``individual`` mode
each address gets its own message, with its own unsubscribe link and one-click header. Even in
``bcc`` mode, addresses at the providers that require one-click unsubscribe of bulk senders
(Gmail, Yahoo: ``one_click_domains``) get a message of their own: a blind copy cannot carry a
personal link. The links are tokens of broadcaster/unsubscribe.py, keyed from the deployment's
data key, and the web app's /unsubscribe route honours them (RFC 8058: a POST unsubscribes at
once; a GET only shows the button, since mail scanners fetch links).

SMTP answers (RFC 5321 §4.2, §4.5.3.1.10): a 452 to RCPT ("too many recipients") sends the
message to those accepted and the rest in a new transaction at once; a 4xx or 5xx to DATA refuses
the message for that transaction's recipients only (deferred or refused; other batches go on);
421 closes the connection: what the server took before stays taken and the retry goes to the rest.

What the server refuses is reported per recipient: a permanent refusal (5xx) is a bounce, counted
in the result's detail with the addresses' hashes (never the addresses) for bounce processing to
act on (docs/channels.md); a temporary one (4xx) makes the send transient, and the retry goes only
to those not yet accepted (remembered in this process; after a crash the batch is sent again, with
the same Message-ID). Only when every recipient is refused for good is the send a PermanentError.
"""

from __future__ import annotations

import html
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
from broadcaster import safety_links, unsubscribe
from broadcaster.channels import AdapterEnv, Addressing, Delivery, RenderedText, SendResult
from broadcaster.errors import ConfigError, PermanentError, TransientError
from broadcaster.logging import get_logger, hash_id
from broadcaster.model import JST, now
from broadcaster.settings import ChannelSettings

log = get_logger(__name__)

# Enough to refuse what is surely not an address (and anything that could inject a header line).
ADDRESS = re.compile(r"[^@\s<>,;:\"]+@[^@\s<>,;:\"]+\.[^@\s<>,;:\"]+")
# Dispatches still being retried in this process, with whom the server already took.
_REMEMBERED = 10_000
# Above the link of a safety check (docs/coverage.md), in the message's language.
SAFETY_LINE = {
    "ja": "安否をお知らせください（無事・支援が必要・避難済み）：",
    "en": "Please tell the town how you are (safe, need help, evacuated):",
}


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
    # Where a resident answers a safety check (broadcaster/safety_links.py); "" leaves it out.
    safety_url: str = ""
    unsubscribe_mailto: str | None = None
    # Mail providers whose bulk-sender rules require RFC 8058 one-click unsubscribe: their users
    # get a message of their own even in bcc mode.
    one_click_domains: tuple[str, ...] = (
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.jp",
        "ymail.com",
        "aol.com",
    )
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
    # The message refused for them at DATA (its content, not their mailbox): not a bounce.
    refused: dict[str, str] = field(default_factory=dict)


class EmailAdapter:
    name: ClassVar[str] = "email"
    addressing: ClassVar[Addressing] = "recipients"
    max_text_length: ClassVar[int | None] = None
    max_recipients_per_request: ClassVar[int | None] = 50
    # The SMTP password; a relay without login still names one (see EmailSettings.login).
    required_credentials: ClassVar[tuple[str, ...]] = ("password",)

    def __init__(self, settings: EmailSettings, *, tenant: str, key: bytes | None = None) -> None:
        self._settings = settings
        self._tenant = tenant
        # Tests build the adapter without a deployment; a key of their own keeps links working.
        self._key = key if key is not None else unsubscribe.derive(b"test-only " + tenant.encode())
        self._progress: OrderedDict[str, _Progress] = OrderedDict()
        self._tls_context: ssl.SSLContext | None = None

    @classmethod
    def from_settings(cls, channel: str, settings: ChannelSettings, env: AdapterEnv) -> Self:
        """options: host, port, security, username, login, from_address, from_name, bounce_address,
        reply_to, charset, transfer_encoding, mode, bcc_batch_size, unsubscribe_url, safety_url,
        unsubscribe_mailto, ca_file."""
        opts = dict(settings.options)
        fields: dict[str, Any] = {
            "password": settings.credentials.get("password"),
            "from_name": env.tenant_name,
            "unsubscribe_url": f"{env.public_url.rstrip('/')}/unsubscribe/{env.tenant}/email",
            "safety_url": safety_links.url(env.public_url, env.tenant, "").rstrip("/"),
            "timeout": min(300.0, settings.timeout_s * 0.9),
        }
        for name in EmailSettings.model_fields:
            if name in opts and name not in ("password", "timeout"):
                fields[name] = opts.pop(name)
        if opts:
            raise ConfigError(f"channel {channel}: unknown options {', '.join(sorted(opts))}")
        try:
            return cls(EmailSettings(**fields), tenant=env.tenant, key=env.unsubscribe_key)
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
        links = [s.unsubscribe_url]
        suffix = ""
        if to is not None:
            suffix = unsubscribe.tag(self._key, to)
            links = [f"{s.unsubscribe_url}/{unsubscribe.token(self._key, self._tenant, to)}"]
        if s.unsubscribe_mailto:
            links.insert(0, f"mailto:{s.unsubscribe_mailto}?subject=unsubscribe")
        return Envelope(
            from_address=s.from_address,
            from_name=s.from_name,
            to=to or UNDISCLOSED,
            message_id=message_id(delivery.idempotency_key, s.domain, suffix),
            # Japanese mail clients show the Date header's own offset; the town's time is JST.
            date=now().astimezone(JST),
            list_id=f"<{self._tenant}.broadcaster.{s.domain}>",
            unsubscribe=tuple(links),
            one_click=to is not None and s.unsubscribe_url.startswith("https://"),
            reply_to=s.reply_to,
        )

    def _with_safety(self, delivery: Delivery, to: str) -> tuple[RenderedText, ...]:
        """The texts with this address's own safety-answer link below (無事・支援が必要・避難済み)."""
        value = safety_links.token(self._key, self._tenant, delivery.dispatch.alert_id, "email", to)
        link = f"{self._settings.safety_url}/{value}"
        line = SAFETY_LINE.get(delivery.texts[0].language.split("-")[0], SAFETY_LINE["ja"])
        block = f'<p>{html.escape(line)}<br><a href="{html.escape(link)}">{html.escape(link)}</a></p>'
        return tuple(
            t.model_copy(update={"body": f"{t.body}\n\n{line}\n{link}", "html": t.html + block if t.html else None})
            for t in delivery.texts
        )

    def _sender(self, to: str | None) -> str:
        bounce = self._settings.bounce_address or self._settings.from_address
        return bounce.replace("{token}", unsubscribe.tag(self._key, to) if to else "list")

    def _own_message(self, address: str) -> bool:
        domain = address.rsplit("@", 1)[-1].lower()
        return self._settings.mode == "individual" or domain in self._settings.one_click_domains

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
            r
            for r in wanted
            if r not in invalid and r not in progress.accepted and r not in progress.bounced and r not in progress.refused
        ]
        if not wanted:
            raise PermanentError("an e-mail dispatch without recipients")
        deferred: dict[str, str] = {}
        if todo:
            try:
                async with self._client() as smtp:
                    if s.login:
                        await smtp.login(s.username or "", s.password.get_secret_value())
                    # A safety check gives each address its own answer link: its own message.
                    asks = bool(s.safety_url) and safety_links.asks(delivery.alert)
                    own = [a for a in todo if asks or self._own_message(a)]
                    blind = [a for a in todo if a not in own]
                    for address in own:
                        message = compose(
                            self._with_safety(delivery, address) if asks else delivery.texts,
                            self._envelope(delivery, address),
                            charset=s.charset,
                            transfer_encoding=s.transfer_encoding,
                        )
                        await self._transaction(smtp, self._sender(address), [address], message, progress, deferred)
                    if blind:
                        message = compose(
                            delivery.texts,
                            self._envelope(delivery, None),
                            charset=s.charset,
                            transfer_encoding=s.transfer_encoding,
                        )
                        for i in range(0, len(blind), s.bcc_batch_size):
                            chunk = blind[i : i + s.bcc_batch_size]
                            await self._transaction(smtp, self._sender(None), chunk, message, progress, deferred)
            except aiosmtplib.SMTPAuthenticationError as e:
                raise PermanentError(
                    f"SMTP login refused ({e.code} {e.message}); check the credentials"
                ) from e
            except aiosmtplib.SMTPResponseException as e:
                if 500 <= e.code < 600 and not progress.accepted:
                    raise PermanentError(f"SMTP server refused the message: {e.code} {e.message}") from e
                # 421 (closing), or a refusal after some were taken: keep what was taken, and the
                # retry goes to the rest.
                raise TransientError(
                    f"SMTP server answered {e.code} {e.message}; {len(progress.accepted)} accepted so far"
                ) from e
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
            refused = f", {len(progress.refused)} refused at DATA ({_first(progress.refused)})" if progress.refused else ""
            raise PermanentError(
                f"every recipient refused: {len(progress.bounced)} bounced ({_first(progress.bounced)}), "
                f"{len(invalid)} not an address{refused}"
            )
        notes = [f"{len(progress.accepted)} accepted" + (" (BCC)" if s.mode == "bcc" else "")]
        if progress.bounced:
            hashes = ",".join(hash_id(a) for a in progress.bounced)
            notes.append(f"{len(progress.bounced)} bounced: {hashes} ({_first(progress.bounced)})")
        if invalid:
            notes.append(f"{len(invalid)} not an address: {','.join(hash_id(a) for a in invalid)}")
        if progress.refused:
            notes.append(f"{len(progress.refused)} refused at DATA ({_first(progress.refused)})")
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
        pending = list(recipients)
        # Each round is one transaction; a 452 "too many recipients" makes another for the rest
        # at once (RFC 5321 §4.5.3.1.10). Bounded: every round takes at least one recipient.
        while pending:
            try:
                refused, _ = await smtp.sendmail(sender, pending, message)
            except aiosmtplib.SMTPRecipientsRefused as e:
                # Nobody in this transaction was taken; sort who is gone for good and who may retry.
                for r in e.recipients:
                    _sort(r.recipient, r.code, r.message, progress, deferred)
                return
            except aiosmtplib.SMTPDataError as e:
                # The message itself was refused for these recipients (content, size, a policy):
                # a 4xx may pass later, a 5xx never will; neither says their mailbox is gone.
                said = f"{e.code} {e.message}".strip()
                for address in pending:
                    if 400 <= e.code < 500:
                        deferred[address] = said
                    else:
                        progress.refused[address] = said
                        deferred.pop(address, None)
                return
            too_many = []
            for address in pending:
                answer = refused.get(address)
                if answer is None:
                    progress.accepted.add(address)
                    deferred.pop(address, None)
                elif answer.code == 452:
                    too_many.append(address)
                else:
                    _sort(address, answer.code, answer.message, progress, deferred)
            if len(too_many) == len(pending):
                for address in too_many:
                    deferred[address] = "452 too many recipients"
                return
            pending = too_many

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
