"""Fault modes of the fake provider and how one is chosen per request.

First match wins: header ``x-fake-mode``; the run-time override set through
``POST /_fake/control``; a ``~mode`` suffix on the requested model name
(``gpt-4o-2024-08-06~500``); the server's default mode.
"""

from __future__ import annotations

from dataclasses import dataclass

MODES = (
    "ok",
    "slow",
    "hang",
    "500",
    "503",
    "429",
    "401",
    "403",
    "400",
    "context",
    "garbage",
    "break",
    "stall",
    "drift",
    "nousage",  # no usage in the answer, even when the request asks for it
)


@dataclass(frozen=True)
class Mode:
    """A parsed mode string such as ``slow:300`` or ``429:20``."""

    name: str
    arg: str = ""

    @classmethod
    def parse(cls, text: str) -> Mode:
        name, _, arg = text.strip().partition(":")
        if name not in MODES:
            raise ValueError(f"unknown fake mode {text!r}; one of {', '.join(MODES)}")
        return cls(name, arg)

    @property
    def label(self) -> str:
        return self.name

    def number(self, default: float) -> float:
        try:
            return float(self.arg) if self.arg else default
        except ValueError:
            return default


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
