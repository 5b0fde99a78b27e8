"""Reading one J-Alert message in the project's input format (docs/jalert.md): text or JSON.

Both carry the same fields. The text form is what a receiver's output is easiest to adapt to
(a few `key = value` lines, a folded line continues the previous value); the JSON form is for
systems that already speak JSON. Either may be UTF-8 or, as many Japanese systems write,
Shift_JIS (CP932). Nothing here interprets the fields beyond their shape.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from adapters.ingest.jalert.vocabulary import FORMAT, normalize
from broadcaster.errors import ParseError

MAX_BYTES = 256 * 1024

# Fields that may repeat (text) or be lists (JSON); the others appear once.
LIST_FIELDS = frozenset({"areas", "references"})
KNOWN_FIELDS = frozenset(
    {
        "format", "id", "sent", "status", "category", "stage", "msgtype", "event", "references", "title",
        "text", "time", "place", "launcher", "areas", "note", "expires", "via", "receiver", "rule", "info_number",
    }
)  # fmt: skip

_KEY = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*)\s*=\s?(.*)$")
# Sniffing: the format line of a text message, or the format member of a JSON one.
TEXT_SIGNATURE = re.compile(rb"(?m)^[ \t]*format[ \t]*=[ \t]*jalert/1[ \t]*\r?$")
JSON_SIGNATURE = re.compile(rb'"format"\s*:\s*"jalert/1"')


@dataclass(frozen=True)
class Message:
    fields: dict[str, str]
    lists: dict[str, tuple[str | dict[str, str], ...]]
    # Fields we do not know (vendor additions, typos): kept out of the alert, named in its note.
    unknown: tuple[str, ...] = ()
    form: str = "text"

    def get(self, name: str) -> str | None:
        value = self.fields.get(name)
        return value if value else None

    def items(self, name: str) -> tuple[str | dict[str, str], ...]:
        return self.lists.get(name, ())


def looks_like(body: bytes, within: int = 4096) -> bool:
    head = body[:within]
    return bool(TEXT_SIGNATURE.search(head) or JSON_SIGNATURE.search(head))


def decode(body: bytes) -> str:
    if len(body) > MAX_BYTES:
        raise ParseError("too_large", f"{len(body)} bytes, limit {MAX_BYTES}")
    if not body.strip():
        raise ParseError("empty", "no content")
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return body.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ParseError("bad_encoding", "neither UTF-8 nor Shift_JIS (CP932)")


def read_message(body: bytes) -> Message:
    text = decode(body)
    if not looks_like(text.encode("utf-8"), MAX_BYTES * 2):
        # Whatever it is (noise, another format), it does not claim to be ours: say so first.
        raise ParseError("not_jalert", f"no `format = {FORMAT}` line (or JSON member)")
    message = _read_json(text) if text.lstrip()[:1] == "{" else _read_text(text)
    if normalize(message.fields.get("format", "")).lower() != FORMAT:
        raise ParseError("not_jalert", f"format is {message.fields.get('format', 'missing')!r}, expected {FORMAT}")
    return message


def _split_list(value: str) -> list[str]:
    return [p.strip() for p in re.split(r"[,、，\s]+", value) if p.strip()]


def _read_text(text: str) -> Message:
    fields: dict[str, str] = {}
    lists: dict[str, list[str | dict[str, str]]] = {}
    unknown: list[str] = []
    last: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[:1] in (" ", "\t"):
            # A folded line: the previous value goes on, on a new line (long texts).
            if last is None or last in LIST_FIELDS:
                raise ParseError("malformed_line", f"line {number}: a continuation with nothing to continue")
            fields[last] += "\n" + line.strip()
            continue
        match = _KEY.match(line)
        if match is None:
            raise ParseError("malformed_line", f"line {number}: not `key = value`: {line[:60]!r}")
        key, value = match.group(1).lower().replace("-", "_"), match.group(2).strip()
        last = key
        if key in LIST_FIELDS:
            if key == "areas":
                lists.setdefault(key, []).extend(p.strip() for p in re.split(r"[,、，]", value) if p.strip())
            else:
                lists.setdefault(key, []).extend(_split_list(value))
        elif key not in KNOWN_FIELDS:
            unknown.append(key)
            last = None
        elif key in fields:
            raise ParseError("duplicate_field", f"line {number}: {key} given twice")
        else:
            fields[key] = value
    return Message(fields, {k: tuple(v) for k, v in lists.items()}, tuple(unknown), "text")


def _read_json(text: str) -> Message:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as e:  # bad JSON, 5000-digit numbers, [[[[… (fuzzing)
        raise ParseError("malformed_json", str(e)[:300]) from e
    if not isinstance(data, dict):
        raise ParseError("malformed_json", "the message must be a JSON object")
    fields: dict[str, str] = {}
    lists: dict[str, tuple[str | dict[str, str], ...]] = {}
    unknown: list[str] = []
    for raw_key, value in data.items():
        key = str(raw_key).lower().replace("-", "_")
        if key in LIST_FIELDS:
            items = value if isinstance(value, list) else [value]
            lists[key] = tuple(_list_item(key, item) for item in items)
        elif key not in KNOWN_FIELDS:
            unknown.append(key)
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            fields[key] = str(value).strip()
        elif value is not None:
            raise ParseError("bad_field", f"{key} must be text, got {type(value).__name__}")
    return Message(fields, lists, tuple(unknown), "json")


def _list_item(key: str, item: Any) -> str | dict[str, str]:
    if isinstance(item, str | int) and not isinstance(item, bool):
        return str(item).strip()
    if key == "areas" and isinstance(item, dict):
        out = {str(k): str(v).strip() for k, v in item.items() if isinstance(v, str | int) and str(v).strip()}
        if out.get("name") or out.get("code"):
            return out
    raise ParseError("bad_field", f"{key}: each item must be text{' or {name, code}' if key == 'areas' else ''}")
