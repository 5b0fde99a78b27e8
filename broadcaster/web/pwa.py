"""The residents' web app (PWA) at /app/<tenant>/: current alerts, offline too, and push sign-up.

The page, its script, styles, manifest and service worker are public. The resident chooses
districts, a language and topics; the browser subscribes with the town's VAPID public key and
POSTs the PushSubscription here. It is checked strictly (adapters/outbound/app_push/subscription.py:
the endpoint must be a known push service, the keys real P-256 / 16-byte values), rate-limited per
address, and stored as a subscriber with an ``app_push`` endpoint through the audience store.
The answer carries a registration id (random, unguessable) the app keeps to change or end the
sign-up; ending it deletes the person (Audiences.leave).
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from broadcaster import registry, safety_links
from broadcaster.audience import TOPICS
from broadcaster.channels import DeviceSubscriptions
from broadcaster.coverage import marks, safety
from broadcaster.errors import ConfigError
from broadcaster.logging import get_logger
from broadcaster.model import now
from broadcaster.render.languages import EASY_JA, JA, LANGUAGES, SUPPORTED, canonical
from broadcaster.store.audiences import Audiences
from broadcaster.web import pwa_text
from broadcaster.web.endpoints import Endpoints
from broadcaster.web.keys import CONTEXT, PWA_LIMITER
from broadcaster.web.ratelimit import RateLimiter

log = get_logger(__name__)
pwa = Endpoints()

_FILES = Path(__file__).parent / "pwa"
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(_FILES)),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
CHANNEL = "app_push"
MAX_BODY = 8 * 1024
_REGISTRATION = re.compile(r"^app-[0-9a-f]{32}$")


def _limiter(request: web.Request) -> RateLimiter:
    return request.app[PWA_LIMITER]


def _push_channel() -> DeviceSubscriptions:
    """The app-push channel's side of sign-ups, found like every adapter, by its entry point."""
    channel: DeviceSubscriptions = registry.load(registry.CHANNELS, CHANNEL)
    return channel


def subscription_address(request: web.Request, tenant: str, data: dict[str, Any]) -> str:
    """The address of the push subscription in an app's request; ValueError when it is not one
    the town's channel may keep."""
    options = request.app[CONTEXT].settings.channel(tenant, CHANNEL).options
    return _push_channel().subscription_address(data.get("subscription"), options)


def public_key(request: web.Request, tenant: str) -> str | None:
    """The town's applicationServerKey, or None when push is not set up for it."""
    cfg = request.app[CONTEXT].settings.channel(tenant, CHANNEL)
    explicit = cfg.options.get("vapid_public_key")
    if explicit:
        return str(explicit)
    secret = cfg.credentials.get("vapid_private_key")
    if secret is None or not cfg.enabled:
        return None
    try:
        return _push_channel().application_server_key(secret.get_secret_value())
    except ConfigError:
        log.error("vapid_key_unusable", tenant=tenant)
        return None


def _tenant(request: web.Request) -> Any:
    tenant = request.app[CONTEXT].settings.tenants.get(request.match_info["tenant"])
    if tenant is None:
        raise web.HTTPNotFound(text="no such town")
    return tenant


def _error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


# -- the app itself ------------------------------------------------------------------------------


@pwa.route("GET", "/app/{tenant}", role=None, kind="public", summary="The residents' app (adds the slash)")
async def app_home(request: web.Request) -> web.StreamResponse:
    tenant = _tenant(request)
    raise web.HTTPMovedPermanently(f"/app/{tenant.id}/")


@pwa.route(
    "GET", "/app/{tenant}/", role=None, kind="public", summary="The residents' app: alerts and notifications"
)
async def app_page(request: web.Request) -> web.StreamResponse:
    tenant = _tenant(request)
    # The reader's language first: ?lang= (the app adds the resident's choice), else the browser's.
    lang = pwa_text.chosen(request.query.get("lang"), request.headers.get("Accept-Language"))
    t = pwa_text.words(lang)
    page = _env.get_template("index.html").render(
        tenant=tenant,
        lang=lang,
        t=t,
        words_json=json.dumps(dict(t), ensure_ascii=False),
        town=tenant.name if lang in (JA, EASY_JA) or not tenant.name_en else tenant.name_en,
        districts=[
            {"id": d.id, "label": pwa_text.district_name(d.name, d.name_en, lang)} for d in tenant.districts
        ],
        vapid=public_key(request, tenant.id) or "",
        languages=LANGUAGES,
        topics=[(topic, pwa_text.topic_name(topic, lang)) for topic in TOPICS],
        answers={value: pwa_text.answer_name(value, label, lang) for value, label in safety.ANSWERS.items()},
        alerts_url=f"/site/{tenant.id}/api/alerts.json",
        # The site's pages in the reader's language: every language the app speaks has them.
        site_url=f"/site/{tenant.id}/" + ("" if lang == JA else f"{lang}/"),
    )
    return web.Response(
        text=page,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-cache", "Vary": "Accept-Language"},
    )


def _asset(name: str, content_type: str) -> web.Response:
    return web.Response(
        body=(_FILES / name).read_bytes(),
        content_type=content_type,
        charset="utf-8",
        # The service worker keeps its own copy for offline use; the browser re-checks each time.
        headers={"Cache-Control": "no-cache"},
    )


@pwa.route("GET", "/app/{tenant}/sw.js", role=None, kind="public", summary="The app's service worker")
async def app_worker(request: web.Request) -> web.StreamResponse:
    _tenant(request)
    return _asset("sw.js", "text/javascript")


@pwa.route("GET", "/app/{tenant}/app.js", role=None, kind="public", summary="The app's script")
async def app_script(request: web.Request) -> web.StreamResponse:
    _tenant(request)
    return _asset("app.js", "text/javascript")


@pwa.route("GET", "/app/{tenant}/app.css", role=None, kind="public", summary="The app's styles")
async def app_styles(request: web.Request) -> web.StreamResponse:
    _tenant(request)
    return _asset("app.css", "text/css")


@pwa.route("GET", "/app/{tenant}/icon.svg", role=None, kind="public", summary="The app's icon")
async def app_icon(request: web.Request) -> web.StreamResponse:
    _tenant(request)
    return _asset("icon.svg", "image/svg+xml")


@pwa.route(
    "GET", "/app/{tenant}/manifest.webmanifest", role=None, kind="public", summary="The app's manifest"
)
async def app_manifest(request: web.Request) -> web.StreamResponse:
    tenant = _tenant(request)
    manifest = {
        "name": f"{tenant.name} 防災アプリ",
        "short_name": tenant.name,
        "lang": "ja",
        "start_url": f"/app/{tenant.id}/",
        "scope": f"/app/{tenant.id}/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#0b3d6e",
        "icons": [{"src": "icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any"}],
    }
    return web.Response(
        text=json.dumps(manifest, ensure_ascii=False),
        content_type="application/manifest+json",
        charset="utf-8",
    )


# -- sign-up ---------------------------------------------------------------------------------------


async def _body(request: web.Request) -> dict[str, Any] | web.Response:
    wait = _limiter(request).wait(request.remote or "unknown")
    if wait:
        return _error(429, "too many requests; try again later", **{"Retry-After": str(int(wait) + 1)})
    if request.content_length is not None and request.content_length > MAX_BODY:
        return _error(413, "request too large")
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        return _error(413, "request too large")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # also 5000-digit numbers and [[[[… nesting
        return _error(400, "the body must be JSON")
    if not isinstance(data, dict):
        return _error(400, "the body must be a JSON object")
    return data


def _choices(data: dict[str, Any], districts: set[str]) -> tuple[list[str], str, list[str]] | str:
    chosen = data.get("districts", [])
    if not isinstance(chosen, list) or len(chosen) > 50 or not all(isinstance(d, str) for d in chosen):
        return "districts must be a list of district ids"
    unknown = [d for d in chosen if d not in districts]
    if unknown:
        return f"unknown districts: {', '.join(unknown[:5])}"
    language = data.get("language", "ja")
    if not isinstance(language, str) or canonical(language) not in SUPPORTED:
        return "language is not one the town writes in"
    topics = data.get("topics", [])
    if not isinstance(topics, list) or not all(isinstance(t, str) and t in TOPICS for t in topics):
        return f"topics must be among {', '.join(TOPICS)}"
    return sorted(set(chosen)), canonical(language), sorted(set(topics))


@pwa.route(
    "POST", "/app/{tenant}/subscriptions", role=None, kind="public", summary="Sign up for push notifications"
)
async def subscribe(request: web.Request) -> web.StreamResponse:
    tenant = _tenant(request)
    data = await _body(request)
    if isinstance(data, web.Response):
        return data
    if public_key(request, tenant.id) is None:
        return _error(503, "notifications are not set up for this town")
    who = _identity(request, tenant.id, data, {"subscription", "districts", "language", "topics", "id"})
    if isinstance(who, web.Response):
        return who
    address, previous = who
    choices = _choices(data, {d.id for d in tenant.districts})
    if isinstance(choices, str):
        return _error(400, choices)
    districts, language, topics = choices
    audiences = Audiences(request.app[CONTEXT].ledger.db)
    if previous:
        await audiences.leave(tenant.id, previous)
    # The same browser signing up again (after clearing its storage) replaces its old sign-up.
    await audiences.remove_endpoint(tenant.id, CHANNEL, address)
    registration = f"app-{secrets.token_hex(16)}"
    await audiences.add(
        tenant.id,
        kind="resident",
        language=language,
        districts=districts,
        topics=topics,
        endpoints={CHANNEL: address},
        external_ref=registration,
    )
    return web.json_response(
        {"id": registration, "districts": districts, "language": language, "topics": topics}, status=201
    )


def _identity(
    request: web.Request, tenant: str, data: dict[str, Any], allowed: set[str]
) -> tuple[str, str | None] | web.Response:
    """(push address, registration id if sent) of a request from the app, or the error to answer.

    Every call the app makes proves who it is the same way: only known fields, a push subscription
    checked as strictly as at sign-up, and a well-formed registration id where it sends one.
    """
    unknown = set(data) - allowed
    if unknown:
        return _error(400, f"unknown fields: {', '.join(sorted(unknown))}")
    try:
        address = subscription_address(request, tenant, data)
    except ValueError as e:
        return _error(400, f"subscription: {e}")
    registration = data.get("id")
    if registration is not None and (
        not isinstance(registration, str) or not _REGISTRATION.fullmatch(registration)
    ):
        return _error(400, "id is not a registration id")
    return address, registration


@pwa.route(
    "POST", "/app/{tenant}/subscriptions/delete", role=None, kind="public", summary="End push notifications"
)
async def unsubscribe(request: web.Request) -> web.StreamResponse:
    tenant = _tenant(request)
    data = await _body(request)
    if isinstance(data, web.Response):
        return data
    who = _identity(request, tenant.id, data, {"subscription", "id"})
    if isinstance(who, web.Response):
        return who
    address, registration = who
    audiences = Audiences(request.app[CONTEXT].ledger.db)
    removed = await audiences.remove_endpoint(tenant.id, CHANNEL, address)
    left = await audiences.leave(tenant.id, registration) if registration and removed else False
    return web.json_response({"removed": removed, "left": left})


# -- what the app reports back (docs/coverage.md) ------------------------------------------------
# The app proves who it is the way it signs up and leaves: with its push subscription (checked as
# strictly as at sign-up) and, where it has it, its registration id. The service worker, which
# reports an opened notification, cannot read the page's storage and so sends the subscription
# alone; a safety answer, which stands for the whole household, needs both.


async def _sender(
    request: web.Request, data: dict[str, Any], allowed: set[str], *, need_id: bool
) -> tuple[Any, str, str | None, Any] | web.Response:
    """(town, roster id, household, alert) of an app report, or the error to answer."""
    tenant = _tenant(request)
    ctx = request.app[CONTEXT]
    who = _identity(request, tenant.id, data, allowed)
    if isinstance(who, web.Response):
        return who
    address, registration = who
    if need_id and registration is None:
        return _error(400, "id is required")
    alert_id = data.get("alert")
    if not isinstance(alert_id, str) or not 0 < len(alert_id) <= 200:
        return _error(400, "alert must be an alert id")
    person = await safety.person_of(ctx.ledger.db, tenant.id, CHANNEL, address)
    # Another app's registration id with this subscription is no one: the same answer as unknown.
    if person is None or (registration is not None and person[0] != registration):
        return _error(404, "no sign-up with this subscription")
    alert = await ctx.ledger.alert(tenant.id, alert_id)
    if alert is None or now() - alert.sent > timedelta(days=ctx.settings.coverage.safety_days):
        return _error(404, "no such recent alert")
    return tenant, person[0], person[1], alert


@pwa.route(
    "POST", "/app/{tenant}/opened", role=None, kind="public", summary="The app reports a notification opened"
)
async def app_opened(request: web.Request) -> web.StreamResponse:
    data = await _body(request)
    if isinstance(data, web.Response):
        return data
    found = await _sender(request, data, {"subscription", "id", "alert"}, need_id=False)
    if isinstance(found, web.Response):
        return found
    tenant, person, household, alert = found
    key = marks.household_key(person, household)
    new = await marks.mark(
        request.app[CONTEXT].ledger.db,
        tenant.id,
        alert.identifier,
        key,
        "app_open",
        actor=f"resident:{person}",
    )
    return web.json_response({"recorded": new})


@pwa.route(
    "POST",
    "/app/{tenant}/safety",
    role=None,
    kind="public",
    summary="A resident's safety answer from the app: 無事, 支援が必要 or 避難済み, and a note",
)
async def app_safety(request: web.Request) -> web.StreamResponse:
    data = await _body(request)
    if isinstance(data, web.Response):
        return data
    found = await _sender(request, data, {"subscription", "id", "alert", "answer", "note"}, need_id=True)
    if isinstance(found, web.Response):
        return found
    tenant, person, household, alert = found
    if not safety_links.asks(alert):
        return _error(404, "this alert asks no safety answer")
    answer, note = data.get("answer"), data.get("note")
    if not isinstance(answer, str) or answer not in safety.ANSWERS:
        return _error(400, f"answer must be one of {', '.join(safety.ANSWERS)}")
    if note is not None and not isinstance(note, str):
        return _error(400, "note must be text")
    got = await safety.record(
        request.app[CONTEXT].ledger.db,
        tenant.id,
        alert.identifier,
        person,
        household,
        answer,
        note,
        via="app",
    )
    log.info("safety_answered", tenant=tenant.id, via="app", outcome=got.outcome)
    return web.json_response({"outcome": got.outcome, "answer": answer})
