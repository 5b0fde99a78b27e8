"""Writing jalert/1 messages (docs/jalert.md, *The input format*) on the bridge's side.

The mail intake and the contact outputs turn what the receiver did into the one format the
broadcaster reads from this bridge, so everything after the spool is the same for a file, a
mail and a contact.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from adapters.ingest.jalert.vocabulary import FORMAT


def _fold(value: str) -> str:
    # A value goes on over lines that start with a space (the format's continuation).
    lines = [line.strip() for line in value.replace("\r", "").split("\n")]
    lines = [line for line in lines if line]
    return "\n ".join(lines)


def jalert_text(fields: Mapping[str, str | None], *, comment: str | None = None) -> bytes:
    """One message in the text form; fields that are None or empty are left out."""
    out = [f"# {comment}"] if comment else []
    out.append(f"format = {FORMAT}")
    for key, value in fields.items():
        if value is None or not str(value).strip():
            continue
        out.append(f"{key} = {_fold(str(value))}")
    return ("\n".join(out) + "\n").encode("utf-8")


def iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds")
