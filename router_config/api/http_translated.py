"""``POST /v1/messages`` (Anthropic) and ``POST /v1/responses`` (OpenAI): chat requests inside.

Each is read like any model request (``http_request``: authentication, body
limit, model resolution, permissions), translated to a chat request with
LiteLLM's own translations, and served by the chat flow, so it gets every
deployment of the group, failover across providers, pins, cost, ledger, logs and
traces exactly as chat does. The answer is rendered back by the API's shape.
"""

from __future__ import annotations

from typing import Any

import litellm
from fastapi import Request

from router_config.api.anthropic_messages import MessagesShape, translate_count, translate_request
from router_config.api.auth import Caller
from router_config.api.http_request import new_context, read_body, resolve
from router_config.api.responses_api import (
    ResponsesShape,
    parse_responses,
    translate_responses,
)
from router_config.flow.hooks import RequestContext
from router_config.live import Generation


async def messages_context(
    generation: Generation, request: Request, caller: Caller, now: float
) -> tuple[RequestContext, MessagesShape]:
    """An Anthropic Messages request as a chat request, and how to answer it."""
    body = await read_body(generation, request, caller)
    translated = translate_request(body)
    target = resolve(generation.config, caller, translated.model, "chat", request.headers)
    ctx = new_context(
        generation,
        request,
        now,
        caller,
        target,
        call="chat",
        messages=translated.messages,
        params=_with_usage(translated.params, translated.stream),
        stream=translated.stream,
        api="messages",
    )
    return ctx, MessagesShape(translated)


async def responses_context(
    generation: Generation, request: Request, caller: Caller, now: float
) -> tuple[RequestContext, ResponsesShape]:
    """A Responses API request as a chat request (earlier turns of ``previous_response_id``
    included), and how to answer it (and store it, for the next turn)."""
    body = await read_body(generation, request, caller)
    asked = parse_responses(body)
    target = resolve(generation.config, caller, asked.model, "chat", request.headers)
    store = generation.gateway.responses
    translated = await translate_responses(asked, store, caller.team)
    ctx = new_context(
        generation,
        request,
        now,
        caller,
        target,
        call="chat",
        messages=translated.messages,
        params=_with_usage(translated.params, translated.stream),
        stream=translated.stream,
        metadata=translated.metadata,
        api="responses",
    )
    return ctx, ResponsesShape(translated, store, caller.team)


def _with_usage(params: dict[str, Any], stream: bool) -> dict[str, Any]:
    """Both APIs end a stream with its usage, so the chat stream must carry it."""
    return {**params, "stream_options": {"include_usage": True}} if stream else dict(params)


async def count_tokens(generation: Generation, request: Request, caller: Caller) -> dict[str, int]:
    """Anthropic's ``count_tokens``: the prompt's tokens by LiteLLM's tokenizer for the model
    the group would try first (an estimate where the provider's tokenizer is not public)."""
    body = await read_body(generation, request, caller)
    translated = translate_count(body)
    target = resolve(generation.config, caller, translated.model, "chat", request.headers)
    plan = generation.gateway.planner.plan(target.group)
    model = plan[0].pinned_model if plan else translated.model
    tokens = litellm.token_counter(
        model=model, messages=translated.messages, tools=translated.params.get("tools")
    )
    return {"input_tokens": int(tokens)}
