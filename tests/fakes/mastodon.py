"""A fake Mastodon server on loopback: the statuses API as Mastodon.py reaches it.

POST /api/v1/statuses (form or JSON) and DELETE /api/v1/statuses/:id with a Bearer token; an
``Idempotency-Key`` seen before answers the status it made then instead of a new one, as Mastodon
does; a reply to an unknown status is refused (404); text over the server's limit is refused (422);
every answer has X-RateLimit-Limit, -Remaining and -Reset (an ISO 8601 time), and tests can script
a 429 or a server error for the next requests.

As Mastodon does (docs.joinmastodon.org, "statuses" and "Idempotency-Key"): an idempotency key is
remembered for an hour only (`advance` moves the fake's clock); a ``language`` that is not one of
Mastodon's locales (an ISO 639 code, or one of the few regional ones such as zh-CN, zh-TW, pt-BR)
is silently replaced by the account's default language, which is what the status then carries.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from tests.fakes.loopback import Served, serve

REGIONAL = frozenset({"zh-CN", "zh-HK", "zh-TW", "zh-YUE", "pt-BR", "pt-PT", "es-AR", "es-MX", "en-GB", "fr-CA", "sr-Latn"})
KEY_LIFETIME = timedelta(hours=1)


def mastodon_locale(tag: str | None) -> bool:
    if not tag:
        return False
    return tag in REGIONAL or (tag.isalpha() and tag.islower() and 2 <= len(tag) <= 3)


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]
    status: int
    reason: str | None = None


@dataclass
class Status:
    id: str
    text: str
    in_reply_to_id: str | None
    visibility: str
    language: str | None
    deleted: bool = False


@dataclass
class FakeMastodon(Served):
    token: str = "masto-token"
    max_characters: int = 500
    requests: list[Seen] = field(default_factory=list)
    statuses: dict[str, Status] = field(default_factory=dict)
    url: str = ""
    _script: deque[tuple[int, str, dict[str, str]]] = field(default_factory=deque)
    _keys: dict[str, str] = field(default_factory=dict)
    _key_times: dict[str, datetime] = field(default_factory=dict)
    account_language: str = "en"
    clock_offset: timedelta = timedelta()
    _next: int = 110000000000000000
    _runner: web.AppRunner | None = None

    def fail_next(
        self, status: int, error: str = "scripted failure", *, headers: dict[str, str] | None = None
    ) -> None:
        self._script.append((status, error, headers or {}))

    def rate_limit_next(self, reset_in: int = 300) -> None:
        reset = (datetime.now(UTC) + timedelta(seconds=reset_in)).isoformat()
        self.fail_next(
            429,
            "Too many requests",
            headers={"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
        )

    def advance(self, delta: timedelta) -> None:
        self.clock_offset += delta

    def standing(self) -> list[Status]:
        return [s for s in self.statuses.values() if not s.deleted]

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/api/v1/statuses", self._create)
        app.router.add_delete("/api/v1/statuses/{id}", self._delete)
        app.router.add_get("/api/v1/accounts/verify_credentials", self._me)
        app.router.add_get("/api/v1/accounts/{id}/statuses", self._timeline)
        app.router.add_get("/api/v1/statuses/{id}/source", self._source)
        self._runner, self.url = await serve(app)
        return self.url

    def _answer(
        self,
        request: web.Request,
        form: dict[str, str],
        status: int,
        payload: Any,
        *,
        reason: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        self.requests.append(Seen(request.method, request.path, dict(request.headers), form, status, reason))
        limits = {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "299",
            "X-RateLimit-Reset": (datetime.now(UTC) + timedelta(minutes=5)).isoformat(),
            **(headers or {}),
        }
        return web.json_response(payload, status=status, headers=limits)

    def _refusal(self, request: web.Request, form: dict[str, str]) -> web.Response | None:
        if self._script:
            status, error, headers = self._script.popleft()
            return self._answer(request, form, status, {"error": error}, reason="scripted", headers=headers)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self._answer(
                request, form, 401, {"error": "The access token is invalid"}, reason="unauthorized"
            )
        return None

    async def _create(self, request: web.Request) -> web.Response:
        if request.content_type == "application/json":
            form = {k: str(v) for k, v in (await request.json()).items()}
        else:
            form = {k: str(v) for k, v in (await request.post()).items()}
        refused = self._refusal(request, form)
        if refused is not None:
            return refused
        key = request.headers.get("Idempotency-Key")
        now = datetime.now(UTC) + self.clock_offset
        if key is not None and key in self._keys and now - self._key_times.get(key, now) < KEY_LIFETIME:
            return self._answer(
                request, form, 200, self._json(self.statuses[self._keys[key]]), reason="idempotent_replay"
            )
        text = form.get("status", "")
        if not text or len(text) > self.max_characters:
            return self._answer(
                request, form, 422, {"error": "Validation failed: Text character limit of 500 exceeded"}
            )
        reply = form.get("in_reply_to_id")
        if reply is not None and (reply not in self.statuses or self.statuses[reply].deleted):
            return self._answer(request, form, 404, {"error": "Record not found"}, reason="reply_to_unknown")
        self._next += 1
        language = form.get("language")
        if not mastodon_locale(language):
            language = self.account_language
        status = Status(str(self._next), text, reply, form.get("visibility", "public"), language)
        self.statuses[status.id] = status
        if key is not None:
            self._keys[key] = status.id
            self._key_times[key] = now
        return self._answer(request, form, 200, self._json(status))

    async def _me(self, request: web.Request) -> web.Response:
        refused = self._refusal(request, {})
        if refused is not None:
            return refused
        return self._answer(request, {}, 200, {"id": "1", "username": "anamizu", "acct": "anamizu"})

    async def _timeline(self, request: web.Request) -> web.Response:
        refused = self._refusal(request, {})
        if refused is not None:
            return refused
        limit = min(40, int(request.query.get("limit", "20")))
        newest = sorted(self.standing(), key=lambda s: int(s.id), reverse=True)[:limit]
        return self._answer(request, {}, 200, [self._json(s) for s in newest])

    async def _source(self, request: web.Request) -> web.Response:
        refused = self._refusal(request, {})
        if refused is not None:
            return refused
        status = self.statuses.get(request.match_info["id"])
        if status is None or status.deleted:
            return self._answer(request, {}, 404, {"error": "Record not found"})
        return self._answer(request, {}, 200, {"id": status.id, "text": status.text, "spoiler_text": ""})

    async def _delete(self, request: web.Request) -> web.Response:
        refused = self._refusal(request, {})
        if refused is not None:
            return refused
        status = self.statuses.get(request.match_info["id"])
        if status is None or status.deleted:
            return self._answer(request, {}, 404, {"error": "Record not found"}, reason="not_found")
        status.deleted = True
        return self._answer(request, {}, 200, {**self._json(status), "text": status.text})

    def _json(self, s: Status) -> dict[str, Any]:
        return {
            "id": s.id,
            "uri": f"{self.url}/users/anamizu/statuses/{s.id}",
            "url": f"{self.url}/@anamizu/{s.id}",
            "created_at": datetime.now(UTC).isoformat(),
            "content": f"<p>{s.text}</p>",
            "visibility": s.visibility,
            "language": s.language,
            "in_reply_to_id": s.in_reply_to_id,
            "sensitive": False,
            "spoiler_text": "",
            "media_attachments": [],
            "mentions": [],
            "tags": [],
            "emojis": [],
            "reblogs_count": 0,
            "favourites_count": 0,
            "replies_count": 0,
            "account": {"id": "1", "username": "anamizu", "acct": "anamizu", "display_name": "穴水町"},
        }
