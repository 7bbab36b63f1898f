"""Fault and latency modes of the fake provider, and how one is chosen per request.

First match wins: header ``x-fake-mode``; the run-time override set through
``POST /_fake/control``; a ``~mode`` suffix on the requested model name
(``gpt-4o-2024-08-06~500``); the server's default mode.

``latency:ttft=800,jitter=1200,tps=80,prefill=300,tokens=400,hang_after=5,role_first=1``
is a real provider's timing: ``ttft`` ms before the first token (plus up to ``jitter`` ms
more, uniformly at random: real latency has a spread), ``prefill`` ms more per
1,000 prompt tokens, ``tps`` tokens a second after it, a ``tokens``-token answer;
``hang_after`` stops sending (the connection stays open) after that many tokens;
``role_first`` sends the role-only chunk at once, as some servers do, before the
first real token. Instant fakes hide every bug about time; these modes don't.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

MODES = (
    "ok",
    "slow",  # slow:MS: wait MS before answering at all
    "latency",  # see the module docstring
    "hang",
    "hangafter",  # hangafter:N: stream N tokens, then stop sending
    "500",
    "503",
    "529",  # Anthropic's overloaded_error
    "429",
    "401",
    "403",
    "400",
    "context",
    "nostream",  # a streaming request is refused with 400, as models that cannot stream do
    "garbage",
    "break",
    "cut",  # cut:N: a stream closed cleanly after N tokens, without its end
    "stall",  # stall:MS: a pause of MS after the first token
    "drift",
    "nousage",  # no usage in the answer, even when the request asks for it
    "split",  # split:N: a stream's bytes sent N at a time, as a network may deliver them
)


@dataclass(frozen=True)
class Timing:
    """When each part of an answer is sent, in seconds."""

    first_token_s: float = 0.0  # before the first token, prefill included
    per_token_s: float = 0.0  # between tokens once started
    stall_s: float = 0.0  # one pause after the first token
    hang_after: int | None = None  # tokens sent before the provider stops
    tokens: int | None = None  # the answer's length, when the mode sets it
    role_first: bool = False


@dataclass(frozen=True)
class Mode:
    """A parsed mode string such as ``slow:300``, ``429:20`` or ``latency:ttft=800,tps=50``."""

    name: str
    arg: str = ""

    @classmethod
    def parse(cls, text: str) -> Mode:
        name, _, arg = text.strip().partition(":")
        if name not in MODES:
            raise ValueError(f"unknown fake mode {text!r}; one of {', '.join(MODES)}")
        mode = cls(name, arg)
        mode.options()  # a malformed latency spec fails here, not mid-request
        return mode

    @property
    def label(self) -> str:
        return self.name

    def number(self, default: float) -> float:
        try:
            return float(self.arg) if self.arg else default
        except ValueError:
            return default

    def options(self) -> dict[str, float]:
        """``k=v`` pairs of a ``latency`` mode, as numbers."""
        if self.name != "latency" or not self.arg:
            return {}
        out: dict[str, float] = {}
        for part in self.arg.split(","):
            key, sep, value = part.partition("=")
            if not sep or key.strip() not in _LATENCY_KEYS:
                raise ValueError(f"latency option {part!r}: use {', '.join(_LATENCY_KEYS)}")
            out[key.strip()] = float(value)
        return out

    def timing(self, prompt_tokens: int) -> Timing:
        """The timing of one answer to a prompt of ``prompt_tokens`` tokens."""
        if self.name == "slow":
            return Timing(first_token_s=self.number(500) / 1000)
        if self.name == "stall":
            return Timing(stall_s=self.number(1000) / 1000)
        if self.name == "hangafter":
            return Timing(hang_after=int(self.number(2)))
        if self.name != "latency":
            return Timing()
        o = self.options()
        prefill = o.get("prefill", 0.0) * prompt_tokens / 1000
        spread = random.uniform(0.0, o.get("jitter", 0.0))
        tps = o.get("tps", 0.0)
        return Timing(
            first_token_s=(o.get("ttft", 0.0) + spread + prefill) / 1000,
            per_token_s=1 / tps if tps > 0 else 0.0,
            hang_after=int(o["hang_after"]) if "hang_after" in o else None,
            tokens=int(o["tokens"]) if "tokens" in o else None,
            role_first=bool(o.get("role_first")),
        )


_LATENCY_KEYS = ("ttft", "jitter", "tps", "prefill", "tokens", "hang_after", "role_first")


def split_model(model: str) -> tuple[str, str | None]:
    """``gpt-4o~500`` -> (``gpt-4o``, ``500``)."""
    base, sep, mode = model.partition("~")
    return base, (mode if sep else None)


def choose(
    header: str | None, override: str | None, model_suffix: str | None, default: str
) -> Mode:
    """The mode for one request, by the precedence in the module docstring."""
    for candidate in (header, override, model_suffix, default):
        if candidate:
            return Mode.parse(candidate)
    return Mode("ok")
