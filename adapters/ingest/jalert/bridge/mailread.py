"""Reading a receiver's e-mail: subject, text, date and identity, whatever its encoding.

Japanese devices write ISO-2022-JP, Shift_JIS or UTF-8, in the subject as MIME encoded-words and
in the body as the part's charset; the standard library's e-mail parser decodes them all. What it
cannot decode (an unknown charset, no text at all) is `MailUnreadable`, and the mail goes to
quarantine whole.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import html
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

MAX_TEXT = 4000  # characters of body kept for the message text


class MailUnreadable(Exception):
    """The mail cannot be read as text; `reason` is the quarantine reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ReceiverMail:
    subject: str
    body: str
    sent: datetime | None
    message_id: str | None
    digest: str  # identifies this mail: the same mail delivered twice has the same digest


def _text_of(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError, AssertionError) as e:
        raise MailUnreadable("mail_malformed", f"the text part cannot be decoded: {type(e).__name__}: {e}") from e
    if not isinstance(content, str):
        raise MailUnreadable("mail_malformed", f"the text part is {part.get_content_type()}, not text")
    if part.get_content_type() == "text/html":
        content = html.unescape(re.sub(r"<[^>]+>", "\n", re.sub(r"(?is)<(script|style).*?</\1>", "", content)))
    return content


def read_mail(raw: bytes) -> ReceiverMail:
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception as e:  # the parser is lenient; anything it still refuses is not a mail
        raise MailUnreadable("mail_malformed", f"not an e-mail: {type(e).__name__}: {e}") from e
    assert isinstance(msg, EmailMessage)
    try:
        subject = str(msg.get("Subject", "") or "")
    except (LookupError, UnicodeError, ValueError) as e:
        raise MailUnreadable("mail_malformed", f"the subject cannot be decoded: {e}") from e
    part = msg.get_body(preferencelist=("plain", "html"))
    body = _text_of(part) if isinstance(part, EmailMessage) else ""
    body = body.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not subject.strip() and not body:
        raise MailUnreadable("mail_empty", "neither a subject nor a text part")
    sent: datetime | None = None
    date = msg.get("Date")
    if date:
        try:
            sent = parsedate_to_datetime(str(date))
        except (TypeError, ValueError, IndexError):
            sent = None
        if sent is not None and sent.tzinfo is None:
            sent = None  # "-0000": the time zone is unknown, so the time is of no use
    message_id = str(msg.get("Message-ID") or "").strip() or None
    seed = message_id.encode() if message_id else raw
    return ReceiverMail(
        subject=subject.strip()[:500],
        body=body[:MAX_TEXT],
        sent=sent,
        message_id=message_id,
        digest=hashlib.sha256(seed).hexdigest()[:20],
    )
