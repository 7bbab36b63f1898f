"""The OpenAPI description of the model routes beside chat (``model_routes``).

Their bodies are read and validated by the routes themselves, so FastAPI cannot
infer them: each request schema comes from the pydantic model that validates
it, each answer has its shape, and every status a route may answer is listed
(Anthropic's route with Anthropic's error object). ``openapi`` adds these.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from router_config.api.anthropic_request import CountTokensRequest, MessagesRequest
from router_config.api.request_models import CompletionRequest, EmbeddingRequest
from router_config.api.responses_request import ResponsesRequest


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


_STRING, _INT = {"type": "string"}, {"type": "integer"}
_NULLABLE_STRING = {"type": ["string", "null"]}
SCHEMAS: dict[str, dict[str, Any]] = {
    "EmbeddingList": _object(
        ["object", "data", "model"],
        object={"const": "list"},
        data={
            "type": "array",
            "items": _object(
                ["index", "embedding"],
                object={"const": "embedding"},
                index=_INT,
                embedding={"oneOf": [{"type": "array", "items": {"type": "number"}}, _STRING]},
            ),
        },
        model=_NULLABLE_STRING,
        usage={"type": "object"},
    ),
    "TextCompletion": _object(
        ["object", "choices"],
        id=_NULLABLE_STRING,
        object={"const": "text_completion"},
        created={"type": ["integer", "null"]},
        model=_NULLABLE_STRING,
        choices={"type": "array", "items": {"type": "object"}},
        usage={"type": "object"},
    ),
    "Response": _object(
        ["id", "object", "output"],
        id=_STRING,
        object={"const": "response"},
        status=_NULLABLE_STRING,
        model=_NULLABLE_STRING,
        output={"type": "array", "items": {"type": "object"}},
        usage={"type": ["object", "null"]},
    ),
    "ResponseDeleted": _object(
        ["id", "object", "deleted"], id=_STRING, object=_STRING, deleted={"type": "boolean"}
    ),
    "AnthropicMessageResponse": _object(
        ["type", "role", "content"],
        id=_NULLABLE_STRING,
        type={"const": "message"},
        role={"const": "assistant"},
        content={"type": "array", "items": {"type": "object"}},
        model=_NULLABLE_STRING,
        stop_reason=_NULLABLE_STRING,
        usage={"type": "object"},
    ),
    "AnthropicError": _object(
        ["type", "error"],
        type={"const": "error"},
        error=_object(["type", "message"], type=_STRING, message=_STRING),
    ),
    "TokenCount": _object(["input_tokens"], input_tokens=_INT),
    "Model": _object(
        ["id", "object"], id=_STRING, object={"const": "model"}, created=_INT, owned_by=_STRING
    ),
}

_MODEL_ERRORS = {
    "400": "Invalid request, or a provider refused it as the caller's fault",
    "401": "Missing or wrong API key",
    "403": "This key may not use the model",
    "404": "Unknown model group, or one that serves another endpoint",
    "413": "Body over the size limit",
    "429": "Over a rate limit or budget (Retry-After)",
    "502": "The provider served another version (on_drift: reject)",
    "503": "Every provider failed and no cached answer exists (Retry-After)",
}
# (method, path): request model, its schema name, the 200 answer's schema, streams?, errors.
BODIES: dict[tuple[str, str], tuple[type[BaseModel], str, str, bool, dict[str, str]]] = {
    ("post", "/v1/embeddings"): (
        EmbeddingRequest,
        "EmbeddingRequest",
        "EmbeddingList",
        False,
        _MODEL_ERRORS,
    ),
    ("post", "/v1/completions"): (
        CompletionRequest,
        "CompletionRequest",
        "TextCompletion",
        True,
        _MODEL_ERRORS,
    ),
    ("post", "/v1/responses"): (
        ResponsesRequest,
        "ResponsesRequest",
        "Response",
        True,
        {**_MODEL_ERRORS, "404": "Unknown model group, or previous_response_id not found"},
    ),
    ("post", "/v1/messages"): (
        MessagesRequest,
        "MessagesRequest",
        "AnthropicMessageResponse",
        True,
        _MODEL_ERRORS,
    ),
}
COUNT_TOKENS = ("post", "/v1/messages/count_tokens")
# Routes with path parameters only: their answer and statuses.
ANSWERS: dict[tuple[str, str], tuple[str, dict[str, str]]] = {
    ("get", "/v1/models/{model_id}"): (
        "Model",
        {"401": "Missing or wrong API key", "404": "Unknown model, or one this key may not use"},
    ),
    ("get", "/v1/responses/{response_id}"): (
        "Response",
        {"401": "Missing or wrong API key", "404": "No stored response with this id for this team"},
    ),
    ("delete", "/v1/responses/{response_id}"): (
        "ResponseDeleted",
        {"401": "Missing or wrong API key", "404": "No stored response with this id for this team"},
    ),
}


def add_route_documents(schema: dict[str, Any], components: dict[str, Any]) -> None:
    """Complete ``schema`` (FastAPI's document) with the routes above."""
    components.update(SCHEMAS)
    for (method, path), (model, name, answer, streams, errors) in BODIES.items():
        request = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(request.pop("$defs", {}))
        request["properties"]["model"]["examples"] = ["chat"]
        components[name] = request
        operation = schema["paths"][path][method]
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(name)}},
        }
        content: dict[str, Any] = {"application/json": {"schema": _ref(answer)}}
        if streams:
            content["text/event-stream"] = {"schema": {"type": "string"}}
        operation["responses"] = {"200": {"description": "The answer", "content": content}}
        error = "AnthropicError" if path == "/v1/messages" else "Error"
        _add_errors(operation, errors, error)
    _add_count_tokens(schema, components)
    for (method, path), (answer, errors) in ANSWERS.items():
        operation = schema["paths"][path][method]
        operation["responses"] = {
            "200": {
                "description": "The answer",
                "content": {"application/json": {"schema": _ref(answer)}},
            }
        }
        _add_errors(operation, errors, "Error")


def _add_count_tokens(schema: dict[str, Any], components: dict[str, Any]) -> None:
    request = CountTokensRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(request.pop("$defs", {}))
    request["properties"]["model"]["examples"] = ["chat"]
    components["CountTokensRequest"] = request
    method, path = COUNT_TOKENS
    operation = schema["paths"][path][method]
    operation["requestBody"] = {
        "required": True,
        "content": {"application/json": {"schema": _ref("CountTokensRequest")}},
    }
    content = {"application/json": {"schema": _ref("TokenCount")}}
    operation["responses"] = {"200": {"description": "The prompt's tokens", "content": content}}
    errors = {k: v for k, v in _MODEL_ERRORS.items() if k in ("400", "401", "403", "404", "413")}
    _add_errors(operation, errors, "AnthropicError")


def _add_errors(operation: dict[str, Any], errors: dict[str, str], error: str) -> None:
    for status, description in errors.items():
        operation["responses"][status] = {
            "description": description,
            "content": {"application/json": {"schema": _ref(error)}},
        }
