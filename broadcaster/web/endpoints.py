"""Every endpoint declares who may call it; the auth middleware enforces what is declared.

Keeping the rule beside the route (not scattered through handlers) lets one test walk every
endpoint × role × tenant and prove that nothing is reachable that should not be.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel

from broadcaster.store.users import Role

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Kind = Literal["page", "api", "public", "hook"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    # None: anyone (public pages, health, signed webhooks that authenticate themselves).
    role: Role | None
    kind: Kind
    summary: str
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    tags: tuple[str, ...] = ()
    # For the OpenAPI document (broadcaster/web/openapi.py): query parameters (name, JSON schema),
    # the error statuses the handler itself answers with (404 is implied by path parameters), and
    # the media type of a successful answer.
    query: tuple[tuple[str, dict[str, Any]], ...] = ()
    errors: tuple[int, ...] = ()
    produces: str = "application/json"
    # The status of a successful answer; None: 202 for a POST that declares a response, else 200.
    status: int | None = None

    @property
    def tenant_scoped(self) -> bool:
        return "{tenant}" in self.path


@dataclass
class Endpoints:
    items: list[Endpoint] = field(default_factory=list)

    def route(
        self,
        method: str,
        path: str,
        *,
        role: Role | None,
        kind: Kind,
        summary: str,
        body: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        tags: tuple[str, ...] = (),
        query: tuple[tuple[str, dict[str, Any]], ...] = (),
        errors: tuple[int, ...] = (),
        produces: str = "application/json",
        status: int | None = None,
    ) -> Callable[[Handler], Handler]:
        def decorate(fn: Handler) -> Handler:
            self.items.append(
                Endpoint(method, path, fn, role, kind, summary, body, response, tags, query, errors, produces, status)
            )
            return fn

        return decorate

    def register(self, app: web.Application, registry: dict[Any, Endpoint]) -> None:
        for ep in self.items:
            route = app.router.add_route(ep.method, ep.path, ep.handler)
            registry[route] = ep
