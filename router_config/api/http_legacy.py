"""``POST /v1/embeddings`` and ``POST /v1/completions``: OpenAI's bodies to request contexts.

Both are served by the same gateway flow as chat (admission, attempts,
failover, breakers, budgets, ledger, cache, logs, traces); only the call type
differs: ``embedding`` goes to embedding deployments as one whole call,
``text_completion`` to chat deployments (LiteLLM calls ``/completions`` for
completion models and translates the prompt for chat models), streamed like chat.
The answers are OpenAI's own shapes, so replies go out as they come (``respond``).
"""

from __future__ import annotations

from fastapi import Request

from router_config.api.auth import Caller
from router_config.api.http_request import new_context, read_body, resolve
from router_config.api.request_models import (
    CompletionRequest,
    EmbeddingRequest,
    validated,
)
from router_config.flow.hooks import RequestContext
from router_config.live import Generation


async def embedding_context(
    generation: Generation, request: Request, caller: Caller, now: float
) -> RequestContext:
    """Authenticate, read and validate an embeddings request."""
    asked = validated(EmbeddingRequest, await read_body(generation, request, caller))
    return _context(generation, request, caller, now, asked, "embedding", False, "embeddings")


async def completion_context(
    generation: Generation, request: Request, caller: Caller, now: float
) -> RequestContext:
    """Authenticate, read and validate a legacy text completion request."""
    asked = validated(CompletionRequest, await read_body(generation, request, caller))
    return _context(
        generation, request, caller, now, asked, "text_completion", asked.stream, "completions"
    )


def _context(
    generation: Generation,
    request: Request,
    caller: Caller,
    now: float,
    asked: EmbeddingRequest | CompletionRequest,
    call: str,
    stream: bool,
    api: str,
) -> RequestContext:
    """Both bodies carry the model, provider parameters and LiteLLM's extensions alike."""
    target = resolve(generation.config, caller, asked.model, call, request.headers)
    return new_context(
        generation,
        request,
        now,
        caller,
        target,
        call=call,
        messages=[],
        params=asked.provider_params(),
        stream=stream,
        metadata=asked.metadata,
        tags=asked.routing_tags(),
        cache=asked.cache,
        api=api,
    )
