"""Replays a complete chat completion as OpenAI stream chunks.

A cached (or abstention) answer to a streaming request must arrive the way a
streaming client expects it: a role chunk, the content, a finish chunk, and a
usage chunk if the client asked for one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any


async def replay_as_chunks(
    body: Mapping[str, Any], wants_usage: bool
) -> AsyncIterator[dict[str, Any]]:
    """Yield ``body`` as ``chat.completion.chunk`` dicts."""
    base = {
        "id": body.get("id"),
        "object": "chat.completion.chunk",
        "created": body.get("created"),
        "model": body.get("model"),
    }
    choice = (body.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    yield {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
    yield {**base, "choices": [{"index": 0, "delta": {"content": message.get("content") or ""}}]}
    yield {
        **base,
        "choices": [
            {"index": 0, "delta": {}, "finish_reason": choice.get("finish_reason") or "stop"}
        ],
    }
    if wants_usage and body.get("usage"):
        yield {**base, "choices": [], "usage": body["usage"]}
