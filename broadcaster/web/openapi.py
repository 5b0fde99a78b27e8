"""The API's OpenAPI 3.1 document, made from the endpoints' own declarations.

Everything a client (and the schemathesis fuzzer, tests/integration/test_api_fuzz.py) needs to
call an operation and check the answer comes from the declaration beside the route: path and
query parameters, the body's model, the success status and media type with the response model,
and every error status the operation can answer with and what its body looks like.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from broadcaster.web.endpoints import Endpoint
from broadcaster.web.keys import ENDPOINTS

_ERRORS = {
    400: "the request is malformed (a query parameter, the body's encoding)",
    401: "no or bad credentials",
    403: "no role in this tenant, or CSRF",
    404: "no such tenant (for a token of another tenant: 403), or no such resource",
    409: "the resource is not in a state that allows this",
    413: "the body is too large",
    422: "the body is not valid",
}
# Errors come as {"error": "...", "detail": ...}; aiohttp's own 404 and 413 answer in plain text.
_PROBLEM = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "detail": {}},
}
_PLAIN = {"text/plain": {"schema": {"type": "string"}}}


def _success(ep: Endpoint) -> int:
    if ep.status is not None:
        return ep.status
    return 202 if ep.method == "POST" and ep.response is not None else 200


def _error_statuses(ep: Endpoint) -> list[int]:
    statuses = {401, 403, *ep.errors}
    if "{" in ep.path:
        statuses.add(404)
    if ep.method == "POST":
        statuses.add(409)  # a state change the resource's state does not allow (approve twice...)
    if ep.body is not None:
        statuses.update({400, 413, 422})
    if ep.query:
        statuses.add(400)
    return sorted(statuses)


def _operation(ep: Endpoint, schemas: dict[str, Any]) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in re.findall(r"{(\w+)}", ep.path)
    ]
    parameters += [{"name": name, "in": "query", "required": False, "schema": schema} for name, schema in ep.query]
    success: dict[str, Any] = {"description": "OK"}
    if ep.response is not None:
        schemas[ep.response.__name__] = ep.response.model_json_schema(ref_template="#/components/schemas/{model}")
        success["content"] = {ep.produces: {"schema": {"$ref": f"#/components/schemas/{ep.response.__name__}"}}}
    elif ep.produces == "application/json":
        success["content"] = {"application/json": {"schema": {"type": "object"}}}
    else:
        success["content"] = {ep.produces: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(_success(ep)): success}
    for status in _error_statuses(ep):
        content: dict[str, Any] = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        if status in (403, 404, 413):
            content.update(_PLAIN)
        responses[str(status)] = {"description": _ERRORS.get(status, "refused"), "content": content}
    op: dict[str, Any] = {
        "summary": ep.summary,
        "operationId": ep.handler.__name__,
        "tags": list(ep.tags),
        "parameters": parameters,
        "responses": responses,
    }
    if ep.role is not None:
        op["security"] = [{"bearer": []}, {"session": []}]
        op["x-required-role"] = ep.role.label
    if ep.body is not None:
        schemas[ep.body.__name__] = ep.body.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ep.body.__name__}"}}},
        }
    return op


def document(app: web.Application) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {"Problem": _PROBLEM}
    for ep in app[ENDPOINTS].values():
        if ep.kind != "api":
            continue
        paths.setdefault(ep.path, {})[ep.method.lower()] = _operation(ep, schemas)
    for schema in list(schemas.values()):
        schemas.update(schema.pop("$defs", {}))
    return {
        "openapi": "3.1.0",
        "info": {"title": "broadcaster API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "a per-tenant API token (bct_...)"},
                "session": {"type": "apiKey", "in": "cookie", "name": "bc_session"},
            },
        },
    }
