"""A real SMTP server on loopback (aiosmtpd) that records what arrives and can refuse recipients.

It runs on the test's own event loop. Recipients are refused by their local part, as a mail
server would for an unknown mailbox or a full one: ``bounce*`` gets 550 (permanent), ``defer*``
gets 451 (temporary); ``defer_once*`` is refused only the first time. Optional STARTTLS (with a
certificate from tests/fakes/tls.py) and AUTH LOGIN/PLAIN with one user.

What real servers answer besides (RFC 5321): past `max_recipients` in one transaction, RCPT is
answered 452 4.5.3 "Too many recipients" (the client is to send to those accepted and the rest in
another transaction); `data_answers` scripts the answers to the next DATA commands: a 5xx (554
content refused), a 4xx (451), "" (taken as usual), or 421, after which the server closes the connection as a server
shutting down does. Each accepted message is
kept with its envelope and its parsed headers, for the tests to check what a mail client would see.
"""

from __future__ import annotations

import asyncio
import email
import ssl
from collections import deque
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from types import TracebackType
from typing import Any, Self

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass(frozen=True)
class Arrived:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes

    @property
    def message(self) -> EmailMessage:
        """Parsed as a mail client would: folded headers unfolded, encoded words decoded."""
        parsed = email.message_from_bytes(self.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def raw_header(self, name: str) -> str:
        """A header as it travelled, unfolded but not decoded."""
        raw = email.message_from_bytes(self.content, policy=policy.compat32)[name]
        return " ".join(str(raw).split())

    def text(self) -> str:
        """The body decoded from its transfer encoding and charset, line ends as a reader sees them."""
        body = self.message.get_body()
        assert body is not None
        return str(body.get_content()).replace("\r\n", "\n")


@dataclass
class _Handler:
    """aiosmtpd's hooks, named as it looks them up."""

    server: FakeSMTP

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        local = address.split("@", 1)[0]
        self.server.rcpt_seen.append(address)
        limit = self.server.max_recipients
        if limit is not None and len(envelope.rcpt_tos) >= limit:
            return "452 4.5.3 Too many recipients"
        if local.startswith("bounce"):
            return "550 5.1.1 No such user here"
        if local.startswith("defer_once") and address not in self.server.deferred_once:
            self.server.deferred_once.add(address)
            return "451 4.2.2 Mailbox full, try again later"
        if local.startswith("defer") and not local.startswith("defer_once"):
            return "451 4.2.2 Mailbox full, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        answer = self.server.data_answers.popleft() if self.server.data_answers else ""
        if answer:  # "" takes the message as usual
            self.server.data_refused.append((answer, tuple(envelope.rcpt_tos)))
            if answer.startswith("421") and server.transport is not None:
                asyncio.get_running_loop().call_later(0.01, server.transport.close)
            return answer
        content = envelope.original_content or b""
        self.server.arrived.append(Arrived(str(envelope.mail_from), tuple(envelope.rcpt_tos), bytes(content)))
        return "250 2.0.0 Message accepted for delivery"


@dataclass
class FakeSMTP:
    tls_context: ssl.SSLContext | None = None
    user: tuple[str, str] | None = None
    arrived: list[Arrived] = field(default_factory=list)
    rcpt_seen: list[str] = field(default_factory=list)
    deferred_once: set[str] = field(default_factory=set)
    logins: list[str] = field(default_factory=list)
    max_recipients: int | None = None
    data_answers: deque[str] = field(default_factory=deque)
    data_refused: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            self.user is not None
            and isinstance(auth_data, LoginPassword)
            and (auth_data.login.decode(), auth_data.password.decode()) == self.user
        )
        if ok:
            self.logins.append(auth_data.login.decode())
        # handled=False: aiosmtpd then answers 535 itself (its default assumes the hook answered).
        return AuthResult(success=ok, handled=False)

    def _protocol(self) -> SMTP:
        return SMTP(
            _Handler(self),
            hostname="mx.test",
            tls_context=self.tls_context,
            require_starttls=self.tls_context is not None,
            authenticator=self._authenticate if self.user else None,
            auth_required=self.user is not None,
            auth_require_tls=True,
            loop=asyncio.get_running_loop(),
        )

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def delivered_to(self) -> list[str]:
        """Every recipient a message was accepted for, one entry per acceptance."""
        return [r for a in self.arrived for r in a.rcpt_tos]
