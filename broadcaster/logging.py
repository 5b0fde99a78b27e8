"""structlog set-up: JSON in production, readable lines on a console.

Events are snake_case verbs with fields (``dispatch_sent channel=line alert=...``). Workers bind
tenant, alert, dispatch and channel ids at their boundary. Personal identifiers never go into a
log: use `hash_id` (a LINE user id or an e-mail address becomes a short keyed hash that still lets
an operator correlate lines about the same person).
"""

from __future__ import annotations

import hashlib
import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog
from pydantic import SecretBytes, SecretStr

_PEPPER = b"broadcaster-log-ids"


def hash_id(value: str) -> str:
    return "h:" + hashlib.blake2s(value.encode("utf-8"), key=_PEPPER, digest_size=6).hexdigest()


REDACTED = "**********"
# A field named like this holds a secret whatever its type.
_SECRET_WORDS = ("token", "secret", "password", "passwd", "authorization", "private_key", "api_key", "credential", "cookie")
# Credentials inside text: an exception's message, a URL in an error, a repr.
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^/\s:@'\"]*):(?P<pw>[^/\s@'\"]+)@")
_QUERY_SECRET = re.compile(
    r"(?P<name>[?&;](?:access_token|token|api_key|apikey|key|secret|password|passwd|sig|signature|auth|code)=)[^&;\s'\"]+",
    re.IGNORECASE,
)
_AUTH_HEADER = re.compile(r"(?P<scheme>\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)


def scrub(text: str) -> str:
    """Text with credentials in URLs (user:password@, ?token=) and Authorization values blanked."""
    if "://" in text:
        text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)
    if "=" in text:
        text = _QUERY_SECRET.sub(lambda m: f"{m['name']}{REDACTED}", text)
    if "earer" in text or "asic" in text:
        text = _AUTH_HEADER.sub(lambda m: f"{m['scheme']}{REDACTED}", text)
    return text


def _clean(value: Any, depth: int = 0) -> Any:
    if isinstance(value, SecretStr | SecretBytes):
        return REDACTED
    if isinstance(value, str):
        return scrub(value)
    if depth < 4:
        if isinstance(value, Mapping):
            return {k: REDACTED if _secret_name(k) else _clean(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [_clean(v, depth + 1) for v in value]
    if isinstance(value, BaseException):
        return scrub(f"{type(value).__name__}: {value}")
    return value


def _secret_name(key: object) -> bool:
    return isinstance(key, str) and any(word in key.lower() for word in _SECRET_WORDS)


def _redact_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    # A SecretStr renders as ********** already; this also catches one unwrapped by mistake
    # under a name that says what it is, one inside a dict or list, and credentials inside text
    # (a URL with user:password@ in an exception's message). Runs after the traceback is
    # formatted, so that the traceback is scrubbed too.
    for key, value in list(event.items()):
        event[key] = REDACTED if _secret_name(key) else _clean(value)
    return event


def configure(level: str = "INFO", fmt: str = "console", stream: Any = None) -> None:
    renderer: Any
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer(ensure_ascii=False)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
