"""Builds the non-streaming ``chat.completion`` body from a stream's chunks.

A caller that did not ask for a stream is still served from one: the gateway
asks the provider to stream (with usage), so a hung provider shows at its first
token however long the answer is, and a healthy 10-second answer is never
mistaken for a hang. The caller gets exactly the body the provider would have
sent whole: content, refusals, tool and function calls, log probabilities, every
choice of ``n``, finish reasons, usage with its details, ``system_fingerprint``
(tests/test_nonstreaming_answers_are_assembled_from_streams.py holds both call
paths to that). LiteLLM's chunks are OpenAI-shaped too, so one assembler serves both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from router_config.providers.assemble_text import TextAssembler

# Chunk-level keys that are not the body's (LiteLLM's additions, or stream-only).
_SKIP_TOP = frozenset({"object", "choices", "usage", "id", "created", "model"})


class _Text(list[str]):
    """The pieces of a string field, joined when the body is built."""


class _Items(list[Any]):
    """A list field extended chunk by chunk (a copy: the chunk's own list is left alone)."""


def _joined(value: Any) -> Any:
    if isinstance(value, _Text):
        return "".join(value)
    if isinstance(value, _Items):
        return list(value)
    return value


@dataclass
class _Choice:
    """What the chunks of one choice said so far."""

    role: str = "assistant"
    content: list[str] | None = None
    refusal: list[str] | None = None
    saw_refusal: bool = False
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    function_call: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    logprobs: dict[str, list[Any]] | None = None
    finish_reason: str | None = None

    def add(self, choice: dict[str, Any]) -> None:
        delta = choice.get("delta") or {}
        for key, value in delta.items():
            if key == "role" and value:
                self.role = str(value)
            elif key == "content":
                if isinstance(value, str):
                    if self.content is None:
                        self.content = []
                    self.content.append(value)  # in place: a long answer stays linear
            elif key == "refusal":
                self.saw_refusal = True
                if isinstance(value, str):
                    if self.refusal is None:
                        self.refusal = []
                    self.refusal.append(value)
            elif key == "tool_calls":
                for call in value or ():
                    self._tool_call(call)
            elif key == "function_call" and value:
                self._function_call(value)
            elif value is not None:
                self._extra(key, value)
        self._logprobs(choice.get("logprobs"))
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]

    def _tool_call(self, call: dict[str, Any]) -> None:
        index = int(call.get("index") or 0)
        known = self.tool_calls.setdefault(
            index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
        )
        if call.get("id"):
            known["id"] = call["id"]
        if call.get("type"):
            known["type"] = call["type"]
        function = call.get("function") or {}
        if function.get("name"):
            known["function"]["name"] += function["name"]
        if function.get("arguments"):
            known["function"]["arguments"] += function["arguments"]

    def _function_call(self, value: dict[str, Any]) -> None:
        known = self.function_call = self.function_call or {"name": "", "arguments": ""}
        known["name"] += value.get("name") or ""
        known["arguments"] += value.get("arguments") or ""

    def _extra(self, key: str, value: Any) -> None:
        """Provider fields we do not know (reasoning text, annotations...): strings join,
        lists extend, anything else keeps its last value. Pieces are collected and joined
        once (``message``): reasoning runs to thousands of chunks."""
        before = self.extra.get(key)
        if isinstance(value, str) and isinstance(before, _Text):
            before.append(value)
        elif isinstance(value, list) and isinstance(before, _Items):
            before.extend(value)
        elif isinstance(value, str):
            self.extra[key] = _Text([value])
        elif isinstance(value, list):
            self.extra[key] = _Items(value)
        else:
            self.extra[key] = value

    def _logprobs(self, logprobs: Any) -> None:
        if not isinstance(logprobs, dict):
            return
        known = self.logprobs = self.logprobs or {}
        for key in ("content", "refusal"):
            if isinstance(logprobs.get(key), list):
                known.setdefault(key, []).extend(logprobs[key])

    def message(self) -> dict[str, Any]:
        content = "".join(self.content) if self.content is not None else None
        if not content and (self.tool_calls or self.function_call):
            content = None  # a call and no text: null, as a whole answer has it
        out: dict[str, Any] = {"role": self.role, "content": content}
        if self.saw_refusal:
            out["refusal"] = "".join(self.refusal) if self.refusal is not None else None
        out.update({k: _joined(v) for k, v in self.extra.items()})
        if self.tool_calls:
            out["tool_calls"] = [self.tool_calls[i] for i in sorted(self.tool_calls)]
        if self.function_call is not None:
            out["function_call"] = self.function_call
        return out

    def logprobs_body(self) -> dict[str, Any] | None:
        if self.logprobs is None:
            return None
        return {"content": self.logprobs.get("content"), "refusal": self.logprobs.get("refusal")}


class Assembler:
    """Feed it chunk dicts in order; ``body()`` is the whole answer they add up to."""

    chunk_object = "chat.completion.chunk"

    def __init__(self) -> None:
        self._head: dict[str, Any] = {}
        self._top: dict[str, Any] = {}
        self._choices: dict[int, _Choice] = {}
        self.usage: dict[str, Any] | None = None
        self.litellm_cost: float | None = None  # LiteLLM adds ``cost`` to a stream's usage

    def add(self, chunk: dict[str, Any]) -> None:
        for key in ("id", "created", "model"):
            if chunk.get(key) is not None and key not in self._head:
                self._head[key] = chunk[key]
        for key, value in chunk.items():
            if key not in _SKIP_TOP and (value is not None or key == "system_fingerprint"):
                self._top[key] = value
        if chunk.get("usage"):
            usage = dict(chunk["usage"])
            cost = usage.pop("cost", None)
            if isinstance(cost, int | float) and not isinstance(cost, bool):
                self.litellm_cost = float(cost)
            self.usage = usage
        for choice in chunk.get("choices") or ():
            index = int(choice.get("index") or 0)
            self._choices.setdefault(index, _Choice()).add(choice)

    @property
    def text(self) -> str:
        """Every choice's content so far, for counting tokens when no usage came."""
        return "".join(
            "".join(c.content or ())
            + "".join(t["function"]["arguments"] for t in c.tool_calls.values())
            for c in self._choices.values()
        )

    def body(self) -> dict[str, Any]:
        """The ``chat.completion`` the chunks add up to (usage as the provider reported it)."""
        out: dict[str, Any] = {
            "id": self._head.get("id"),
            "object": "chat.completion",
            "created": self._head.get("created"),
            "model": self._head.get("model"),
            **self._top,
            "choices": [
                {
                    "index": index,
                    "message": choice.message(),
                    "logprobs": choice.logprobs_body(),
                    "finish_reason": choice.finish_reason,
                }
                for index, choice in sorted(self._choices.items())
            ],
        }
        if self.usage is not None:
            out["usage"] = self.usage
        return out


def assembler_for(call: str) -> Assembler | TextAssembler:
    """The assembler of a call type's chunks: legacy completions have their own shape."""
    return TextAssembler() if call == "text_completion" else Assembler()
