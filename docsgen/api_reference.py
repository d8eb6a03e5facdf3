"""The HTTP API reference, rendered offline from the FastAPI application's own OpenAPI schema: every route with
its parameters, body and responses, and every schema the routes use (the JSON record shapes of the API)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from docsgen.markdown import cell, code, table

METHODS = ("get", "post", "put", "patch", "delete")


def openapi_schema() -> dict[str, Any]:
    """Build the app on a throw-away data home (the factory opens its store and signing key) and ask it. Each
    operation gets ``x-provenance-scope``: the scope its ``require_scope`` dependency demands (None: no key)."""
    from provenance.api.app import create_app
    from provenance.settings import Settings

    with tempfile.TemporaryDirectory(prefix="provenance-docs-") as home:
        app = create_app(Settings(home=Path(home)))
        try:
            schema = app.openapi()
            scopes = route_scopes(app)
        finally:
            app.state.services.close()
    for path, method, operation in operations(schema):
        operation["x-provenance-scope"] = scopes.get((method.upper(), path))
    return schema


def route_scopes(app: Any) -> dict[tuple[str, str], str | None]:
    """(METHOD, path) -> the scope named by the route's ``require_<scope>`` dependency (provenance.api.auth)."""

    def scope_of(dependant: Any) -> str | None:
        for dependency in dependant.dependencies:
            name = getattr(dependency.call, "__name__", "")
            if name.startswith("require_"):
                return name.removeprefix("require_")
            found = scope_of(dependency)
            if found:
                return found
        return None

    scopes: dict[tuple[str, str], str | None] = {}

    def visit(routes: Any, prefix: str) -> None:
        for route in routes:
            included = getattr(route, "original_router", None)  # FastAPI >= 0.16x includes routers lazily
            if included is not None:
                context = getattr(route, "include_context", None)
                visit(included.routes, prefix + (getattr(context, "prefix", "") or ""))
                continue
            dependant = getattr(route, "dependant", None)
            if dependant is None:
                continue
            for method in getattr(route, "methods", ()) or ():
                scopes[(method, prefix + route.path)] = scope_of(dependant)

    visit(app.routes, "")
    return scopes


def schema_type(schema: dict[str, Any]) -> str:
    """A short type expression: ``VerifyResponse``, ``list[Span]``, ``string | null``, ``"a" | "b"``."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(schema_type(option) for option in schema[key])
    if "enum" in schema:
        return " | ".join(f'"{value}"' if isinstance(value, str) else str(value) for value in schema["enum"])
    if "const" in schema:
        return f'"{schema["const"]}"'
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list[{schema_type(schema.get('items', {}))}]"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"map[string, {schema_type(schema['additionalProperties'])}]"
    return str(kind)


def _limits(schema: dict[str, Any]) -> str:
    bounds = [f"{label} {schema[key]}" for key, label in (("minimum", ">="), ("exclusiveMinimum", ">"),
                                                          ("maximum", "<="), ("exclusiveMaximum", "<"),
                                                          ("minLength", "min length"), ("maxLength", "max length"),
                                                          ("minItems", "min items"), ("maxItems", "max items"))
              if key in schema]
    return ", ".join(bounds)


def render_schema(name: str, schema: dict[str, Any]) -> str:
    parts = [f"### {name}", ""]
    if schema.get("description"):
        parts += [" ".join(schema["description"].split()), ""]
    properties = schema.get("properties", {})
    if not properties:
        parts += [f"Type: {schema_type(schema)}.", ""]
        return "\n".join(parts)
    required = set(schema.get("required", []))
    rows = []
    for prop, spec in properties.items():
        default = code(json.dumps(spec["default"])) if "default" in spec else ""
        rows.append([code(prop), schema_type(spec), "yes" if prop in required else "", default,
                     " ".join(filter(None, [spec.get("description", ""), _limits(spec)]))])
    parts += [table(["field", "type", "required", "default", "meaning"], rows), ""]
    return "\n".join(parts)


def _body_type(content: dict[str, Any]) -> str:
    if not content:
        return ""
    media, spec = next(iter(content.items()))
    return f"{schema_type(spec.get('schema', {}))} ({media})"


def render_operation(path: str, method: str, operation: dict[str, Any]) -> str:
    parts = [f"### `{method.upper()} {path}`", ""]
    if operation.get("summary"):
        parts += [f"**{operation['summary']}**", ""]
    if operation.get("description"):
        parts += [operation["description"].strip(), ""]
    scope = operation.get("x-provenance-scope")
    parts += [f"Authentication: `Authorization: Bearer <key>` with the `{scope}` scope (`admin` implies it)."
              if scope else "Authentication: none.", ""]
    params = operation.get("parameters", [])
    if params:
        rows = [[code(p["name"]), p.get("in", ""), schema_type(p.get("schema", {})),
                 "yes" if p.get("required") else "", p.get("description", "")] for p in params]
        parts += [table(["parameter", "in", "type", "required", "meaning"], rows), ""]
    body = operation.get("requestBody")
    if body:
        parts += [f"Request body: {_body_type(body.get('content', {}))}.", ""]
    rows = [[code(status), cell(response.get("description", "")), _body_type(response.get("content", {}))]
            for status, response in operation.get("responses", {}).items()]
    parts += [table(["status", "meaning", "body"], rows), ""]
    return "\n".join(parts)


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, item[method]) for path, item in schema.get("paths", {}).items()
            for method in METHODS if method in item]


def render(schema: dict[str, Any] | None = None) -> str:
    schema = openapi_schema() if schema is None else schema
    info = schema.get("info", {})
    ops = operations(schema)
    index = [[code(f"{method.upper()} {path}"), code(op.get("x-provenance-scope") or "none"),
              cell(op.get("summary", ""))] for path, method, op in ops]
    parts = [
        "# HTTP API reference",
        "",
        f"Generated from the application's OpenAPI schema ({info.get('title', '')}, version "
        f"{info.get('version', '')}, OpenAPI {schema.get('openapi', '')}) at build time "
        "(`docsgen/api_reference.py`). A running server serves the same contract at `/docs`, `/redoc` and "
        "`/openapi.json` (offline: no CDN). The [verification API guide](../guides/api.md) shows it in use.",
        "",
        info.get("description", "").strip(),
        "",
        table(["route", "scope", "summary"], index),
        "",
        "## Routes",
        "",
    ]
    parts += [render_operation(path, method, op) for path, method, op in ops]
    parts += ["## Schemas", "", "The JSON shapes of requests and responses.", ""]
    for name, component in sorted(schema.get("components", {}).get("schemas", {}).items()):
        parts.append(render_schema(name, component))
    parts += ["## The raw schema", "",
              "For tools: [openapi.json](openapi.json) is the complete OpenAPI document this page was rendered from.",
              ""]
    return "\n".join(parts)
