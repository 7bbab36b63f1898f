"""Validation of a client's ``POST /v1/chat/completions`` body.

Only OpenAI's documented chat parameters are accepted and forwarded. LiteLLM
accepts far more keyword arguments than OpenAI does, among them provider
credentials and endpoints (``api_key``, ``api_base``...): a client able to set
those could read our keys out or send traffic anywhere, so they are refused by
name before anything reaches the Router.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

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


class Message(BaseModel):
    """One chat message; content is kept as sent (text or parts)."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[Any] | None = None


class ChatRequest(BaseModel):
    """OpenAI's chat completion parameters, and nothing else."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1)
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
    stop: str | list[str] | None = None
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


def parse_chat_request(body: Any, *, max_messages: int) -> ChatRequest:
    """Validate a decoded JSON body; errors name the offending parameter."""
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
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
        err = exc.errors(include_input=False, include_url=False)[0]
        param = ".".join(str(p) for p in err["loc"]) or None
        if err["type"] == "extra_forbidden":
            raise InvalidRequest(
                f"Unrecognized request argument supplied: {param}.", param=param
            ) from None
        raise InvalidRequest(f"Invalid value for '{param}': {err['msg']}.", param=param) from None
    if len(request.messages) > max_messages:
        raise InvalidRequest(
            f"Too many messages: {len(request.messages)} > {max_messages}.", param="messages"
        )
    return request
