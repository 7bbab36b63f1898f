"""Anthropic's Messages API (``POST /v1/messages``) in and out, served by the chat flow.

The body is validated against Anthropic's parameters, then translated to an
OpenAI chat request with LiteLLM's own adapter (``AnthropicAdapter``, the one
its proxy uses for non-Anthropic models), served like any chat request (so it
streams, hedges and fails over across providers: an Anthropic-format request
may be answered by an OpenAI-format fallback), and the answer translated back
with the same adapter, whole or as Anthropic's SSE events. Errors are
Anthropic-shaped (``{"type": "error", "error": {"type", "message"}}``), so the
``anthropic`` SDK raises its own typed exceptions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import orjson
from litellm.llms.anthropic.messages.adapters.transformation import AnthropicAdapter
from litellm.types.utils import ModelResponse, ModelResponseStream
from pydantic import BaseModel
from starlette.responses import Response

from router_config.api.anthropic_request import CountTokensRequest, MessagesRequest
from router_config.api.request_models import validated
from router_config.errors import InvalidRequest, RouterError

# Anthropic's error type for each status the gateway answers (Anthropic's own table).
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
}
_ADAPTER = AnthropicAdapter()


class Translated(BaseModel):
    """The chat request a Messages request became, and what translating back needs."""

    model: str
    stream: bool
    messages: list[dict[str, Any]]
    params: dict[str, Any]
    tool_names: dict[str, str]  # tool names shortened for OpenAI's 64-character limit


def translate_request(body: Any) -> Translated:
    """Validate a Messages body and translate it to chat with LiteLLM's adapter."""
    asked = validated(MessagesRequest, body)
    return _translated(asked.model_dump(exclude_none=True, exclude={"stream"}), asked.stream)


def translate_count(body: Any) -> Translated:
    """A ``count_tokens`` body as the chat request it would become (its messages and tools
    are what is counted)."""
    asked = validated(CountTokensRequest, body)
    return _translated({**asked.model_dump(exclude_none=True), "max_tokens": 1}, False)


def _translated(kwargs: dict[str, Any], stream: bool) -> Translated:
    model = str(kwargs["model"])
    try:
        chat, tool_names = _ADAPTER.translate_completion_input_params_with_tool_mapping(
            kwargs, drop_params=True
        )
    except Exception as exc:  # LiteLLM's own refusal of a malformed request
        raise InvalidRequest(f"The request cannot be translated: {exc}") from None
    if chat is None:
        raise InvalidRequest("The request cannot be translated to a chat request.")
    params = {k: v for k, v in dict(chat).items() if k not in ("model", "messages", "stream")}
    return Translated(
        model=model,
        stream=stream,
        messages=list(chat["messages"]),
        params=params,
        tool_names=tool_names,
    )


class MessagesShape:
    """Renders the chat flow's answer as Anthropic's (``http_chat.respond``'s ``shape``)."""

    media_type = "text/event-stream"

    def __init__(self, translated: Translated) -> None:
        self._t = translated

    async def body(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> Mapping[str, Any]:
        message = _ADAPTER.translate_completion_output_params(
            ModelResponse(**body), tool_name_mapping=self._t.tool_names
        )
        if message is None:
            raise InvalidRequest("The answer cannot be translated to Anthropic's format.")
        return dict(message)

    async def stream(
        self,
        chunks: AsyncIterator[dict[str, Any]],
        headers: Mapping[str, str],
        on_end: Callable[[], Awaitable[None]],
    ) -> AsyncIterator[bytes]:
        events = _ADAPTER.translate_completion_output_params_streaming(
            _model_chunks(chunks),
            model=headers.get("x-router-model") or self._t.model,
            tool_name_mapping=self._t.tool_names,
        )
        assert events is not None and not isinstance(events, list)
        try:
            async for event in events:
                yield event
        except RouterError as exc:  # after the first event: an error event ends the stream
            yield b"event: error\ndata: " + error_body(exc) + b"\n\n"
        finally:
            try:
                await events.aclose()
                await chunks.aclose()  # type: ignore[attr-defined]
            finally:
                await on_end()


async def _model_chunks(chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[Any]:
    """The chat flow's chunk dicts as LiteLLM's chunk objects, which its adapter reads."""
    async for chunk in chunks:
        yield ModelResponseStream(**chunk)


def error_body(exc: RouterError) -> bytes:
    error_type = _ERROR_TYPES.get(exc.status_code, "api_error")
    return orjson.dumps({"type": "error", "error": {"type": error_type, "message": exc.message}})


def error_response(exc: RouterError, request_id: str | None) -> Response:
    """Any gateway error as Anthropic's error JSON, with its status and headers."""
    headers = exc.headers()
    if request_id:
        headers["x-request-id"] = request_id
        headers["request-id"] = request_id  # the header the anthropic SDK reports
    return Response(
        error_body(exc),
        status_code=exc.status_code,
        media_type="application/json",
        headers=headers,
    )
