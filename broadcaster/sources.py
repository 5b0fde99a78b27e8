"""Raw input from a file (`broadcaster send`, `broadcaster parse`): what it is, who sends it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from broadcaster.errors import ConfigError
from broadcaster.model import RawEvent
from broadcaster.model.raw import MANUAL_CONTENT_TYPE

MAX_FILE_BYTES = 10 * 1024 * 1024

# Namespaces that tell a source apart in the first bytes, without parsing.
_SNIFF = (
    (b"xml.kishou.go.jp/jmaxml1", "jma"),
    (b"urn:oasis:names:tc:emergency:cap:1.", "cap"),
    (b"urn:oasis:names:tc:emergency:EDXL:DE", "lalert"),
    (b"publiccommons", "lalert"),
)


# The J-Alert message format (docs/jalert.md) says what it is on a line or member of its own.
_JALERT = (
    re.compile(rb"(?m)^[ \t]*format[ \t]*=[ \t]*jalert/1[ \t]*\r?$"),
    re.compile(rb'"format"\s*:\s*"jalert/1"'),
)


def sniff_source(body: bytes) -> str:
    head = body[:8192]
    if head.lstrip()[:1] != b"<" and any(p.search(head) for p in _JALERT):
        return "jalert"
    for needle, source in _SNIFF:
        if needle in head:
            return source
    return "file"


def raw_from_file(
    path: Path,
    *,
    officer: str | None,
    tenant: str | None,
    source: str | None,
    known_tenants: Mapping[str, Any] | None,
) -> RawEvent:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: {size} bytes is more than any telegram; refusing")
    body = path.read_bytes()
    if body.lstrip()[:1] in (b"{", b"[") and sniff_source(body) != "jalert":
        if not officer or not tenant:
            raise ConfigError("a manual alert needs --officer and --tenant: every manual alert carries who sent it")
        if known_tenants is not None and tenant not in known_tenants:
            raise ConfigError(f"unknown tenant {tenant!r}; tenants: {', '.join(known_tenants) or 'none configured'}")
        identity = officer if officer.startswith("officer:") else f"officer:{tenant}/{officer}"
        return RawEvent(
            source="manual",
            content_type=MANUAL_CONTENT_TYPE,
            body=body,
            tenant=tenant,
            submitted_by=identity,
            source_ref=path.name,
        )
    return RawEvent(
        source=source or sniff_source(body),
        content_type="application/xml",
        body=body,
        submitted_by=f"file:{officer}" if officer else "file:cli",
        source_ref=path.name,
    )
