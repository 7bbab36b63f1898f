"""OpenAI's Responses API (``POST /v1/responses``) served by the chat flow.

The request is validated against the Responses parameters, translated to a chat
request with LiteLLM's own translation (``LiteLLMCompletionResponsesConfig``, the
one LiteLLM uses for providers without a Responses API), served like any chat
request (streaming, hedging, failover across providers, pins, cost, traces),
and the answer rendered back with the same translation: a ``response`` object,
or the Responses event stream (``LiteLLMCompletionStreamingIterator``).

Covered: text and multi-part input, ``instructions``, function tools and
``tool_choice`` (built-in tools LiteLLM maps, such as web search, become chat
options; others are refused by the provider), ``function_call_output`` items,
``reasoning`` (effort; reasoning text becomes reasoning items), ``text.format``
(JSON mode and schemas), ``max_output_tokens``, ``metadata``, and
``previous_response_id``: each response is stored (unless ``store: false``) with
its turn's items, per team, with a TTL (``state/response_store``); a request that
names one continues from every earlier turn's input and output.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import orjson
from litellm.responses.litellm_completion_transformation.streaming_iterator import (
    LiteLLMCompletionStreamingIterator,
)
from litellm.responses.litellm_completion_transformation.transformation import (
    LiteLLMCompletionResponsesConfig as Bridge,
)
from litellm.types.utils import ModelResponseStream
from pydantic import BaseModel, Field

from router_config.api.http_errors import error_body
from router_config.api.request_models import validated
from router_config.api.responses_request import ResponsesRequest
from router_config.errors import InvalidRequest, ResponseNotFound, RouterError
from router_config.state.response_store import MAX_TURNS, ResponseStore

# What a translated chat request carries that the chat flow sets itself, or never sends.
_NOT_FORWARDED = frozenset(
    {"model", "messages", "stream", "stream_options", "metadata", "custom_llm_provider"}
)


class TranslatedResponses(BaseModel):
    """The chat request a Responses request became, and what rendering the answer needs."""

    model: str
    stream: bool
    store: bool
    messages: list[dict[str, Any]]
    params: dict[str, Any]
    metadata: dict[str, Any]
    items: list[Any]  # this turn's input items, as given (a string becomes a user message)
    echoed: dict[str, Any]  # the request's parameters the response object repeats
    previous: str | None = None
    ancestors: list[str] = Field(default_factory=list)


def parse_responses(body: Any) -> ResponsesRequest:
    """Validate a Responses body; refuses what this gateway cannot do rather than ignore it."""
    if isinstance(body, dict) and body.get("background"):
        raise InvalidRequest(
            "Background responses are not supported by this gateway.", param="background"
        )
    return validated(ResponsesRequest, body)


async def translate_responses(
    asked: ResponsesRequest, store: ResponseStore, team: str
) -> TranslatedResponses:
    """Translate to chat with LiteLLM's bridge, earlier turns of ``previous_response_id``
    first (as their stored input and output items)."""
    given = asked.model_dump(mode="json", by_alias=True, exclude_none=True)["input"]
    items = [{"role": "user", "content": given}] if isinstance(given, str) else given
    history, ancestors = await _history(store, team, asked.previous_response_id)
    echoed = asked.model_dump(
        mode="json", by_alias=True, exclude_none=True, exclude={"model", "input", "stream"}
    )
    try:
        chat = Bridge.transform_responses_api_request_to_chat_completion_request(
            model=asked.model,
            input=[*history, *items],
            responses_api_request=echoed,
            stream=False,
            drop_params=True,
        )
    except Exception as exc:  # LiteLLM's own refusal of a malformed input item
        raise InvalidRequest(f"The request cannot be translated: {exc}", param="input") from None
    return TranslatedResponses(
        model=asked.model,
        stream=asked.stream,
        store=asked.store is not False,
        messages=list(chat["messages"]),
        params=_chat_params(chat, asked),
        metadata=dict(asked.metadata or {}),
        items=list(items),
        echoed=echoed,
        previous=asked.previous_response_id,
        ancestors=ancestors,
    )


def _chat_params(chat: dict[str, Any], asked: ResponsesRequest) -> dict[str, Any]:
    """The translated request's parameters, and the ones LiteLLM's bridge leaves out that
    chat takes as they are."""
    params = {k: v for k, v in chat.items() if k not in _NOT_FORWARDED}
    if asked.prompt_cache_key is not None:
        params["prompt_cache_key"] = asked.prompt_cache_key
    return params


async def _history(
    store: ResponseStore, team: str, previous: str | None
) -> tuple[list[Any], list[str]]:
    """Every earlier turn's items, oldest first, and the chain of response ids."""
    if previous is None:
        return [], []
    if not store.enabled:
        raise InvalidRequest(
            "This gateway keeps no responses (router_plugins.responses.store: false): "
            "send the whole conversation as input instead.",
            param="previous_response_id",
        )
    record = await store.get(team, previous)
    if record is None:
        raise ResponseNotFound(
            f"Previous response with id '{previous}' not found.", param="previous_response_id"
        )
    chain = [*record.get("ancestors", []), previous]
    if len(chain) > MAX_TURNS:
        raise InvalidRequest(
            f"The conversation is longer than {MAX_TURNS} turns.", param="previous_response_id"
        )
    records = [*await store.get_many(team, chain[:-1]), record]
    if any(r is None for r in records):  # an earlier turn expired: the chain is incomplete
        raise ResponseNotFound(
            f"An earlier response of '{previous}' has expired.", param="previous_response_id"
        )
    return [item for r in records if r is not None for item in r["items"]], chain


class ResponsesShape:
    """Renders the chat flow's answer as a Responses ``response`` or event stream, and
    stores it for the next turn (``http_chat.respond``'s ``shape``)."""

    def __init__(self, translated: TranslatedResponses, store: ResponseStore, team: str) -> None:
        self._t = translated
        self._store = store
        self._team = team
        self.id = f"resp_{uuid.uuid4().hex}"

    async def body(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> Mapping[str, Any]:
        response = Bridge.transform_chat_completion_response_to_responses_api_response(
            request_input=self._t.items,
            responses_api_request=self._t.echoed,
            chat_completion_response=dict(body),
        )
        out = self._finished(response.model_dump(mode="json", warnings=False))
        await self._keep(out)
        return out

    def _finished(self, response: dict[str, Any]) -> dict[str, Any]:
        stored = self._t.store and self._store.enabled
        response.update(id=self.id, previous_response_id=self._t.previous, store=stored)
        response.pop("_hidden_params", None)
        return response

    async def _keep(self, response: dict[str, Any]) -> None:
        if not self._t.store or response.get("status") == "failed":
            return
        record = {
            "items": [*self._t.items, *response.get("output", [])],
            "ancestors": [*self._t.ancestors],
            "response": response,
        }
        await self._store.put(self._team, self.id, record)

    async def stream(
        self,
        chunks: AsyncIterator[dict[str, Any]],
        headers: Mapping[str, str],
        on_end: Callable[[], Awaitable[None]],
    ) -> AsyncIterator[bytes]:
        events = LiteLLMCompletionStreamingIterator(
            model=headers.get("x-router-model") or self._t.model,
            litellm_custom_stream_wrapper=_ChunkSource(chunks),
            request_input=self._t.items,
            responses_api_request=self._t.echoed,
        )
        sequence = 0
        try:
            async for event in events:
                data = event.model_dump(mode="json", exclude_none=True, warnings=False)
                if isinstance(data.get("response"), dict):
                    data["response"] = self._finished(data["response"])
                data["sequence_number"] = sequence
                sequence += 1
                if data.get("type") == "response.completed":
                    await self._keep(data["response"])
                yield _event(str(data.get("type")), data)
        except RouterError as exc:  # after the first event: an error event ends the stream
            error = orjson.loads(error_body(exc.message, exc.error_type, exc.code, None))["error"]
            yield _event(
                "error", {"type": "error", **error, "sequence_number": sequence, "error": error}
            )
        finally:
            try:
                await chunks.aclose()  # type: ignore[attr-defined]
            finally:
                await on_end()


def _event(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class _ChunkSource:
    """The chat flow's chunk dicts in the shape LiteLLM's Responses iterator reads: its own
    chunk objects, from something with ``logging_obj`` (none: the gateway logs)."""

    logging_obj = None

    def __init__(self, chunks: AsyncIterator[dict[str, Any]]) -> None:
        self._chunks = chunks

    def __aiter__(self) -> _ChunkSource:
        return self

    async def __anext__(self) -> ModelResponseStream:
        return ModelResponseStream(**(await anext(self._chunks)))

    async def aclose(self) -> None:
        await self._chunks.aclose()  # type: ignore[attr-defined]


async def stored_response(store: ResponseStore, team: str, response_id: str) -> dict[str, Any]:
    """``GET /v1/responses/{id}``: the stored response object, for its own team only."""
    record = await store.get(team, response_id)
    if record is None:
        raise ResponseNotFound(f"Response with id '{response_id}' not found.")
    response: dict[str, Any] = record["response"]
    return response
