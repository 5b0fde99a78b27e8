"""The mail intake: a small SMTP server for the J-Alert receiver's e-mail notifications.

A receiver's 外部インタフェース設定 (基本設定 → メール送信インタフェース) names an SMTP server;
the town points it at this one, on the LGWAN segment. Only the configured receivers may send: a
mail is accepted when the connection comes from one of a receiver's networks *and* its envelope
sender is one of that receiver's addresses; anything else is refused at MAIL FROM (550), before a
byte of content is taken.

Each accepted mail is answered 250 only once it is safely on disk:
* a mail a rule recognises (mailrules.py) becomes a jalert/1 message in the spool, forwarded
  signed and in order like every other message (a rule may say not to forward: JMA's feed has it);
* a mail no rule recognises, or one that cannot be read, is kept whole in `mail-quarantine/` with
  the reason beside it, and also forwarded as it is, marked with the reason, so that the
  broadcaster records it in its quarantine where the officers see it. Nothing is guessed.
Either way the receiver was heard (health.py). A full disk answers 451, and the receiver retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session

from adapters.ingest.jalert.bridge.chains import Chains
from adapters.ingest.jalert.bridge.compose import iso, jalert_text
from adapters.ingest.jalert.bridge.health import HealthLog
from adapters.ingest.jalert.bridge.mailread import MailUnreadable, ReceiverMail, read_mail
from adapters.ingest.jalert.bridge.mailrules import Matched, match
from adapters.ingest.jalert.bridge.receivers import ReceiverSettings
from adapters.ingest.jalert.bridge.spool import Spool
from broadcaster.logging import get_logger
from broadcaster.model import JST

log = get_logger(__name__)

# The header put in front of a refused mail that is forwarded: the broadcaster's J-Alert parser
# quarantines it with this reason (adapters/ingest/jalert/parser.py).
REFUSED_HEADER = "X-Broadcaster-Jalert-Refused"
REFUSED_TYPE = "message/rfc822"
QUARANTINE = "mail-quarantine"
# A receiver's clock is trusted for the message time when it is this close to ours; otherwise the
# time of arrival is used (the merge of sources compares times, docs/architecture.md).
CLOCK_TRUST = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str  # spooled, heard, quarantined
    reason: str | None = None
    detail: str | None = None
    message_id: str | None = None


class MailIntake:
    def __init__(
        self,
        receivers: Sequence[ReceiverSettings],
        spool: Spool,
        health: HealthLog,
        chains: Chains,
        *,
        on_spooled: Callable[[], None] | None = None,
        max_bytes: int = 1024 * 1024,
        hostname: str = "jalert-bridge",
    ) -> None:
        self.receivers = list(receivers)
        self.spool = spool
        self.health = health
        self.chains = chains
        self._on_spooled = on_spooled
        self.max_bytes = max_bytes
        self.hostname = hostname
        self.quarantine = spool.root / QUARANTINE
        self.quarantine.mkdir(parents=True, exist_ok=True)
        self._server: asyncio.Server | None = None
        self.port: int | None = None

    # -- who may send ---------------------------------------------------------------------------

    def receiver_for(self, ip: str, address: str) -> ReceiverSettings | None:
        return next((r for r in self.receivers if r.sends_from(ip, address)), None)

    def refuse(self, ip: str, address: str) -> None:
        near = next((r for r in self.receivers if r.in_network(ip)), None)
        self.health.refused(near.name if near else None)
        log.warning("jalert_mail_refused", peer=ip, sender=address[:200], receiver_network=near.name if near else None)

    # -- what a mail becomes --------------------------------------------------------------------

    def process(self, receiver: ReceiverSettings, raw: bytes, recipients: Sequence[str]) -> Outcome:
        """Spool what the mail means (or the mail, refused); synchronous, run on a thread."""
        try:
            mail = read_mail(raw)
        except MailUnreadable as e:
            return self._quarantine(receiver, raw, e.reason, e.detail)
        matched = match(mail.subject, mail.body, recipients, receiver.all_rules)
        if matched is None:
            detail = f"no rule of receiver {receiver.name} matches the subject {mail.subject[:120]!r}"
            return self._quarantine(receiver, raw, "mail_unmatched", detail)
        test = matched.status == "試験"
        if not matched.rule.forward:
            self.health.heard(receiver.name, "mail", test=test)
            log.info("jalert_mail_heard", receiver=receiver.name, rule=matched.rule.name, subject=mail.subject[:80])
            return Outcome("heard", detail=matched.rule.name)
        body = self._message(receiver, mail, matched)
        item = self.spool.put(body, content_type="text/plain; charset=utf-8", origin=f"mail:{receiver.name}")
        self.health.heard(receiver.name, "mail", test=test)
        log.info("jalert_mail_spooled", receiver=receiver.name, rule=matched.rule.name, message=item.id, seq=item.seq)
        return Outcome("spooled", message_id=_message_id(receiver, mail))

    def _message(self, receiver: ReceiverSettings, mail: ReceiverMail, matched: Matched) -> bytes:
        now = datetime.now(UTC)
        sent = mail.sent if mail.sent is not None and abs(mail.sent - now) <= CLOCK_TRUST else now
        sent = sent.astimezone(JST)
        message_id = _message_id(receiver, mail)
        rule = matched.rule
        link = self.chains.link(receiver.name, rule.category, matched.status, message_id, sent, cancel=matched.cancel)
        msgtype = "取消" if matched.cancel else ("続報" if link.references else None)
        # A missile's headline is its stage's (the parser reads the stage from the text); the
        # other kinds take the words the rule matched (大津波警報 gives the tsunami its grade).
        title = rule.title or (None if rule.category == "missile" else matched.title)
        return jalert_text(
            {
                "id": message_id,
                "sent": iso(sent),
                "status": matched.status,
                "category": rule.category,
                "stage": rule.stage,
                "msgtype": msgtype,
                "event": link.event if link.event != message_id else None,
                "references": link.references,
                "title": title,
                "text": receiver.message_text(mail.body) or mail.subject,
                "areas": ", ".join(receiver.areas) or None,
                "via": "mail",
                "receiver": receiver.name,
                "rule": rule.name,
                "info_number": matched.info_number,
            },
            comment=f"mail from receiver {receiver.name}: {mail.subject[:80]}",
        )

    def _quarantine(self, receiver: ReceiverSettings, raw: bytes, reason: str, detail: str) -> Outcome:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        name = f"{stamp}-{receiver.name}"
        path = self.quarantine / f"{name}.eml"
        _write_durably(path, raw)
        _write_durably(self.quarantine / f"{name}.reason", f"{reason}: {detail}\n".encode())
        # Forwarded as well: the officers see the broadcaster's quarantine, not this folder.
        marked = f"{REFUSED_HEADER}: {reason}; {_one_line(detail)}\r\n".encode() + raw
        self.spool.put(marked, content_type=REFUSED_TYPE, origin=f"mail-quarantine:{receiver.name}")
        self.health.heard(receiver.name, "mail", quarantined=True)
        log.error("jalert_mail_quarantined", receiver=receiver.name, reason=reason, detail=detail[:200], kept=str(path))
        return Outcome("quarantined", reason=reason, detail=detail)

    # -- the SMTP server ------------------------------------------------------------------------

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        ip = _peer_ip(session)
        if self.receiver_for(ip, address) is None:
            self.refuse(ip, address)
            return "550 5.7.1 Not a configured J-Alert receiver"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        receiver = self.receiver_for(_peer_ip(session), str(envelope.mail_from or ""))
        if receiver is None:  # cannot happen after MAIL FROM; refuse rather than assume
            return "550 5.7.1 Not a configured J-Alert receiver"
        raw = bytes(envelope.original_content or b"")
        try:
            outcome = await asyncio.to_thread(self.process, receiver, raw, list(envelope.rcpt_tos))
        except OSError as e:  # the spool's disk: the receiver keeps the mail and tries again
            log.error("jalert_mail_not_stored", receiver=receiver.name, error=str(e)[:300])
            return "451 4.3.0 Cannot store the message now, try again later"
        if outcome.kind in ("spooled", "quarantined") and self._on_spooled is not None:
            self._on_spooled()
        return "250 2.0.0 Stored"

    def _protocol(self) -> SMTP:
        return SMTP(
            self,
            hostname=self.hostname,
            data_size_limit=self.max_bytes,
            # Receivers write Japanese in MIME encoded words; 8-bit and SMTPUTF8 are accepted too.
            enable_SMTPUTF8=True,
            timeout=60,
            loop=asyncio.get_running_loop(),
        )

    async def start(self, host: str, port: int) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, host, port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        log.info("jalert_mail_listening", host=host, port=self.port, receivers=[r.name for r in self.receivers])
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), timeout=5)
            self._server = None


def _message_id(receiver: ReceiverSettings, mail: ReceiverMail) -> str:
    return f"mail-{receiver.name}-{mail.digest}"


def _peer_ip(session: Session) -> str:
    peer = session.peer
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return str(peer or "")


def _one_line(text: str) -> str:
    return " ".join(text.replace("\r", " ").replace("\n", " ").split())[:300]


def _write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
