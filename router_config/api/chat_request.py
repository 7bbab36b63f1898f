"""Validation of a client's ``POST /v1/chat/completions`` body.

OpenAI's chat completion parameters (all of them, as the ``openai`` package
lists them) are accepted and forwarded, and LiteLLM's request extensions
(``metadata`` with ``tags``, ``tags``, ``cache``, ``thinking``). LiteLLM
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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from router_config.api.json_body import BodyLimits, check_structure
from router_config.errors import InvalidRequest

_CREDENTIALS = (
    "credentials and endpoints come only from the gateway's configuration, so a caller can "
    "neither read a provider key out nor send traffic elsewhere"
)
_ROUTING = (
    "fallbacks and retries are the gateway's configuration (router_settings.fallbacks, "
    "router_plugins.failover); a request may lower its deadline with the x-router-timeout-ms "
    "header"
)
_INTERNAL = "it is LiteLLM's internal or test-only argument, never a client's"
_PRICES = "prices come from the configuration or LiteLLM's price map, never from a caller"
# Keyword arguments LiteLLM would honour that must never come from a client, and why.
FORBIDDEN_PARAMS: dict[str, str] = {
    **dict.fromkeys(
        (
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
        ),
        _CREDENTIALS,
    ),
    **dict.fromkeys(("fallbacks", "num_retries", "timeout", "model_list"), _ROUTING),
    **dict.fromkeys(
        ("mock_response", "litellm_params", "metadata_litellm", "litellm_logging_obj"), _INTERNAL
    ),
    **dict.fromkeys(("input_cost_per_token", "output_cost_per_token"), _PRICES),
}


_NOT_FORWARDED = frozenset({"model", "messages", "stream", "metadata", "store", "tags", "cache"})


DEFAULT_LIMITS = BodyLimits()


def _integral(value: Any) -> Any:
    """JSON has one number type: ``16.0`` is the integer 16 (JSON Schema agrees), ``16.5`` is
    not. Everything else is left for strict validation to refuse ("16", true)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    return value


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
    # Bounded so a schema-valid value always parses (pydantic refuses integers of 4,300+
    # digits); no model takes more than this many output tokens.
    max_tokens: int | None = Field(default=None, ge=1, le=100_000_000)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=100_000_000)
    stop: str | list[str] | None = None  # more than 4: cut to 4, as LiteLLM does
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    seed: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)  # OpenAI's int64
    response_format: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    functions: list[dict[str, Any]] | None = None
    function_call: str | dict[str, Any] | None = None
    reasoning_effort: str | None = None
    user: str | None = Field(default=None, max_length=256)
    service_tier: str | None = None
    store: bool | None = None
    modalities: list[str] | None = None
    prediction: dict[str, Any] | None = None
    verbosity: str | None = None
    audio: dict[str, Any] | None = None
    moderation: Any = None
    prompt_cache_key: str | None = None
    prompt_cache_options: dict[str, Any] | None = None
    prompt_cache_retention: str | None = None
    safety_identifier: str | None = Field(default=None, max_length=256)
    web_search_options: dict[str, Any] | None = None
    # LiteLLM's request extensions: provider reasoning settings (Anthropic's extended thinking,
    # translated per provider), request metadata (OpenAI's shape or LiteLLM's, with "tags"),
    # routing tags, and cache controls ({"no-cache": true}, {"no-store": true},
    # {"use-cache": true}).
    thinking: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    tags: list[str] | None = None
    cache: dict[str, Any] | None = None

    _whole_numbers = field_validator(
        "n", "max_tokens", "max_completion_tokens", "top_logprobs", "seed", mode="before"
    )(_integral)

    def provider_params(self) -> dict[str, Any]:
        """Parameters to forward: everything set except model, messages, stream, and what is
        the gateway's own (metadata, tags, cache controls, store)."""
        return forwarded(self, _NOT_FORWARDED)

    def routing_tags(self) -> tuple[str, ...]:
        return routing_tags(self.tags, self.metadata)

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
                f"'{key}' cannot be set by clients: {FORBIDDEN_PARAMS[key]}.", param=key
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


def forwarded(request: BaseModel, not_forwarded: frozenset[str]) -> dict[str, Any]:
    """A request body's fields that go to the provider: every one set, except ours."""
    fields = request.model_dump(exclude_none=True)
    return {k: v for k, v in fields.items() if k not in not_forwarded}


def routing_tags(tags: list[str] | None, metadata: dict[str, Any] | None) -> tuple[str, ...]:
    """Tags for tag routing: ``tags``, then ``metadata.tags`` (LiteLLM reads both)."""
    found = list(tags or [])
    nested = (metadata or {}).get("tags")
    if isinstance(nested, list):
        found += [t for t in nested if isinstance(t, str) and t not in found]
    return tuple(found)
