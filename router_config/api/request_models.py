"""Validation of the bodies of ``/v1/embeddings`` and ``/v1/completions``.

OpenAI's parameters of each endpoint, and LiteLLM's request extensions
(``metadata`` with ``tags``, ``tags``, ``cache``), nothing else: as for chat
(``chat_request``), credentials, endpoints and LiteLLM's internal arguments are
refused by name, and every other unknown parameter is named in the error.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from router_config.api.chat_request import FORBIDDEN_PARAMS, forwarded, routing_tags
from router_config.errors import InvalidRequest


# A token id, and the token arrays OpenAI accepts as an embedding input or a prompt.
def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a token id is an integer, not a boolean")
    return value


# A token id: JSON Schema's integer (2.0 included), never a boolean.
Token = Annotated[int, Field(ge=0, le=10_000_000), BeforeValidator(_not_bool)]
MAX_INPUTS = 2048  # OpenAI's limit on inputs per embeddings request
_NOT_FORWARDED = frozenset({"model", "stream", "metadata", "tags", "cache"})

Model = TypeVar("Model", bound=BaseModel)


class _Extensions(BaseModel):
    """LiteLLM's request extensions every endpoint accepts (as chat does)."""

    model_config = ConfigDict(extra="forbid")

    metadata: dict[str, Any] | None = None
    tags: list[str] | None = None
    cache: dict[str, Any] | None = None

    def provider_params(self) -> dict[str, Any]:
        """Everything set except the model, the stream flag and the gateway's own fields."""
        return forwarded(self, _NOT_FORWARDED)

    def routing_tags(self) -> tuple[str, ...]:
        return routing_tags(self.tags, self.metadata)


# An input or prompt: a string, strings, one token array, or token arrays; never empty.
Text = Annotated[str, Field(min_length=1)]
Input = (
    Text
    | Annotated[list[Text], Field(min_length=1, max_length=MAX_INPUTS)]
    | Annotated[list[Token], Field(min_length=1)]
    | Annotated[
        list[Annotated[list[Token], Field(min_length=1)]],
        Field(min_length=1, max_length=MAX_INPUTS),
    ]
)


class EmbeddingRequest(_Extensions):
    """OpenAI's ``POST /v1/embeddings`` body."""

    model: str = Field(min_length=1)
    input: Input
    dimensions: int | None = Field(default=None, ge=1, le=65_536)
    encoding_format: Literal["float", "base64"] | None = None
    user: str | None = Field(default=None, max_length=256)


class CompletionRequest(_Extensions):
    """OpenAI's ``POST /v1/completions`` body (legacy text completions)."""

    model: str = Field(min_length=1)
    prompt: Input
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    best_of: int | None = Field(default=None, ge=1, le=20)
    echo: bool | None = None
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    logit_bias: dict[str, float] | None = None
    logprobs: int | None = Field(default=None, ge=0, le=5)
    max_tokens: int | None = Field(default=None, ge=0, le=100_000_000)
    n: int | None = Field(default=None, ge=1, le=16)
    seed: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)
    stop: str | list[str] | None = None
    suffix: str | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    user: str | None = Field(default=None, max_length=256)


def validated(kind: type[Model], body: Any) -> Model:
    """``body`` as ``kind``; errors name the offending parameter, credentials are refused."""
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    for key in body:
        if key in FORBIDDEN_PARAMS:
            raise InvalidRequest(
                f"'{key}' cannot be set by clients: {FORBIDDEN_PARAMS[key]}.", param=key
            )
    try:
        return kind.model_validate(body)
    except ValidationError as exc:
        err = exc.errors(include_input=False, include_url=False)[0]
        param = ".".join(str(p) for p in err["loc"]) or None
        if err["type"] == "extra_forbidden":
            raise InvalidRequest(
                f"Unrecognized request argument supplied: {param}.", param=param
            ) from None
        raise InvalidRequest(f"Invalid value for '{param}': {err['msg']}.", param=param) from None
