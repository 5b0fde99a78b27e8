"""The API's OpenAPI 3.1 document, made from the endpoints' own declarations."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from broadcaster.web.keys import ENDPOINTS


def document(app: web.Application) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    for ep in app[ENDPOINTS].values():
        if ep.kind != "api":
            continue
        op: dict[str, Any] = {
            "summary": ep.summary,
            "operationId": ep.handler.__name__,
            "tags": list(ep.tags),
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in re.findall(r"{(\w+)}", ep.path)
            ],
            "responses": {
                "200": {"description": "OK"},
                "401": {"description": "no or bad credentials"},
                "403": {"description": "no role in this tenant, or CSRF"},
            },
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
            op["responses"]["422"] = {"description": "the body is not valid"}
        if ep.response is not None:
            schemas[ep.response.__name__] = ep.response.model_json_schema(ref_template="#/components/schemas/{model}")
            op["responses"]["202"] = {
                "description": "accepted",
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ep.response.__name__}"}}},
            }
        paths.setdefault(ep.path, {})[ep.method.lower()] = op
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
