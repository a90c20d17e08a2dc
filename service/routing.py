"""Routes are declared once, with what OpenAPI needs to document them.

Each handler module lists its `Route`s; `create_app` registers them and `openapi_document`
describes them, so a route cannot exist without its documentation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from diemcau import __version__
from diemcau.api_examples import EXAMPLES, Example
from diemcau.errors import CODES

Handler = Callable[..., Awaitable[Any]]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    roles: tuple[str, ...] = ()  # empty: no token needed
    body: type[BaseModel] | None = None
    body_media: tuple[str, ...] = ()  # raw bodies (CSV, XLSX) instead of a JSON model
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    response_media: str = "application/json"
    status: int = 200
    errors: tuple[str, ...] = ()
    websocket: bool = False
    body_optional: bool = False  # a JSON body that may be left out (a heartbeat)
    # Other success statuses with the same body, and when (a replay answering 200 what
    # its first sending answered 201).
    also: dict[int, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.handler.__name__


def _template(path: str) -> str:
    """An OpenAPI path template: aiohttp's `{name:regex}` written `{name}`."""
    return re.sub(r"\{([^}:]+):[^}]*\}", r"{\1}", path)


def _path_params(path: str) -> list[dict[str, Any]]:
    params = []
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1].split(":")[0]
            params.append(
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            )
    return params


def _query_params(model: type[BaseModel], schema: dict[str, Any]) -> list[dict[str, Any]]:
    params = []
    props = schema.get("properties", {})
    for name, info in model.model_fields.items():
        params.append(
            {
                "name": info.alias or name,
                "in": "query",
                "required": info.is_required(),
                "description": info.description or "",
                "schema": props.get(info.alias or name, {}),
            }
        )
    return params


def _problem_responses(route: Route) -> dict[str, Any]:
    codes = set(route.errors) | {"internal_error"}
    if route.roles:
        codes |= {"authentication_required", "forbidden"}
    if route.body or route.body_media:
        codes |= {"validation_failed", "payload_too_large"}
    if "{" in route.path or route.query:
        # A control character in a path segment or a query parameter (app.clean_text).
        codes.add("validation_failed")
    if route.body:
        codes.add("invalid_json")
    by_status: dict[int, list[str]] = {}
    for code in sorted(codes):
        by_status.setdefault(CODES[code].status, []).append(code)
    return {
        str(status): {
            "description": "problem: " + ", ".join(names),
            "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status, names in sorted(by_status.items())
    }


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def curl_example(route: Route, example: Example) -> str:
    """The example as a command to paste into a terminal (the token from DIEMCAU_TOKEN)."""
    url = "http://127.0.0.1:8080" + example.path
    if route.websocket:
        auth = ' -H "Authorization: Bearer $DIEMCAU_TOKEN"'
        return "websocat" + auth + " " + _shell_quote(url.replace("http://", "ws://"))
    parts = ["curl"]
    if route.method != "GET":
        parts += ["-X", route.method]
    if route.roles:
        parts.append('-H "Authorization: Bearer $DIEMCAU_TOKEN"')
    if isinstance(example.request, str):
        parts += ["-H 'Content-Type: text/csv'", "--data-binary @file.csv"]
    elif example.request is not None:
        body = json.dumps(example.request, ensure_ascii=False)
        parts += ["-H 'Content-Type: application/json'", "-d", _shell_quote(body)]
    if route.response_media not in ("application/json", "text/plain"):
        parts += ["-o", example.path.rsplit("/", 1)[-1]]
    parts.append(_shell_quote(url))
    return " ".join(parts)


def _description(route: Route, example: Example | None) -> str:
    roles = ", ".join(route.roles) if route.roles else "anyone (no token)"
    text = f"**Roles:** {roles}"
    if example is not None:
        text += "\n\n**Example:**\n\n```sh\n" + curl_example(route, example) + "\n```"
    return text


def _operation(route: Route, schemas: dict[Any, Any]) -> dict[str, Any]:
    example = EXAMPLES.get(route.name)
    op: dict[str, Any] = {
        "operationId": route.name,
        "summary": route.summary,
        "description": _description(route, example),
        "tags": [route.tag],
        "x-roles": list(route.roles) or ["anyone"],
    }
    params = _path_params(route.path)
    if route.query:
        params += _query_params(route.query, schemas[(route.query, "validation")])
    if params:
        op["parameters"] = params
    if route.roles:
        op["security"] = [{"bearer": []}]
    if route.body:
        content: dict[str, Any] = {"schema": schemas[(route.body, "validation")]}
        if example is not None and example.request is not None:
            content["example"] = example.request
        required = not route.body_optional
        op["requestBody"] = {"required": required, "content": {"application/json": content}}
    elif route.body_media:
        op["requestBody"] = {
            "required": True,
            "content": {
                m: {"schema": {"type": "string", "format": "binary"}} for m in route.body_media
            },
        }
        if example is not None and isinstance(example.request, str):
            op["requestBody"]["content"]["text/csv"]["example"] = example.request
    ok: dict[str, Any] = {"description": "success"}
    if route.websocket:
        ok = {"description": "websocket upgrade; messages are described in the README"}
    elif route.response:
        answer: dict[str, Any] = {"schema": schemas[(route.response, "serialization")]}
        if example is not None and example.response is not None:
            answer["example"] = example.response
        ok["content"] = {route.response_media: answer}
    elif route.response_media != "application/json":
        ok["content"] = {route.response_media: {"schema": {"type": "string", "format": "binary"}}}
    op["responses"] = {
        str(101 if route.websocket else route.status): ok,
        **{str(status): {**ok, "description": when} for status, when in route.also.items()},
        **_problem_responses(route),
    }
    op.update(route.extra)
    return op


PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string", "enum": sorted(CODES)},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "row": {"type": "integer"},
                },
            },
        },
    },
}


def openapi_document(routes: Iterable[Route]) -> dict[str, Any]:
    """The OpenAPI 3.1 document for these routes."""
    routes = list(routes)
    models: list[tuple[type[BaseModel], Any]] = []
    for r in routes:
        for model, mode in (
            (r.body, "validation"),
            (r.query, "validation"),
            (r.response, "serialization"),
        ):
            if model is not None and (model, mode) not in models:
                models.append((model, mode))
    schemas, defs = models_json_schema(models, ref_template="#/components/schemas/{model}")
    paths: dict[str, dict[str, Any]] = {}
    for r in routes:
        paths.setdefault(_template(r.path), {})[r.method.lower()] = _operation(r, schemas)
    components = dict(defs.get("$defs", {}))
    components["Problem"] = PROBLEM_SCHEMA
    return {
        "openapi": "3.1.0",
        "info": {"title": "diemcau", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
