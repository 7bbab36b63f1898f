"""Replays a complete chat completion (or legacy text completion) as OpenAI stream chunks.

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
    """Yield ``body`` as ``chat.completion.chunk`` dicts (``text_completion`` ones for a
    text completion)."""
    if body.get("object") == "text_completion":
        async for chunk in _replay_text(body, wants_usage):
            yield chunk
        return
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


async def _replay_text(body: Mapping[str, Any], wants_usage: bool) -> AsyncIterator[dict[str, Any]]:
    base = {key: body.get(key) for key in ("id", "created", "model")}
    base["object"] = "text_completion"
    for choice in body.get("choices") or ():
        text = {"text": choice.get("text") or "", "index": choice.get("index") or 0}
        yield {**base, "choices": [{**text, "logprobs": choice.get("logprobs")}]}
        finish = choice.get("finish_reason") or "stop"
        yield {**base, "choices": [{**text, "text": "", "finish_reason": finish}]}
    if wants_usage and body.get("usage"):
        yield {**base, "choices": [], "usage": body["usage"]}
