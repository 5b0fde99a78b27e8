"""Identifiers, event keys and references derived from a commons document id and revision.

Every revision of one commons document is one event: the event key is the document id, and the
CAP identifier is the document id plus the revision, so the same revision received twice (two
feeds, a redelivery) gets the same identifier and the ledger drops the repeat.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

from broadcaster.model import cap_datetime

_UNSAFE = re.compile(r"[^A-Za-z0-9._~:@/-]+")


def ascii_token(value: str) -> str:
    """A CAP-safe ASCII token for `value`: itself if already safe, else a cleaned form plus a hash.

    The hash keeps two ids apart that clean to the same text ("a b" and "a-b", or two Japanese ids).
    """
    value = value.strip().strip("\"'")
    cleaned = _UNSAFE.sub("-", value).strip("-")
    if cleaned == value and cleaned:
        return cleaned
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:12]
    return f"{cleaned}-{digest}" if cleaned else digest


def identifier(document_id: str, revision: int) -> str:
    return f"lalert-{ascii_token(document_id)}-r{revision}"


def event_key(document_id: str) -> str:
    return f"lalert|{document_id.strip()}"


def reference(sender: str, document_id: str, revision: int, sent: datetime) -> str:
    return f"{sender},{identifier(document_id, revision)},{cap_datetime(sent)}"
