"""Embeddings, legacy text completions and the Responses API, as the fake provider renders them.

Each format is rendered from the same ``Answer`` as chat (``_fake_answer``), so a
streamed answer and a whole one say the same thing. A stream is returned as
events grouped by token (``Streamed``), and ``_fake_reply`` sends them with the
mode's timing and faults, exactly as it does for chat. Embeddings are
deterministic: the vector of a text is derived from its sha256, so tests can
compare what two paths returned.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
import uuid
from dataclasses import dataclass, field
from typing import Any

from router_config.testing import _fake_bodies as bodies
from router_config.testing._fake_answer import Answer, Choice

DEFAULT_DIMENSIONS = 64  # small on purpose: tests send many; `dimensions` asks for more
Event = tuple[str | None, dict[str, Any]]  # (SSE event name, data)


@dataclass
class Streamed:
    """A stream's events: ``head`` at the first token, ``tokens[k]`` for token k, then ``tail``."""

    head: list[Event] = field(default_factory=list)
    tokens: list[list[Event]] = field(default_factory=list)
    tail: list[Event] = field(default_factory=list)
    done: bytes = b"data: [DONE]\n\n"


def messages_of(kind: str, req: dict[str, Any]) -> list[Any]:
    """The request as chat messages, for counting its prompt and choosing the answer."""
    if kind == "completions":
        return [{"role": "user", "content": text} for text in _prompts(req.get("prompt"))]
    if kind == "responses":
        return _response_messages(req)
    if kind == "embeddings":
        return [{"role": "user", "content": text} for text in _inputs(req.get("input"))]
    return list(req.get("messages") or [])


# -- embeddings --------------------------------------------------------------------
def vector(text: str, dimensions: int) -> list[float]:
    """A unit vector derived from ``text`` alone."""
    raw: list[float] = []
    counter = 0
    while len(raw) < dimensions:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        raw += [(b - 127.5) / 127.5 for b in digest]
        counter += 1
    raw = raw[:dimensions]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [round(x / norm, 6) for x in raw]


def embedding_body(req: dict[str, Any], served: str) -> dict[str, Any]:
    """OpenAI's embeddings answer: one vector per input, float or base64 as asked."""
    dimensions = int(req.get("dimensions") or DEFAULT_DIMENSIONS)
    as_base64 = req.get("encoding_format") == "base64"
    data = []
    for index, text in enumerate(_inputs(req.get("input"))):
        values = vector(text, dimensions)
        encoded: Any = values
        if as_base64:
            encoded = base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = _input_tokens(req.get("input"))
    return {
        "object": "list",
        "data": data,
        "model": served,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _inputs(value: Any) -> list[str]:
    """Every input as text (a token array becomes its numbers, so it has a vector too)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return [" ".join(map(str, value))]
    if isinstance(value, list):
        return [v if isinstance(v, str) else " ".join(map(str, v)) for v in value]
    return []


def _input_tokens(value: Any) -> int:
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return len(value)
    total = 0
    for item in value if isinstance(value, list) else [value]:
        total += len(item) if isinstance(item, list) else bodies.prompt_tokens([], item) or 1
    return total


# -- legacy text completions ------------------------------------------------------
def _prompts(value: Any) -> list[str]:
    if isinstance(value, list) and value and not all(isinstance(v, int) for v in value):
        return [v if isinstance(v, str) else " ".join(map(str, v)) for v in value]
    return _inputs(value) or [""]


def completion_texts(req: dict[str, Any], answer: Answer) -> list[tuple[int, Choice, str]]:
    """(index, choice, echoed prompt) for every prompt times ``n``."""
    prompts = _prompts(req.get("prompt"))
    n = len(answer.choices)
    echo = bool(req.get("echo"))
    return [
        (p * n + c.index, c, prompts[p] if echo else "")
        for p in range(len(prompts))
        for c in answer.choices
    ]


def completion_body(
    req: dict[str, Any], answer: Answer, served: str, created: int
) -> dict[str, Any]:
    choices = []
    for index, choice, echoed in completion_texts(req, answer):
        choices.append(
            {
                "text": echoed + (choice.text or ""),
                "index": index,
                "logprobs": _text_logprobs(choice) if req.get("logprobs") is not None else None,
                "finish_reason": choice.finish,
            }
        )
    prompts = len(_prompts(req.get("prompt")))
    return {
        "id": f"cmpl-{uuid.uuid4().hex[:24]}",
        "object": "text_completion",
        "created": created,
        "model": served,
        "system_fingerprint": "fp_fake",
        "choices": choices,
        "usage": bodies.openai_usage(
            answer.prompt, answer.completion * prompts, answer.cached, answer.reasoning
        ),
    }


def completion_stream(
    req: dict[str, Any], answer: Answer, served: str, created: int, with_usage: bool
) -> Streamed:
    cid = f"cmpl-{uuid.uuid4().hex[:24]}"

    def chunk(choices: list[dict[str, Any]], **extra: Any) -> Event:
        base = {"id": cid, "object": "text_completion", "created": created, "model": served}
        return None, {**base, "choices": choices, **extra}

    def piece(index: int, text: str, finish: str | None = None) -> dict[str, Any]:
        return {"text": text, "index": index, "logprobs": None, "finish_reason": finish}

    out = Streamed()
    texts = completion_texts(req, answer)
    out.head = [chunk([piece(i, echoed)]) for i, _, echoed in texts if echoed]
    longest = max((len(c.tokens) for _, c, _ in texts), default=0)
    out.tokens = [
        [chunk([piece(i, c.tokens[k])]) for i, c, _ in texts if k < len(c.tokens)]
        for k in range(longest)
    ]
    out.tail = [chunk([piece(i, "", c.finish)]) for i, c, _ in texts]
    if with_usage:
        prompts = len(_prompts(req.get("prompt")))
        usage = bodies.openai_usage(answer.prompt, answer.completion * prompts, answer.cached, 0)
        out.tail.append(chunk([], usage=usage))
    return out


def _text_logprobs(choice: Choice) -> dict[str, Any]:
    tokens = list(choice.tokens)
    offsets, at = [], 0
    for token in tokens:
        offsets.append(at)
        at += len(token)
    values = [round(-0.01 * (k + 1), 4) for k in range(len(tokens))]
    return {
        "tokens": tokens,
        "token_logprobs": values,
        "top_logprobs": [{t: v} for t, v in zip(tokens, values, strict=True)],
        "text_offset": offsets,
    }


# -- the Responses API -----------------------------------------------------------
def _response_messages(req: dict[str, Any]) -> list[Any]:
    items = req.get("input")
    out: list[Any] = []
    if isinstance(req.get("instructions"), str):
        out.append({"role": "system", "content": req["instructions"]})
    if isinstance(items, str):
        return [*out, {"role": "user", "content": items}]
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "function_call_output":
            out.append({"role": "tool", "content": str(item.get("output") or "")})
        elif "role" in item:
            out.append({"role": item["role"], "content": item.get("content")})
    return out


def responses_usage(answer: Answer) -> dict[str, Any]:
    return {
        "input_tokens": answer.prompt,
        "input_tokens_details": {"cached_tokens": answer.cached},
        "output_tokens": answer.completion,
        "output_tokens_details": {"reasoning_tokens": answer.reasoning},
        "total_tokens": answer.prompt + answer.completion,
    }


def response_object(
    req: dict[str, Any], answer: Answer, served: str, created: int, rid: str, *, done: bool
) -> dict[str, Any]:
    return {
        "id": rid,
        "object": "response",
        "created_at": created,
        "status": "completed" if done else "in_progress",
        "model": served,
        "output": [_output_item(answer.choices[0], rid, done=True)] if done else [],
        "parallel_tool_calls": True,
        "tool_choice": req.get("tool_choice") or "auto",
        "tools": req.get("tools") or [],
        "usage": responses_usage(answer) if done else None,
        "error": None,
        "incomplete_details": None,
        "instructions": req.get("instructions"),
        "metadata": req.get("metadata") or {},
        "temperature": req.get("temperature"),
        "top_p": req.get("top_p"),
        "max_output_tokens": req.get("max_output_tokens"),
        "previous_response_id": req.get("previous_response_id"),
        "reasoning": req.get("reasoning"),
        "text": req.get("text") or {"format": {"type": "text"}},
        "truncation": "disabled",
        "store": req.get("store", True),
    }


def _output_item(choice: Choice, rid: str, *, done: bool) -> dict[str, Any]:
    status = "completed" if done else "in_progress"
    if choice.tool is not None:
        return {
            "id": f"fc_{rid[5:]}",
            "type": "function_call",
            "status": status,
            "call_id": choice.tool.id,
            "name": choice.tool.name,
            "arguments": choice.tool.arguments if done else "",
        }
    content = [{"type": "output_text", "text": choice.text or "", "annotations": []}]
    return {
        "id": f"msg_{rid[5:]}",
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content if done else [],
    }


def responses_stream(req: dict[str, Any], answer: Answer, served: str, created: int) -> Streamed:
    """OpenAI's event sequence: created, in_progress, the output item and its parts, the
    deltas one per token, then the item done and ``response.completed`` with usage."""
    rid = f"resp_{uuid.uuid4().hex[:24]}"
    choice = answer.choices[0]
    item = _output_item(choice, rid, done=False)
    seq = _Sequence()
    pending = response_object(req, answer, served, created, rid, done=False)
    out = Streamed(done=b"")
    out.head = [
        seq.event("response.created", response=pending),
        seq.event("response.in_progress", response=pending),
        seq.event("response.output_item.added", output_index=0, item=item),
    ]
    where = {"item_id": item["id"], "output_index": 0}
    if choice.tool is not None:
        out.tokens = [
            [seq.event("response.function_call_arguments.delta", **where, delta=piece)]
            for piece in choice.tool.pieces
        ]
        out.tail = [
            seq.event(
                "response.function_call_arguments.done", **where, arguments=choice.tool.arguments
            )
        ]
    else:
        part = {"type": "output_text", "text": "", "annotations": []}
        out.head.append(
            seq.event("response.content_part.added", **where, content_index=0, part=part)
        )
        out.tokens = [
            [seq.event("response.output_text.delta", **where, content_index=0, delta=piece)]
            for piece in choice.pieces
        ]
        text = choice.text or ""
        out.tail = [
            seq.event("response.output_text.done", **where, content_index=0, text=text),
            seq.event(
                "response.content_part.done", **where, content_index=0, part={**part, "text": text}
            ),
        ]
    final = response_object(req, answer, served, created, rid, done=True)
    out.tail += [
        seq.event("response.output_item.done", output_index=0, item=final["output"][0]),
        seq.event("response.completed", response=final),
    ]
    return out


class _Sequence:
    """Numbers events in the order they are built (the order they are sent)."""

    def __init__(self) -> None:
        self.n = 0

    def event(self, kind: str, **data: Any) -> Event:
        self.n += 1
        return kind, {"type": kind, "sequence_number": self.n - 1, **data}
