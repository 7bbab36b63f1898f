"""Response bodies of the fake provider, in OpenAI's and Anthropic's shapes."""

from __future__ import annotations

import time
import uuid
from typing import Any


def prompt_tokens(messages: list[Any], system: Any = None) -> int:
    """About 4 characters a token plus 3 per message, like real tokenizers on English."""
    chars = 0
    for message in [*messages, {"content": system or ""}]:
        content = message.get("content") if isinstance(message, dict) else ""
        if isinstance(content, list):
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        chars += len(str(content or ""))
    return -(-chars // 4) + 3 * len(messages)


def last_user_text(messages: list[Any]) -> str:
    """The text of the last user message (parts joined)."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


def reply_words(
    messages: list[Any], max_tokens: int | None, length: int | None = None
) -> tuple[list[str], bool]:
    """The deterministic reply, as words (``length`` of them when given), and whether
    max_tokens cut it."""
    words = f"fake reply to: {last_user_text(messages)[:60]}".split()
    if length is not None:
        words = (words + [f"w{k}" for k in range(length)])[: max(1, length)]
    if max_tokens is not None and max_tokens < len(words):
        return words[:max_tokens], True
    return words, False


def openai_usage(prompt: int, completion: int, cached: int, reasoning: int) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if cached:
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    if reasoning:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return usage


def openai_completion(model: str, text: str, finish: str, usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
        "usage": usage,
    }


def openai_chunk(
    cid: str,
    model: str,
    delta: dict[str, Any],
    finish: str | None,
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": []
        if usage is not None
        else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    if usage is not None:
        chunk["usage"] = usage
    return chunk


def anthropic_message(
    model: str, text: str, stop: str, prompt: int, completion: int, cached: int, written: int = 0
) -> dict[str, Any]:
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {
            "input_tokens": prompt,
            "output_tokens": completion,
            "cache_read_input_tokens": cached,
            "cache_creation_input_tokens": written,
        },
    }


def openai_error(status: int, message: str, code: str | None) -> dict[str, Any]:
    kind = {
        429: "rate_limit_exceeded",
        401: "invalid_request_error",
        403: "permission_error",
        400: "invalid_request_error",
    }.get(status, "server_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def anthropic_error(status: int, message: str) -> dict[str, Any]:
    kind = {
        429: "rate_limit_error",
        401: "authentication_error",
        403: "permission_error",
        400: "invalid_request_error",
        529: "overloaded_error",
    }.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}
