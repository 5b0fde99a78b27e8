"""Attachments of routine circulars: what is accepted, named by what the bytes are.

Only PDF, PNG and JPEG, recognised by their first bytes (never by the name or the browser's
claimed type), within the size limit; a PDF that declares scripts, launch actions or embedded
files is refused. The stored name is reduced to safe characters and given the extension of the
real type, so a file is always served as what it is.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass

# type → (first bytes, extension)
_TYPES: tuple[tuple[str, bytes, str], ...] = (
    ("application/pdf", b"%PDF-", ".pdf"),
    ("image/png", b"\x89PNG\r\n\x1a\n", ".png"),
    ("image/jpeg", b"\xff\xd8\xff", ".jpg"),
)
# PDF names of active content. (Inside compressed object streams they are not visible to this
# check; docs/circulars.md says so.)
_ACTIVE_PDF = re.compile(rb"/(JavaScript|JS|Launch|EmbeddedFile|RichMedia|OpenAction\s*<<[^>]*/JS)\b")
_UNSAFE = re.compile(r"[^\w\-. ()（）「」、。・ー]+")
MAX_NAME = 80


class AttachmentError(ValueError):
    """A file that is not taken; the message names the file and says why (Japanese)."""


@dataclass(frozen=True, slots=True)
class Checked:
    id: str
    filename: str
    content_type: str
    data: bytes
    sha256: str

    @property
    def size(self) -> int:
        return len(self.data)


def sniff(data: bytes) -> tuple[str, str] | None:
    for content_type, magic, ext in _TYPES:
        if data.startswith(magic):
            return content_type, ext
    return None


def safe_name(name: str, ext: str) -> str:
    """A display and download name: no path, no control characters, the real type's extension."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFC", base)
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = _UNSAFE.sub("_", stem).strip(" ._")[:MAX_NAME]
    return (stem or "添付ファイル") + ext


def check(name: str, data: bytes, *, max_bytes: int) -> Checked:
    label = safe_name(name, "") or "添付ファイル"
    if not data:
        raise AttachmentError(f"{label}: ファイルが空です。")
    if len(data) > max_bytes:
        raise AttachmentError(f"{label}: 大きすぎます（{max_bytes // 1000:,} KB まで）。")
    found = sniff(data)
    if found is None:
        raise AttachmentError(f"{label}: PDF・PNG・JPEG のファイルだけ添付できます。")
    content_type, ext = found
    if content_type == "application/pdf" and _ACTIVE_PDF.search(data):
        raise AttachmentError(f"{label}: スクリプトや埋め込みファイルを含む PDF は添付できません。")
    return Checked(
        id=secrets.token_hex(16),
        filename=safe_name(name, ext),
        content_type=content_type,
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
    )
