"""The OpenAPI document: what each route accepts and every status it may answer.

The chat route reads its body itself (size limit first, then our own
validation with OpenAI-style errors), so FastAPI cannot infer its schema; it
is added here from ``ChatRequest``. Every error any route returns is the
OpenAI error object, and validation errors are 400 (not FastAPI's 422). The
schema test (schemathesis) holds the app to this document.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from router_config.api.chat_request import ChatRequest
from router_config.api.openapi_routes import add_route_documents

ERROR = {"$ref": "#/components/schemas/Error"}
_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}
_COMPLETION_SCHEMA = {
    "type": "object",
    "required": ["object", "model", "choices"],
    "properties": {
        "id": {"type": ["string", "null"]},
        "object": {"const": "chat.completion"},
        "created": {"type": ["integer", "null"]},
        "model": {"type": ["string", "null"]},
        "choices": {"type": "array", "items": {"type": "object"}},
        "usage": {"type": "object"},
        "system_fingerprint": {"type": ["string", "null"]},
    },
}
# Statuses each route may answer besides 200, by (method, path).
_ERRORS = {
    ("post", "/v1/chat/completions"): {
        "400": "Invalid request, or a provider refused it as the caller's fault",
        "401": "Missing or wrong API key",
        "403": "This key may not use the model",
        "404": "Unknown model group or pinned version",
        "413": "Body over the size limit",
        "429": "Over a rate limit, a budget or the key's requests in flight (Retry-After)",
        "502": "The provider served another version (on_drift: reject)",
        "503": "Every provider failed and no cached answer exists, or the gateway is at "
        "capacity (Retry-After)",
    },
    ("get", "/v1/models"): {"401": "Missing or wrong API key"},
    ("get", "/health/readiness"): {"503": "Redis configured but unreachable"},
    ("get", "/health/providers"): {"401": "Missing or wrong key", "403": "Not the master key"},
    ("get", "/admin/spend"): {
        "400": "Unknown period",
        "401": "Missing or wrong key",
        "403": "Not the master key",
    },
    ("post", "/admin/reload"): {
        "409": "The config file is invalid (or there is none); the old config keeps serving",
        "401": "Missing or wrong key",
        "403": "Not the master key",
    },
}


def install_openapi(app: FastAPI) -> None:
    """Replace FastAPI's inferred document with the completed one."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _complete(
                get_openapi(title=app.title, version=app.version, routes=app.routes)
            )
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def _complete(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    request = ChatRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(request.pop("$defs", {}))
    request["properties"]["model"]["examples"] = ["chat"]
    components.update(ChatRequest=request, Error=_ERROR_SCHEMA, ChatCompletion=_COMPLETION_SCHEMA)
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    chat = schema["paths"]["/v1/chat/completions"]["post"]
    chat["requestBody"] = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ChatRequest"}}},
    }
    chat["responses"]["200"] = {
        "description": "The completion, or with stream: true its SSE chunks",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ChatCompletion"}},
            "text/event-stream": {"schema": {"type": "string"}},
        },
    }
    add_route_documents(schema, components)  # embeddings, completions, responses, messages...
    for (method, path), errors in _ERRORS.items():
        responses = schema["paths"][path][method]["responses"]
        responses.pop("422", None)
        for status, description in errors.items():
            responses[status] = {
                "description": description,
                "content": {"application/json": {"schema": ERROR}},
            }
    return schema
