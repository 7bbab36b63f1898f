"""An Anthropic stream as the OpenAI-shaped chunk dicts LiteLLM's Router yields for it.

LiteLLM's ``ModelResponseIterator`` (its Anthropic handler's own parser) translates each
event: text deltas, the finish reason, usage with cache reads and writes. What the Router
adds on top is its ``CustomStreamWrapper``; for the text answers a direct call carries
(see ``direct_anthropic``) that comes down to a few visible rules, repeated here without
its per-chunk logging and accounting:

* chunks with nothing to say (``message_start``, block starts and stops) are dropped;
* the first chunk with content carries ``role: assistant``;
* the finish reason goes out on a chunk with an empty delta; a stream that ends, cleanly
  or not, before Anthropic's ``message_delta`` is an error (the Router's
  ``stream_interrupted``), never a short answer passed off as whole;
* usage is held back and sent last, on a chunk with no choices, named after the
  requested model (the Router's usage chunk has no served model of its own).

tests/test_direct_anthropic_calls_match_litellm.py compares the two paths' chunks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, NoReturn

import aiohttp
from litellm.litellm_core_utils.exception_mapping_utils import exception_type
from litellm.llms.anthropic.chat.handler import ModelResponseIterator
from litellm.types.utils import ModelResponseStream

from router_config.providers.sse_reader import StreamError, line_blocks

_BROKEN = (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError)


async def openai_chunks(reply: aiohttp.ClientResponse, model: str) -> AsyncIterator[dict[str, Any]]:
    """Chunk dicts from ``reply``; the connection goes back to the pool however it ends."""
    parser = ModelResponseIterator(
        streaming_response=_lines(reply), sync_stream=False, json_mode=False
    )
    base: dict[str, Any] = {"object": "chat.completion.chunk"}
    usage: dict[str, Any] | None = None
    finish: str | None = None
    first = True
    try:
        try:
            async for part in parser:
                if not isinstance(part, ModelResponseStream):
                    continue  # event names and blank lines
                base = {"id": part.id, "created": part.created, "model": part.model, **base}
                found = getattr(part, "usage", None)
                if found is not None:
                    usage = found.model_dump(exclude_none=True)
                choice = part.choices[0] if part.choices else None
                text = getattr(getattr(choice, "delta", None), "content", None)
                if text:
                    delta = {"content": text, "role": "assistant"} if first else {"content": text}
                    first = False
                    yield {**base, "choices": [{"index": 0, "delta": delta}]}
                if choice is not None and choice.finish_reason and finish is None:
                    finish = str(choice.finish_reason)
                    yield {**base, "choices": [{"finish_reason": finish, "index": 0, "delta": {}}]}
        except _BROKEN:
            if finish is None:
                raise
        except Exception as exc:
            raise_as_litellm(model, exc)
        if finish is None and "id" not in base:  # not one event: not an Anthropic stream
            raise StreamError("the provider's answer was not an Anthropic event stream")
        if finish is None:  # the body ended before Anthropic's message_delta: cut short
            raise aiohttp.ClientPayloadError("the stream ended before Anthropic's message_delta")
        if usage is not None:
            yield {**base, "model": model, "choices": [], "usage": usage}
    finally:
        reply.release()


async def _lines(reply: aiohttp.ClientResponse) -> AsyncIterator[str]:
    """The stream's ``data:`` lines without their line breaks, as LiteLLM's SSE splitter
    gives them. The parser reads nothing else (``event:`` names and blank lines become
    empty chunks that would only be dropped), so nothing else is handed to it. When the
    connection breaks, the whole lines already received are handed on first
    (``line_blocks``), then the break."""
    async for lines in line_blocks(reply):
        for line in lines:
            if line.startswith(b"data:"):
                yield line.decode("utf-8", "replace").rstrip("\r")


def raise_as_litellm(model: str, error: Exception) -> NoReturn:
    """``error`` as the exception LiteLLM's Router raises for it (its ``exception_type``,
    which raises the mapped error itself), so both paths are classified alike."""
    try:
        mapped = exception_type(
            model=model, original_exception=error, custom_llm_provider="anthropic"
        )
    except Exception as raised:
        raise raised from error
    raise mapped from error
