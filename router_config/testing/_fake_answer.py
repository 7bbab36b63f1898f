"""What the fake provider answers, independent of the wire format and of timing.

One ``Answer`` per request: its choices (text pieces, or a tool call whose
arguments arrive in pieces), log probabilities when asked, and usage. The
OpenAI and Anthropic formats, streamed or not, are all rendered from it, so a
streamed answer and a whole one always say the same thing, as a real
provider's do: that is what lets tests compare a body assembled from chunks
with the body the provider sends whole.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from router_config.testing import _fake_bodies as bodies


@dataclass(frozen=True)
class ToolCall:
    """A function call the fake model makes; ``pieces`` join to the JSON arguments."""

    id: str
    name: str
    pieces: tuple[str, ...]

    @property
    def arguments(self) -> str:
        return "".join(self.pieces)


@dataclass(frozen=True)
class Choice:
    """One choice: text pieces (tokens) or a tool call, and why it ended."""

    index: int
    pieces: tuple[str, ...] = ()
    tool: ToolCall | None = None
    finish: str = "stop"

    @property
    def text(self) -> str | None:
        return None if self.tool is not None else "".join(self.pieces)

    @property
    def tokens(self) -> tuple[str, ...]:
        return self.tool.pieces if self.tool is not None else self.pieces


@dataclass(frozen=True)
class Answer:
    """Everything one request gets back."""

    choices: tuple[Choice, ...]
    prompt: int
    cached: int = 0
    written: int = 0  # prompt tokens written to the cache (Anthropic reports these)
    reasoning: int = 0
    logprobs: bool = False
    top_logprobs: int = 0
    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex[:24]}")

    @property
    def completion(self) -> int:
        return sum(len(c.tokens) for c in self.choices) + self.reasoning

    def usage(self) -> dict[str, Any]:
        return bodies.openai_usage(self.prompt, self.completion, self.cached, self.reasoning)

    def token_logprobs(self, piece: str, position: int) -> dict[str, Any]:
        """A deterministic log probability for one token, with its alternatives."""
        entry: dict[str, Any] = {
            "token": piece,
            "logprob": round(-0.01 * (position + 1), 4),
            "bytes": list(piece.encode()),
        }
        entry["top_logprobs"] = [
            {**entry, "logprob": round(entry["logprob"] - k, 4)} for k in range(self.top_logprobs)
        ]
        return entry


def answer_for(
    req: dict[str, Any], headers: dict[str, str], length: int | None, *, anthropic: bool = False
) -> Answer:
    """The answer to request ``req``; ``length`` sets how many tokens a text answer has."""
    messages = list(req.get("messages") or [])
    prompt = bodies.prompt_tokens(messages, req.get("system"))
    limit = req.get("max_tokens") or req.get("max_completion_tokens")
    tool = _tool_call(req, messages)
    n = max(1, int(req.get("n") or 1))
    choices = []
    for i in range(n):
        if tool is not None:
            choices.append(Choice(i, tool=tool, finish="tool_calls"))
            continue
        words = bodies.reply_words(messages, None, length)[0]
        if i:
            words.append(f"({i + 1})")
        if _wants_json(req):
            words = orjson.dumps({"answer": " ".join(words)}).decode().split(" ")
        cut = limit is not None and int(limit) < len(words)
        words = words[: int(limit)] if cut and limit is not None else words
        pieces = tuple(w if k == 0 else " " + w for k, w in enumerate(words))
        choices.append(Choice(i, pieces=pieces, finish="length" if cut else "stop"))
    cached = min(int(headers.get("x-fake-cached-tokens", 0) or 0), prompt)
    written = int(headers.get("x-fake-cache-creation-tokens", 0) or 0)
    return Answer(
        choices=tuple(choices),
        prompt=prompt,
        cached=cached,
        written=min(written, prompt - cached) if anthropic else 0,
        reasoning=int(headers.get("x-fake-reasoning-tokens", 0) or 0),
        logprobs=bool(req.get("logprobs")),
        top_logprobs=int(req.get("top_logprobs") or 0),
    )


def _wants_json(req: dict[str, Any]) -> bool:
    kind = (req.get("response_format") or {}).get("type")
    return kind in ("json_object", "json_schema")


def _tool_call(req: dict[str, Any], messages: list[Any]) -> ToolCall | None:
    """Call the tool the request names (or its first one), unless told not to or the last
    message already carries a tool's result (then the model answers in text)."""
    tools = req.get("tools") or []
    choice = req.get("tool_choice")
    if not tools or choice == "none":
        return None
    if messages and isinstance(messages[-1], dict) and messages[-1].get("role") == "tool":
        return None
    first = tools[0] if isinstance(tools[0], dict) else {}
    name = (first.get("function") or {}).get("name") or first.get("name") or "tool"
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") or choice.get("name") or name
    arguments = orjson.dumps({"query": bodies.last_user_text(messages)[:40]}).decode()
    pieces = tuple(arguments[k : k + 8] for k in range(0, len(arguments), 8))
    return ToolCall(id=f"call_{uuid.uuid4().hex[:20]}", name=str(name), pieces=pieces)
