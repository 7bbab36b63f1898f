"""Builds the non-streaming ``text_completion`` body (legacy completions) from its chunks.

The counterpart of ``assemble.Assembler`` for ``/v1/completions``: the gateway asks
the provider for a stream, so a hung provider shows at its first token, and a
caller that wanted one body gets the text of each choice joined, its log
probabilities (OpenAI's legacy shape: tokens, token_logprobs, top_logprobs,
text_offset) and finish reason, and the provider's usage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_LOGPROB_LISTS = ("tokens", "token_logprobs", "top_logprobs", "text_offset")


@dataclass
class _TextChoice:
    text: list[str] = field(default_factory=list)
    logprobs: dict[str, list[Any]] | None = None
    finish_reason: str | None = None

    def add(self, choice: dict[str, Any]) -> None:
        if isinstance(choice.get("text"), str):
            self.text.append(choice["text"])
        logprobs = choice.get("logprobs")
        if isinstance(logprobs, dict):
            known = self.logprobs = self.logprobs or {key: [] for key in _LOGPROB_LISTS}
            for key in _LOGPROB_LISTS:
                if isinstance(logprobs.get(key), list):
                    known[key] += logprobs[key]
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]


class TextAssembler:
    """Feed it ``text_completion`` chunk dicts in order; ``body()`` is the whole answer."""

    chunk_object = "text_completion"

    def __init__(self) -> None:
        self._head: dict[str, Any] = {}
        self._choices: dict[int, _TextChoice] = {}
        self.usage: dict[str, Any] | None = None
        self.litellm_cost: float | None = None

    def add(self, chunk: dict[str, Any]) -> None:
        for key in ("id", "created", "model", "system_fingerprint"):
            if chunk.get(key) is not None and key not in self._head:
                self._head[key] = chunk[key]
        if chunk.get("usage"):
            usage = dict(chunk["usage"])
            cost = usage.pop("cost", None)  # LiteLLM adds its own figure to a stream's usage
            if isinstance(cost, int | float) and not isinstance(cost, bool):
                self.litellm_cost = float(cost)
            self.usage = usage
        for choice in chunk.get("choices") or ():
            index = int(choice.get("index") or 0)
            self._choices.setdefault(index, _TextChoice()).add(choice)

    @property
    def text(self) -> str:
        """Every choice's text so far, for counting tokens when no usage came."""
        return "".join("".join(c.text) for c in self._choices.values())

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self._head.get("id"),
            "object": "text_completion",
            "created": self._head.get("created"),
            "model": self._head.get("model"),
            "choices": [
                {
                    "text": "".join(choice.text),
                    "index": index,
                    "logprobs": choice.logprobs,
                    "finish_reason": choice.finish_reason,
                }
                for index, choice in sorted(self._choices.items())
            ],
        }
        if "system_fingerprint" in self._head:
            out["system_fingerprint"] = self._head["system_fingerprint"]
        if self.usage is not None:
            out["usage"] = self.usage
        return out
