"""Cache keys differ when anything that changes the output differs, and agree otherwise."""

from __future__ import annotations

from typing import Any

import pytest

from plugins.response_cache import cache_key
from router_config.flow.hooks import RequestContext

PINS = ("gpt-4o-2024-08-06", "claude-3-5-sonnet-20241022")
BASE: dict[str, Any] = {"temperature": 0, "max_tokens": 50}


def key(
    params: dict[str, Any] | None = None,
    *,
    group: str = "chat",
    messages: list[dict[str, Any]] | None = None,
    pins: tuple[str, ...] = PINS,
) -> str:
    ctx = RequestContext(
        request_id="r",
        team="t",
        key_alias="a",
        group=group,
        messages=messages or [{"role": "user", "content": "hi"}],
        params=dict(BASE if params is None else params),
        stream=False,
        headers={},
        started=0,
        deadline=5,
    )
    return cache_key(ctx, pins)


@pytest.mark.parametrize(
    "change",
    [
        {"temperature": 0.5},
        {"max_tokens": 51},
        {"seed": 1},
        {"top_p": 0.9},
        {"stop": ["x"]},
        {"tools": [{"type": "function", "function": {"name": "f"}}]},
        {"response_format": {"type": "json_object"}},
    ],
)
def test_an_output_changing_parameter_changes_the_key(change: dict[str, Any]) -> None:
    assert key({**BASE, **change}) != key()


def test_messages_group_and_pinned_versions_change_the_key() -> None:
    assert key(messages=[{"role": "user", "content": "hello"}]) != key()
    assert key(group="chat-mini") != key()
    assert key(pins=("gpt-4o-2024-11-20",)) != key()


def test_irrelevant_fields_and_parameter_order_do_not_change_the_key() -> None:
    assert key({"max_tokens": 50, "temperature": 0}) == key()
    assert key({**BASE, "user": "u-1", "stream_options": {"include_usage": True}}) == key()
