"""RawEvent: bytes exactly as a source delivered them, before any parser has looked at them."""

from __future__ import annotations

import hashlib
import uuid
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator

from broadcaster.model.timeutil import now

# An officer's alert (docs/manual-alerts.md): the console, the API, the scheduler and
# `broadcaster send` make raw events of this type; the manual parser reads them.
MANUAL_CONTENT_TYPE = "application/vnd.broadcaster.manual+json"


def _b64_decode(v: object) -> bytes:
    import base64

    if isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return base64.b64decode(v.encode("ascii"), validate=True)
    raise TypeError("body must be bytes or base64 text")


def _b64_encode(v: bytes) -> str:
    import base64

    return base64.b64encode(v).decode("ascii")


# Bodies may be any bytes (Shift_JIS, a broken UTF-8 sequence a fuzzer sent); JSON carries them as
# base64 so that nothing is lost before the parser decides.
Body = Annotated[bytes, PlainValidator(_b64_decode), PlainSerializer(_b64_encode, return_type=str)]


class RawEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    # The ingest adapter that took it in ("jma", "lalert", "jalert", "cap", "manual", "file").
    source: str = Field(min_length=1)
    received: AwareDatetime = Field(default_factory=now)
    content_type: str = "application/octet-stream"
    body: Body
    # Set when the source itself belongs to one tenant (an officer, a town's own L-Alert box);
    # None for shared sources such as JMA, whose telegrams are matched to tenants by area.
    tenant: str | None = None
    # Who brought it in: an officer identity ("officer:anamizu/tanaka") or a source credential.
    submitted_by: str = Field(min_length=1)
    # Where it came from: a feed entry id, a URL, a file name.
    source_ref: str | None = None

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.body).hexdigest()
