"""An alert as a plain-text e-mail with the encodings Japanese mail clients expect.

UTF-8 by default, with the body in base64 (safe for any client) or quoted-printable (readable in
the raw message), the subject and display names as RFC 2047 encoded words. ISO-2022-JP (7-bit JIS,
what old feature-phone mailers read) is an option; a text that JIS cannot hold (Vietnamese, a
circled digit, an emoji) goes out in UTF-8 instead, since a message that cannot be read is worse
than one in the other charset.

The Message-ID is derived from the dispatch's idempotency key, so that a message sent again after
a crash carries the same id and mail stores and clients that drop repeats do; the List-Unsubscribe
header (RFC 2369, and RFC 8058's one-click form where each recipient has a message of their own)
lets mail clients offer the town's opt-out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import charset as charsets
from email import policy
from email.header import Header
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import format_datetime, formataddr
from typing import Literal

from broadcaster.channels import RenderedText

Charset = Literal["utf-8", "iso-2022-jp"]
TransferEncoding = Literal["base64", "quoted-printable"]
# compat32 keeps Header objects (needed for ISO-2022-JP encoded words) and SMTP wants CRLF.
_SMTP = policy.compat32.clone(linesep="\r\n")
_MAX_LINE = 998  # RFC 5322, in octets
UNDISCLOSED = "undisclosed-recipients:;"


@dataclass(frozen=True, slots=True)
class Envelope:
    """The headers that are not the text: who from, to whom, which message, how to leave."""

    from_address: str
    from_name: str
    to: str
    message_id: str
    date: datetime
    list_id: str
    unsubscribe: tuple[str, ...] = ()  # URLs, mailto: first, in header order
    one_click: bool = False
    reply_to: str | None = None


def message_id(idempotency_key: str, domain: str, suffix: str = "") -> str:
    return f"<{idempotency_key}{'.' + suffix if suffix else ''}@{domain}>"


def subject_of(texts: Sequence[RenderedText]) -> str:
    first = texts[0]
    line = first.title or next((ln for ln in first.body.splitlines() if ln.strip()), "")
    return " ".join(line.split())[:200]


def body_of(texts: Sequence[RenderedText]) -> str:
    """Every language in order (a translation, then the Japanese original), with a rule between."""
    bodies = [t.body.strip() for t in texts if t.body.strip()]
    return "\n\n――――――――――\n\n".join(bodies) + "\n"


def _fits_jis(*texts: str) -> bool:
    try:
        for t in texts:
            encoded = t.encode("iso-2022-jp")
            if any(len(line) > _MAX_LINE for line in encoded.splitlines()):
                return False
    except UnicodeEncodeError:
        return False
    return True


def charset_for(wanted: Charset, *texts: str) -> Charset:
    return "iso-2022-jp" if wanted == "iso-2022-jp" and _fits_jis(*texts) else "utf-8"


def compose(
    texts: Sequence[RenderedText],
    envelope: Envelope,
    *,
    charset: Charset = "utf-8",
    transfer_encoding: TransferEncoding = "base64",
) -> bytes:
    subject = subject_of(texts)
    body = body_of(texts)
    used = charset_for(charset, subject, body, envelope.from_name)
    cs = charsets.Charset(used)
    if used == "utf-8":
        cs.header_encoding = charsets.BASE64
        cs.body_encoding = charsets.BASE64 if transfer_encoding == "base64" else charsets.QP
    # ISO-2022-JP keeps Python's defaults, as such mail has always been written: the 7-bit JIS
    # body as it is, base64 encoded words in headers.
    msg = MIMENonMultipart("text", "plain")
    msg.set_payload(body, cs)
    # typeshed types header values as str; compat32 messages take Header objects, which are what
    # encodes a subject in ISO-2022-JP.
    msg["Subject"] = Header(subject, used)  # type: ignore[assignment]
    msg["From"] = formataddr((envelope.from_name, envelope.from_address), charset=used)
    msg["To"] = envelope.to
    msg["Date"] = format_datetime(envelope.date)
    msg["Message-ID"] = envelope.message_id
    msg["Content-Language"] = ", ".join(dict.fromkeys(t.language for t in texts))
    msg["List-Id"] = envelope.list_id
    if envelope.unsubscribe:
        msg["List-Unsubscribe"] = ", ".join(f"<{u}>" for u in envelope.unsubscribe)
        if envelope.one_click:
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    if envelope.reply_to:
        msg["Reply-To"] = envelope.reply_to
    # RFC 3834: no vacation auto-replies back to the town for an automatic warning.
    msg["Auto-Submitted"] = "auto-generated"
    return msg.as_bytes(policy=_SMTP)
