"""structlog set-up: JSON in production, readable lines on a console.

Events are snake_case verbs with fields (``dispatch_sent channel=line alert=...``). Workers bind
tenant, alert, dispatch and channel ids at their boundary. Personal identifiers never go into a
log: use `hash_id` (a LINE user id or an e-mail address becomes a short keyed hash that still lets
an operator correlate lines about the same person).
"""

from __future__ import annotations

import hashlib
import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from pydantic import SecretStr

_PEPPER = b"broadcaster-log-ids"


def hash_id(value: str) -> str:
    return "h:" + hashlib.blake2s(value.encode("utf-8"), key=_PEPPER, digest_size=6).hexdigest()


def _redact_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    # A SecretStr renders as ********** already; this also catches one unwrapped by mistake
    # under a name that says what it is.
    for key, value in list(event.items()):
        secret_name = any(word in key.lower() for word in ("token", "secret", "password", "authorization"))
        if isinstance(value, SecretStr) or secret_name:
            event[key] = "**********"
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
            _redact_secrets,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
