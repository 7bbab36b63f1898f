"""Validation of a client's ``POST /v1/chat/completions`` body.

Only OpenAI's documented chat parameters are accepted and forwarded. LiteLLM
accepts far more keyword arguments than OpenAI does, among them provider
credentials and endpoints (``api_key``, ``api_base``...): a client able to set
those could read our keys out or send traffic anywhere, so they are refused by
name before anything reaches the Router.

The order is cheapest first, so a hostile body costs O(size) and no more: the
message count (one ``len``), then the structural limits of the whole body
(``json_body.check_structure``: depth, item counts, key sizes), then refused
names, and only then per-field and per-message validation. A new parameter is
one field of ``ChatRequest``.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from router_config.api.json_body import BodyLimits, check_structure
from router_config.errors import InvalidRequest

# Keyword arguments LiteLLM would honour that must never come from a client.
FORBIDDEN_PARAMS = frozenset(
    {
        "api_key",
        "api_base",
        "base_url",
        "api_version",
        "organization",
        "custom_llm_provider",
        "extra_headers",
        "headers",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_region_name",
        "vertex_credentials",
        "vertex_project",
        "azure_ad_token",
        "mock_response",
        "litellm_params",
        "model_list",
        "fallbacks",
        "num_retries",
        "timeout",
        "metadata_litellm",
        "litellm_logging_obj",
        "input_cost_per_token",
        "output_cost_per_token",
    }
)


DEFAULT_LIMITS = BodyLimits()


class Message(BaseModel):
    """One chat message; content is kept as sent (text or parts)."""

    model_config = ConfigDict(extra="allow", strict=True)

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[Any] | None = None


class ChatRequest(BaseModel):
    """OpenAI's chat completion parameters, and nothing else."""

    # strict: JSON types as sent (no 1e30 coerced into an int that breaks serialisation, no
    # "1" for 1), as OpenAI checks them.
    model_config = ConfigDict(extra="forbid", strict=True)

    model: str = Field(min_length=1, max_length=256)
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    n: int | None = Field(default=None, ge=1, le=16)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None  # more than 4: cut to 4, as LiteLLM does
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    seed: int | None = None
    response_format: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    functions: list[dict[str, Any]] | None = None
    function_call: str | dict[str, Any] | None = None
    reasoning_effort: str | None = None
    user: str | None = Field(default=None, max_length=256)
    metadata: dict[str, str] | None = None
    service_tier: str | None = None
    store: bool | None = None
    modalities: list[str] | None = None
    prediction: dict[str, Any] | None = None
    verbosity: str | None = None

    def provider_params(self) -> dict[str, Any]:
        """Parameters to forward: everything set except model, messages, stream, metadata."""
        skip = {"model", "messages", "stream", "metadata", "store"}
        return {k: v for k, v in self.model_dump(exclude_none=True).items() if k not in skip}

    def message_dicts(self) -> list[dict[str, Any]]:
        return [m.model_dump(exclude_none=True) for m in self.messages]


def parse_chat_request(
    body: Any, *, max_messages: int, limits: BodyLimits = DEFAULT_LIMITS
) -> ChatRequest:
    """Validate a decoded JSON body; errors name the offending parameter."""
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    messages = body.get("messages")
    if isinstance(messages, list) and len(messages) > max_messages:
        raise InvalidRequest(
            f"Too many messages: {len(messages)} > {max_messages}.", param="messages"
        )
    check_structure(body, limits)
    for key in body:
        if key in FORBIDDEN_PARAMS:
            raise InvalidRequest(
                f"'{key}' cannot be set by clients: provider endpoints and credentials come "
                "from the gateway's configuration.",
                param=key,
            )
    try:
        request = ChatRequest.model_validate(body)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        # A union (``stop``: text or list) reports one error per member; the one that is not
        # a plain type mismatch is about the member the caller meant.
        err = next((e for e in errors if not e["type"].endswith("_type")), errors[0])
        param = _param(err["loc"], body)
        if err["type"] == "extra_forbidden":
            raise InvalidRequest(
                f"Unrecognized request argument supplied: {param}.", param=param
            ) from None
        raise InvalidRequest(f"Invalid value for '{param}': {err['msg']}.", param=param) from None
    return request


def _param(loc: tuple[int | str, ...], body: Any) -> str | None:
    """The dotted path of an error in the body as sent, without pydantic's union-member
    tags (``stop.str``, ``content.list[...]``), which name our types, not the caller's keys."""
    path: list[str] = []
    node = body
    for part in loc:
        if (
            isinstance(part, str)
            and _TYPE_TAG.match(part)
            and not (isinstance(node, dict) and part in node)
        ):
            continue
        path.append(str(part))
        is_item = isinstance(node, list) and isinstance(part, int) and part < len(node)
        node = node[part] if is_item or (isinstance(node, dict) and part in node) else None
    return ".".join(path) or None


# How pydantic names a union's members in an error's location.
_TYPE_TAG = re.compile(r"^(str|int|float|bool|none|list|dict|literal|function|nullable)\b|\[")
